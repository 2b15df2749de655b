// The look-don't-touch dashboard (`god dashboard --read-only`, GOD_READ_ONLY=1) and saving the log view:
// rendered with ink-testing-library over a synthetic store, keys typed one at a time.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dashboardCommand } from '../../god/cli/commands/dashboard.ts';
import { buildProgram } from '../../god/cli/main.ts';
import type { CommandEntry } from '../../god/cli/spec.ts';
import { makeTempDir } from '../harness/index.ts';

process.env.FORCE_COLOR = '1';
const { cleanup } = await import('ink-testing-library');
const { KEYS, mount, recordingActions, syntheticStore } = await import('./fixtures.ts');

afterEach(() => cleanup());
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');
const footer = (frame: string) => plain(frame).trimEnd().split('\n').pop() ?? '';

describe('a read-only dashboard', () => {
  it('refuses every key that changes the fleet, even when the functions are there', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    const app = mount(store, { ...rec.actions, readOnly: true });
    store.view.setFocus('processes');
    for (const k of ['r', 'x', 'u', 'd', 's', '!']) {
      await app.press(k, 'y', KEYS.enter);
      // Enter opens the process detail (looking, not touching): no prompt, no action
      expect(store.view.mode.kind).toBe('detail');
      await app.press(KEYS.esc);
      expect(store.view.mode.kind).toBe('normal');
      expect(plain(app.frame())).toContain('read-only dashboard: actions are off');
    }
    expect(rec.calls).toEqual([]);
  });

  it('hides those keys from the footer and the help, and says it is read-only', async () => {
    const store = syntheticStore();
    const app = mount(store, { ...recordingActions(store).actions, readOnly: true });
    expect(footer(app.frame())).toContain('READ-ONLY');
    for (const hint of ['restart', 'deploy', 'shed', ' up ', ' down '])
      expect(footer(app.frame())).not.toContain(hint);
    await app.press('?');
    const help = plain(app.frame());
    expect(help).toContain('Read-only dashboard');
    expect(help).not.toContain('shed clients from the selected endpoint');
    expect(help).not.toContain('restart the selected process');
    expect(help).toContain('filter the log');
  });

  it('a normal dashboard still shows and runs them', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    const app = mount(store, rec.actions);
    expect(footer(app.frame())).toContain('restart');
    expect(footer(app.frame())).not.toContain('READ-ONLY');
    store.view.setFocus('processes');
    await app.press('r', 'y');
    expect(rec.calls).toEqual([`restart ${store.selectedProcess()?.id}`]);
  });

  it('--read-only and GOD_READ_ONLY=1 both turn it on; off by default', async () => {
    const entry: CommandEntry = { name: 'dashboard', summary: 'd', load: async () => dashboardCommand };
    async function readOnlyOf(argv: string[], env: NodeJS.ProcessEnv) {
      const seen: boolean[] = [];
      const { program } = buildProgram([entry], { env, stdout: { write: () => true } }, async (_s, _a, o) => {
        seen.push((o as { readOnly: boolean }).readOnly);
      });
      program.exitOverride();
      await program.parseAsync(argv, { from: 'user' });
      return seen[0];
    }
    expect(await readOnlyOf(['dashboard'], {})).toBe(false);
    expect(await readOnlyOf(['dashboard', '--read-only'], {})).toBe(true);
    expect(await readOnlyOf(['dashboard'], { GOD_READ_ONLY: '1' })).toBe(true);
  });
});

describe('w saves the log view', () => {
  it('writes what the filter lets through, with full time and source, to a new 0600 file; never overwrites', async () => {
    const dir = makeTempDir('god-saved-log');
    const store = syntheticStore();
    // saving is not a fleet action: a read-only dashboard may do it
    const app = mount(store, { ...recordingActions(store).actions, readOnly: true, saveDir: dir });
    await app.press('/', ...'role:keeper', KEYS.enter);
    await app.press('w');
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(1);
    const file = path.join(dir, files[0]!);
    expect(plain(app.frame())).toContain(`log view saved to ${file}`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const saved = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(saved).toHaveLength(store.logs.matchedLines().length);
    expect(saved.length).toBeGreaterThan(0);
    for (const line of saved)
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z keeper\/\S+@\S+ [A-Z]+ keeper says \d+$/);
    await app.press('w');
    expect(fs.readdirSync(dir)).toHaveLength(2);
    expect(fs.readFileSync(file, 'utf8').trimEnd().split('\n')).toEqual(saved);
  });

  it('says so when the folder cannot be written', async () => {
    const store = syntheticStore();
    const app = mount(store, { ...recordingActions(store).actions, saveDir: '/nonexistent/folder' });
    await app.press('w');
    expect(plain(app.frame())).toContain('could not save the log view');
  });
});
