// The local spool: archive objects that could not be stored yet, on disk, oldest first.
// One file per object: a JSON header line ({key, ids}) then the gzip body. Written to a temp name and
// renamed, so a crash leaves either a whole file or a *.tmp that is removed at start.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ArchiveObject } from './archive-format.ts';

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

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** Load what an earlier run left (its entries may still be pending in Redis too: see `ids()`). */
  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const names = (await fs.readdir(this.dir)).sort();
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await fs.rm(file, { force: true });
        continue;
      }
      if (!name.endsWith('.spool')) continue;
      try {
        const { header, bytes } = await readSpoolFile(file);
        this.items.push({ file, key: header.key, ids: header.ids, bytes });
        this.bytes += bytes;
        this.entries += header.ids.length;
        const n = Number(name.split('-')[0]);
        if (Number.isFinite(n)) this.seq = Math.max(this.seq, n + 1);
      } catch {
        // unreadable: keep it aside for a person rather than delete data
        await fs.rename(file, `${file}.bad`).catch(() => {});
      }
    }
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
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
    this.items.push({ file, key: obj.key, ids: obj.ids, bytes: data.length });
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

async function readSpoolFile(
  file: string,
): Promise<{ header: { key: string; ids: string[] }; body: Buffer; bytes: number }> {
  const data = await fs.readFile(file);
  const nl = data.indexOf(10);
  if (nl < 0) throw new Error(`spool file ${file} has no header`);
  const header = JSON.parse(data.subarray(0, nl).toString('utf8')) as { key: string; ids: string[] };
  if (typeof header.key !== 'string' || !Array.isArray(header.ids))
    throw new Error(`spool file ${file}: bad header`);
  return { header, body: data.subarray(nl + 1), bytes: data.length };
}
