// Reads the keepers' log archive back (S3 through the SDK's standard chain and AWS_ENDPOINT_URL, or the
// folder) for `logs_archived`: the entry ids of the objects stored from a given hour on. Objects are
// immutable once stored (a retried upload writes the same content under the same key), so each is read once
// per check and kept for the next poll.
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { hourPrefix, readObject } from '../../../protocol/archive-format.ts';
import {
  awsRegion,
  customEndpoint,
  describeS3Error,
  parseArchiveUrl,
} from '../../../protocol/archive-target.ts';
import { UserError } from '../../../kernel/errors.ts';
import type { PlayContext } from './context.ts';

/** The archive a step means: its own `target`/`archive`, else the keeper's (the config's, or the provider's default). */
export function archiveUrl(
  pc: PlayContext,
  target: string | undefined,
  step: string,
  option: string,
): string {
  const t = target ?? pc.config.roles.keeper.options.archive;
  if (t) return /^(s3|file):\/\//.test(t) ? t : pathToFileURL(path.resolve(pc.cwd, t)).href;
  const own = pc.provider.defaultArchive?.();
  if (own) return own;
  throw new UserError(`${step}: no ${option}, and the config names no keeper archive`, {
    code: 'GOD_PLAYBOOK',
    hint: `Give the step a ${option} (s3://BUCKET/PREFIX or file://DIR) or set roles.keeper.options.archive.`,
  });
}

export class ArchiveReader {
  private readonly loc: ReturnType<typeof parseArchiveUrl>;
  private s3?: S3Client;
  /** object key + version (size/mtime or ETag) → its entry ids */
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
    const start = hourPrefix(Math.max(0, fromMs));
    const objects =
      this.loc.kind === 'file' ? await this.listDir(this.loc.dir, start) : await this.listS3(start);
    const out = new Set<string>();
    for (const o of objects) {
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

  private async listDir(dir: string, start: string) {
    const base = path.join(dir, 'logs');
    let names: string[];
    try {
      names = (await fs.readdir(base, { recursive: true })) as string[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: Array<{ key: string; version: string; read: () => Promise<Buffer> }> = [];
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

  private async listS3(start: string) {
    const { bucket, prefix } = this.loc as { bucket: string; prefix: string };
    const full = (k: string) => (prefix ? `${prefix}/${k}` : k);
    this.s3 ??= new S3Client({
      region: awsRegion(this.env),
      forcePathStyle: customEndpoint(this.env),
      maxAttempts: 2,
    });
    const s3 = this.s3;
    const out: Array<{ key: string; version: string; read: () => Promise<Buffer> }> = [];
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
            key: Key,
            version: `${o.ETag ?? ''}:${o.Size ?? ''}`,
            read: async () => {
              const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
              return Buffer.from(await g.Body!.transformToByteArray());
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
