#!/usr/bin/env node
import { run } from './_run.mjs';

await run('../roles/feeder/main.ts');
