// `god play FILE [--dry-run] [--var NAME=VALUE ...]`: validate the whole playbook, then run it step by step
// (god/core/playbook). Exit 0 ok, 1 a step failed (named), 2 the playbook or the command line is wrong.
import path from 'node:path';
import { z } from 'zod';
import { loadPlaybook, PlaybookError } from '../../core/playbook/load.ts';
import { brokenPlayResult, writeJunit } from '../../core/playbook/junit.ts';
import { type PlayResult, runPlaybook } from '../../core/playbook/runner.ts';
import { exitCodeOf } from '../../../kernel/errors.ts';
import type { CliContext } from '../context.ts';
import { defineCommand } from '../spec.ts';

function render(ctx: CliContext, r: PlayResult): string[] {
  const s = ctx.out.style.bind(ctx.out);
  const mark = (st: string, ignored?: boolean) =>
    st === 'ok'
      ? s('ok', 'green')
      : st === 'planned'
        ? s('plan', 'cyan')
        : st === 'skipped'
          ? s('skipped', 'gray')
          : s(ignored ? 'failed (ignored)' : 'FAILED', 'red', 'bold');
  const lines: string[] = [];
  for (const st of r.steps) {
    const changed =
      st.changed === null ? '' : st.changed ? s(r.dry_run ? ' would change' : ' changed', 'yellow') : '';
    lines.push(`${String(st.index).padStart(2)}. ${st.name}  ${mark(st.status, st.ignored)}${changed}`);
    for (const c of st.changes) lines.push(`      ${r.dry_run ? 'would ' : ''}${c}`);
    if (st.detail) lines.push(s(`      ${st.detail}`, 'gray'));
    if (st.error)
      lines.push(`      ${s('error:', 'red')} ${st.error}${st.hint ? `\n      → ${st.hint}` : ''}`);
  }
  lines.push('');
  lines.push(
    r.ok
      ? `${r.dry_run ? 'dry run: nothing changed; ' : ''}play ${r.play}: ${r.steps.length} step(s) ok, ${r.changed} ${r.dry_run ? 'would change' : 'changed'} the fleet (${(r.ms / 1000).toFixed(1)} s)`
      : `play ${r.play} ${s('failed', 'red', 'bold')} at step ${r.failed_step?.index} (${r.failed_step?.name}) after ${(r.ms / 1000).toFixed(1)} s`,
  );
  return lines;
}

export const playCommand = defineCommand({
  options: {
    dryRun: {
      flag: '--dry-run',
      env: 'GOD_DRY_RUN',
      description: 'print the plan and what each step would change; change nothing',
      default: false,
    },
    var: {
      flag: '--var <name=value...>',
      env: 'GOD_PLAY_VARS',
      description:
        'set playbook variables (after FILE; also GOD_VAR_<NAME>=value, or GOD_PLAY_VARS="a=1,b=2")',
      schema: z
        .union([
          z.array(z.string()),
          // from GOD_PLAY_VARS the option is one string: loadPlaybook reads that variable itself (it ranks
          // below GOD_VAR_<NAME>)
          z.string().transform((): string[] => []),
        ])
        .default([]),
    },
    junit: {
      flag: '--junit <file>',
      env: 'GOD_JUNIT',
      description: 'also write a JUnit XML report there (one test case per step) for CI to display',
    },
  },
  async run(ctx, [file], opts) {
    const flags = opts.var;
    let pb: ReturnType<typeof loadPlaybook>;
    try {
      pb = loadPlaybook(file!, { flags, env: ctx.env }, ctx.cwd);
    } catch (err) {
      if (err instanceof PlaybookError && ctx.out.json) {
        // one event per problem (file, line, path, hint) before the final error line
        for (const p of err.problems) {
          ctx.events.emit({
            type: 'error',
            message: `${err.file}${p.line ? `:${p.line}:${p.column ?? 1}` : ''} ${p.path || '(file)'}: ${p.message}`,
            hint: p.hint,
            data: { file: err.file, line: p.line ?? null, column: p.column ?? null, path: p.path },
          });
        }
      }
      if (opts.junit) {
        const why = err instanceof PlaybookError ? err.message : (err as Error).message;
        writeJunit(path.resolve(ctx.cwd, opts.junit), brokenPlayResult(file!, why));
      }
      ctx.out.error(err);
      return exitCodeOf(err);
    }
    const r = await runPlaybook(pb, {
      provider: await ctx.provider(),
      config: ctx.loaded.config,
      events: ctx.events,
      dryRun: opts.dryRun,
      signal: ctx.signal,
      env: ctx.env,
      cwd: ctx.cwd,
      redisUrl: ctx.opts.redis,
    });
    if (opts.junit) writeJunit(path.resolve(ctx.cwd, opts.junit), r);
    ctx.out.result('play', r, (d) => render(ctx, d), r.ok);
    return r.ok ? 0 : 1;
  },
});
