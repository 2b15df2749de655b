// The local spool: archive objects that could not be stored yet, on disk, oldest first.
// One file per object: a JSON header line ({key, ids}) then the gzip body. Written to a temp name and
// renamed, so a crash leaves either a whole file or a *.tmp that is removed at start.
//
// The spool is trusted input at start (its objects are uploaded under the key in their header), so it lives
// in a private folder: created 0700, refused when it belongs to another user or others may write to it;
// files are 0600, and a file whose key is not one the keeper itself would write is set aside, never uploaded.
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../runtime/errors.ts';
import { type ArchiveObject, isEntryId, isObjectKey } from '../../protocol/archive-format.ts';
import { compareOffsets } from '../../protocol/messages.ts';

/** Objects go up in stream order (their first entry id), whatever order their stores failed in. */
const byFirstId = (a: { ids: string[] }, b: { ids: string[] }) => compareOffsets(a.ids[0]!, b.ids[0]!);

/**
 * Default spool folder: per user, outside the shared temp dir —
 * `$XDG_STATE_HOME/filmgrain/spool/<keeper-id>`, else `~/.local/state/filmgrain/spool/<keeper-id>`,
 * else (no home) `<tmp>/filmgrain-<uid>/spool/<keeper-id>` (still checked like any spool folder).
 */
export function defaultSpoolDir(keeperId: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME || safeHomedir();
  const base = env.XDG_STATE_HOME
    ? path.join(env.XDG_STATE_HOME, 'filmgrain')
    : home
      ? path.join(home, '.local', 'state', 'filmgrain')
      : path.join(os.tmpdir(), `filmgrain-${process.getuid?.() ?? 'user'}`);
  return path.join(base, 'spool', keeperId);
}

function safeHomedir(): string | undefined {
  try {
    return os.homedir() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Create the spool folder (0700, parents too) or check the one that exists: a real folder of ours that no
 * other user can write to. Anything else is refused: whoever can write there chooses what we upload.
 */
export async function preparePrivateDir(dir: string, what = 'spool folder'): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const uid = process.getuid?.();
  let st: Stats;
  let lst: Stats;
  try {
    lst = await fs.lstat(dir);
    st = await fs.stat(dir);
  } catch (err) {
    throw new UserError(`keeper: cannot use the ${what} ${dir}: ${(err as Error).message}`, {
      code: 'FG_KEEPER_SPOOL',
      hint: 'Pass --spool-dir (FG_KEEPER_SPOOL_DIR) a folder the keeper can create.',
    });
  }
  const problem = !st.isDirectory()
    ? 'is not a folder'
    : uid !== undefined && (st.uid !== uid || lst.uid !== uid)
      ? `belongs to uid ${lst.uid !== uid ? lst.uid : st.uid}, not to this user (uid ${uid})`
      : st.mode & 0o022
        ? `is writable by ${st.mode & 0o002 ? 'every user' : 'its group'} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`
        : undefined;
  if (problem) {
    throw new UserError(`keeper: the ${what} ${dir} ${problem}`, {
      code: 'FG_KEEPER_SPOOL',
      hint:
        'Spooled objects are uploaded to the archive, so only the keeper may write there. ' +
        `Use a private folder (--spool-dir, env FG_KEEPER_SPOOL_DIR), or fix this one: chown it to the keeper's user and chmod 700 ${dir}.`,
    });
  }
}

interface SpoolHeader {
  key: string;
  ids: string[];
}

interface SpoolItem {
  file: string;
  key: string;
  ids: string[];
  bytes: number;
}

export class Spool {
  private items: SpoolItem[] = [];
  private seq = 0;
  bytes = 0;
  entries = 0;

  /** files set aside at start (bad header, foreign key, not ours): renamed *.bad, never uploaded */
  rejected: Array<{ file: string; reason: string }> = [];

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** Load what an earlier run left (its entries may still be pending in Redis too: see `ids()`). */
  async init(): Promise<void> {
    await preparePrivateDir(this.dir);
    const uid = process.getuid?.();
    const names = (await fs.readdir(this.dir)).sort();
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await fs.rm(file, { force: true });
        continue;
      }
      if (!name.endsWith('.spool')) continue;
      try {
        const st = await fs.lstat(file);
        if (!st.isFile()) throw new Error('not a regular file');
        if (uid !== undefined && st.uid !== uid) throw new Error(`owned by uid ${st.uid}`);
        if (st.mode & 0o077) throw new Error(`mode ${(st.mode & 0o777).toString(8)} (spool files are 0600)`);
        const { header, bytes } = await readSpoolFile(file);
        this.items.push({ file, key: header.key, ids: header.ids, bytes });
        this.bytes += bytes;
        this.entries += header.ids.length;
        const n = Number(name.split('-')[0]);
        if (Number.isFinite(n)) this.seq = Math.max(this.seq, n + 1);
      } catch (err) {
        // unreadable or not ours: keep it aside for a person rather than delete data, and never upload it
        this.rejected.push({ file, reason: (err as Error).message });
        await fs.rename(file, `${file}.bad`).catch(() => {});
      }
    }
    this.items.sort(byFirstId);
  }

  get size(): number {
    return this.items.length;
  }

  /** Room to read more? The spool may overshoot by the objects already in flight. */
  get full(): boolean {
    return this.bytes >= this.maxBytes;
  }

  /** Every entry id held (to skip them when re-reading our own pending entries after a restart). */
  ids(): Set<string> {
    const s = new Set<string>();
    for (const it of this.items) for (const id of it.ids) s.add(id);
    return s;
  }

  async add(obj: ArchiveObject): Promise<void> {
    const name = `${String(this.seq++).padStart(10, '0')}-${obj.ids[0]}.spool`;
    const file = path.join(this.dir, name);
    const header = Buffer.from(`${JSON.stringify({ key: obj.key, ids: obj.ids })}\n`);
    const tmp = `${file}.tmp`;
    const data = Buffer.concat([header, obj.body]);
    await fs.writeFile(tmp, data, { mode: 0o600 });
    await fs.rename(tmp, file);
    // two objects whose stores failed together can finish spooling in either order: keep stream order
    const item = { file, key: obj.key, ids: obj.ids, bytes: data.length };
    let at = this.items.length;
    while (at > 0 && byFirstId(this.items[at - 1]!, item) > 0) at--;
    this.items.splice(at, 0, item);
    this.bytes += data.length;
    this.entries += obj.ids.length;
  }

  /** The oldest object, read back from disk. */
  async peek(): Promise<(ArchiveObject & { file: string }) | undefined> {
    const it = this.items[0];
    if (!it) return undefined;
    const { body } = await readSpoolFile(it.file);
    return { key: it.key, ids: it.ids, body, count: it.ids.length, file: it.file };
  }

  async remove(file: string): Promise<void> {
    const i = this.items.findIndex((x) => x.file === file);
    if (i < 0) return;
    const [it] = this.items.splice(i, 1);
    this.bytes -= it!.bytes;
    this.entries -= it!.ids.length;
    await fs.rm(file, { force: true });
  }
}

async function readSpoolFile(file: string): Promise<{ header: SpoolHeader; body: Buffer; bytes: number }> {
  const data = await fs.readFile(file);
  const nl = data.indexOf(10);
  if (nl < 0) throw new Error(`spool file ${file} has no header`);
  const header = JSON.parse(data.subarray(0, nl).toString('utf8')) as SpoolHeader;
  if (typeof header.key !== 'string' || !Array.isArray(header.ids) || header.ids.length === 0)
    throw new Error(`spool file ${file}: bad header`);
  // only keys the keeper itself writes (archive-format.ts): a planted "../x" must never reach a target
  if (!isObjectKey(header.key))
    throw new Error(`key ${JSON.stringify(header.key.slice(0, 200))} is not an archive key`);
  if (!header.ids.every(isEntryId)) throw new Error('entry ids are not stream ids');
  return { header, body: data.subarray(nl + 1), bytes: data.length };
}
