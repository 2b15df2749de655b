// Upgrading from a release that ran the keeper as root: the objects it spooled during an outage sit in
// root's ~/.local/state/filmgrain/spool/<id>, where the keeper (now the fleet user, HOME = state/<id>) no
// longer looks. The agent moves them into the new spool, owned by the fleet user, before the keeper starts,
// so no spooled log line is stranded. Real files, a real other uid (nobody) when run as root.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../harness/index.ts';

const AGENT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../god/core/deploy/remote/fg-agent.mjs',
);
type Owner = { uid: number; gid: number };
const agent = (await import(AGENT)) as {
  legacySpoolDir(id: string, env?: Record<string, string>, home?: string): string;
  adoptLegacySpool(from: string, to: string, owner?: Owner): { moved: number; left: number };
};
const asRoot = process.getuid?.() === 0;
const NOBODY: Owner = { uid: 65534, gid: 65534 };

function spoolWith(dir: string, files: Record<string, string>) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, text] of Object.entries(files))
    fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
}

describe("a keeper's spool from the root-run release", () => {
  it('is where roles/keeper/spool.ts put it for root: $XDG_STATE_HOME, else ~/.local/state', () => {
    expect(agent.legacySpoolDir('keeper-1', {}, '/root')).toBe('/root/.local/state/filmgrain/spool/keeper-1');
    expect(agent.legacySpoolDir('keeper-1', { XDG_STATE_HOME: '/var/lib/x' }, '/root')).toBe(
      '/var/lib/x/filmgrain/spool/keeper-1',
    );
  });

  it('moves every spooled object into the new spool, 0600 and the fleet user’s, and removes the old folder', () => {
    const root = makeTempDir('spool-adopt');
    const from = path.join(root, 'root-home/.local/state/filmgrain/spool/keeper-1');
    const state = path.join(root, 'base/state/keeper-1');
    fs.mkdirSync(state, { recursive: true, mode: 0o700 });
    if (asRoot) fs.chownSync(state, NOBODY.uid, NOBODY.gid);
    spoolWith(from, { '000001.obj': 'first outage object', '000002.obj': 'second', 'x.tmp': 'half-written' });
    const to = path.join(state, 'filmgrain/spool/keeper-1');

    expect(agent.adoptLegacySpool(from, to, asRoot ? NOBODY : undefined)).toEqual({ moved: 2, left: 0 });
    expect(fs.readdirSync(to).sort()).toEqual(['000001.obj', '000002.obj']);
    expect(fs.readFileSync(path.join(to, '000001.obj'), 'utf8')).toBe('first outage object');
    expect(fs.existsSync(from)).toBe(false);
    for (const f of ['000001.obj', '000002.obj'])
      expect(fs.statSync(path.join(to, f)).mode & 0o777).toBe(0o600);
    expect(fs.statSync(to).mode & 0o777).toBe(0o700);
    if (asRoot) {
      // the keeper, running as the fleet user, must own its spool and everything in it (it refuses others')
      for (const p of [to, path.dirname(to), path.dirname(path.dirname(to)), path.join(to, '000002.obj')])
        expect(fs.statSync(p).uid).toBe(NOBODY.uid);
    }
  });

  it('never overwrites an object already in the new spool: the old copy stays where it was', () => {
    const root = makeTempDir('spool-adopt');
    const from = path.join(root, 'old');
    const to = path.join(root, 'new');
    spoolWith(from, { 'a.obj': 'old a', 'b.obj': 'old b' });
    spoolWith(to, { 'a.obj': 'new a' });
    expect(agent.adoptLegacySpool(from, to)).toEqual({ moved: 1, left: 1 });
    expect(fs.readFileSync(path.join(to, 'a.obj'), 'utf8')).toBe('new a');
    expect(fs.readFileSync(path.join(to, 'b.obj'), 'utf8')).toBe('old b');
    expect(fs.readFileSync(path.join(from, 'a.obj'), 'utf8')).toBe('old a');
  });

  it('does nothing when there is no old spool, or it is empty', () => {
    const root = makeTempDir('spool-adopt');
    const to = path.join(root, 'new');
    expect(agent.adoptLegacySpool(path.join(root, 'missing'), to)).toEqual({ moved: 0, left: 0 });
    fs.mkdirSync(path.join(root, 'empty'));
    expect(agent.adoptLegacySpool(path.join(root, 'empty'), to)).toEqual({ moved: 0, left: 0 });
    expect(fs.existsSync(to)).toBe(false);
  });
});
