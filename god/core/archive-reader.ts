// Reads the keepers' log archive back (S3 through the SDK's standard chain and AWS_ENDPOINT_URL, or the
// folder): `god logs --since` reads the lines older than the stream from it, the playbooks' `logs_archived`
// check the entry ids stored from a given hour on. Objects are immutable once stored (a retried upload
// writes the same content under the same key), so an object's ids are read once and kept for the next poll.
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { hourPrefix, readObject } from '../../protocol/archive-format.ts';
import {
  awsRegion,
  customEndpoint,
  describeS3Error,
  parseArchiveUrl,
} from '../../protocol/archive-target.ts';

/** One stored object, listed but not yet read. */
export interface ArchivedObject {
  /** key relative to the archive prefix (logs/YYYY/MM/DD/HH/<keeper>-<first entry id>.ndjson.gz) */
  key: string;
  /** size/mtime or ETag: a changed object is read again */
  version: string;
  read(): Promise<Buffer>;
}

/**
 * The archive the keeper writes to, as a URL: `configured` (roles.keeper.options.archive; a bare path is a
 * folder relative to `baseDir`), else the provider's default (the local fleet's folder in its state dir).
 */
export function keeperArchiveUrl(
  configured: string | undefined,
  baseDir: string,
  provider: { defaultArchive?(): string | undefined },
): string | undefined {
  if (configured)
    return /^(s3|file):\/\//.test(configured)
      ? configured
      : pathToFileURL(path.resolve(baseDir, configured)).href;
  return provider.defaultArchive?.();
}

/** The first entry id in an object key (`…/<keeper>-<ms>-<seq>.ndjson.gz`), or undefined. */
export function firstIdOfKey(key: string): string | undefined {
  return /-(\d+-\d+)\.ndjson\.gz$/.exec(key)?.[1];
}

export class ArchiveReader {
  private readonly loc: ReturnType<typeof parseArchiveUrl>;
  private s3?: S3Client;
  /** object key + version → its entry ids */
  private readonly seen = new Map<string, string[]>();

  constructor(
    readonly url: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.loc = parseArchiveUrl(url);
  }

  /**
   * Entry ids of every object whose key is in the hour of `fromMs` or later. An object is keyed by its first
   * entry, so a line can sit in an object keyed up to one batch earlier: callers pass an hour of margin.
   */
  async entryIds(fromMs: number): Promise<Set<string>> {
    const out = new Set<string>();
    for (const o of await this.objects(fromMs)) {
      const tag = `${o.key}@${o.version}`;
      let ids = this.seen.get(tag);
      if (!ids) {
        ids = (await readObject(await o.read())).map((l) => l.entryId);
        this.seen.set(tag, ids);
      }
      for (const id of ids) out.add(id);
    }
    return out;
  }

  /** Every object keyed in the hour of `fromMs` or later (up to the hour of `toMs`), by key. */
  async objects(fromMs: number, toMs?: number): Promise<ArchivedObject[]> {
    const start = hourPrefix(Math.max(0, fromMs));
    const all = this.loc.kind === 'file' ? await this.listDir(this.loc.dir, start) : await this.listS3(start);
    // keys sort by hour: an object keyed after the hour of `toMs` starts after it
    const end = toMs === undefined ? undefined : `${hourPrefix(Math.max(0, toMs))}/\uffff`;
    return all.filter((o) => end === undefined || o.key <= end).sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  private async listDir(dir: string, start: string): Promise<ArchivedObject[]> {
    const base = path.join(dir, 'logs');
    let names: string[];
    try {
      names = (await fs.readdir(base, { recursive: true })) as string[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: ArchivedObject[] = [];
    for (const n of names) {
      const key = `logs/${n.split(path.sep).join('/')}`;
      if (!key.endsWith('.ndjson.gz') || key < start) continue;
      const file = path.join(base, n);
      const st = await fs.stat(file).catch(() => undefined);
      if (!st?.isFile()) continue;
      out.push({ key, version: `${st.size}:${st.mtimeMs}`, read: () => fs.readFile(file) });
    }
    return out;
  }

  private async listS3(start: string): Promise<ArchivedObject[]> {
    const { bucket, prefix } = this.loc as { bucket: string; prefix: string };
    const full = (k: string) => (prefix ? `${prefix}/${k}` : k);
    this.s3 ??= new S3Client({
      region: awsRegion(this.env),
      forcePathStyle: customEndpoint(this.env),
      maxAttempts: 2,
    });
    const s3 = this.s3;
    const out: ArchivedObject[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await s3.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: full('logs/'),
            // keys sort by hour (zero-padded): start with the hour asked for
            StartAfter: full(start),
            ContinuationToken: token,
          }),
        );
        for (const o of r.Contents ?? []) {
          if (!o.Key?.endsWith('.ndjson.gz')) continue;
          const Key = o.Key;
          out.push({
            key: prefix ? Key.slice(prefix.length + 1) : Key,
            version: `${o.ETag ?? ''}:${o.Size ?? ''}`,
            read: async () => {
              try {
                const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
                return Buffer.from(await g.Body!.transformToByteArray());
              } catch (err) {
                throw describeS3Error(err, `read s3://${bucket}/${Key}`);
              }
            },
          });
        }
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw describeS3Error(err, `list s3://${bucket}/${full('logs/')}`);
    }
    return out;
  }

  close(): void {
    this.s3?.destroy();
    this.s3 = undefined;
  }
}
