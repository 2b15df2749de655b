// Runs the real `god` binary (bin/god.mjs) for God's CLI tests and parses its NDJSON output.
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { z } from 'zod';
import { runCli } from '../../god/cli/main.ts';
import { EventLineSchema, ErrorLineSchema, resultLineSchema } from '../../god/cli/output.ts';

export const GOD_BIN = path.resolve(import.meta.dirname, '../../bin/god.mjs');

export interface GodRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as NDJSON (with --json) */
  lines: Array<Record<string, unknown>>;
}

export function god(
  args: string[],
  o: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<GodRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [GOD_BIN, ...args],
      {
        cwd: o.cwd,
        env: { ...process.env, NO_COLOR: '1', CI: '1', ...o.env },
        timeout: o.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        const lines: Array<Record<string, unknown>> = [];
        if (args.includes('--json') || o.env?.GOD_JSON === '1') {
          for (const l of stdout.split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        }
        resolve({ code, stdout, stderr, lines });
      },
    );
  });
}

/**
 * The same CLI in this process (runCli: same parsing, services and output; no process start-up, which costs
 * a second of CPU per command on a loaded 2-core machine). The binary itself is covered by `god()`.
 */
export async function godIn(args: string[], o: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<GodRun> {
  let stdout = '';
  let stderr = '';
  const json = args.includes('--json') || o.env?.GOD_JSON === '1';
  const code = await runCli(args, {
    cwd: o.cwd,
    env: { ...process.env, NO_COLOR: '1', CI: '1', ...o.env },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  const lines = json
    ? stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l))
    : [];
  return { code, stdout, stderr, lines };
}

/**
 * Check a --json run: every line is an event, a stream item of `itemType`, or the one final result/error;
 * returns the result's data parsed with `data`.
 */
export function resultOf<T extends z.ZodType>(
  run: GodRun,
  command: string,
  data: T,
  itemType?: string,
): z.output<T> {
  if (run.code !== 0) throw new Error(`god ${command} exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
  const results = run.lines.filter((l) => l.type === 'result');
  if (results.length !== 1)
    throw new Error(`expected one result line, got ${results.length}:\n${run.stdout}`);
  if (run.lines[run.lines.length - 1] !== results[0]) throw new Error('the result line must come last');
  for (const l of run.lines.slice(0, -1)) {
    if (itemType && l.type === itemType) continue;
    EventLineSchema.parse(l);
  }
  return (resultLineSchema(command, data).parse(results[0]) as { data: z.output<T> }).data;
}

export function errorOf(run: GodRun) {
  const last = run.lines[run.lines.length - 1];
  return ErrorLineSchema.parse(last);
}
