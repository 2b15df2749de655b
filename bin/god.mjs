#!/usr/bin/env node
import { run } from './_run.mjs';

await run('../god/cli/main.ts');
