// Where archive objects and endpoints.json are stored: an S3 bucket/prefix or a local folder. The keeper writes
// there; God reads the archive back (`logs_archived`) and publishes endpoints.json to the same URL grammar.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { UserError } from '../kernel/errors.ts';

export interface ArchiveTarget {
  /** for logs, e.g. s3://bucket/prefix */
  readonly url: string;
  /** store `body` under `key` (relative to the target's prefix), overwriting */
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** a quick reachability check; throws a readable error */
  probe(): Promise<void>;
  close(): void;
}

export function parseArchiveUrl(
  url: string,
): { kind: 's3'; bucket: string; prefix: string } | { kind: 'file'; dir: string } {
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const i = rest.indexOf('/');
    const bucket = i < 0 ? rest : rest.slice(0, i);
    const prefix = i < 0 ? '' : rest.slice(i + 1).replace(/^\/+|\/+$/g, '');
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new UserError(`archive: "${bucket}" is not a valid S3 bucket name`, {
        code: 'FG_KEEPER_ARCHIVE',
        hint: 'Use --archive s3://BUCKET/PREFIX with a bucket name of 3-63 lowercase letters, digits, dots and dashes.',
      });
    }
    return { kind: 's3', bucket, prefix };
  }
  if (url.startsWith('file://')) {
    // file:///abs/dir and file://./rel/dir (a relative folder is resolved against the working directory)
    const rest = url.slice('file://'.length);
    const dir = rest.startsWith('/') ? fileURLToPath(`file://${rest}`) : path.resolve(rest);
    return { kind: 'file', dir };
  }
  throw new UserError(`archive: "${url}" is neither s3://BUCKET/PREFIX nor file://DIR`, {
    code: 'FG_KEEPER_ARCHIVE',
    hint: 'Pass --archive s3://BUCKET/PREFIX or --archive file:///path/to/folder (env FG_KEEPER_ARCHIVE).',
  });
}

export function awsRegion(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
}

/** A custom endpoint (moto, MinIO) serves buckets by path, not by virtual host name. */
export function customEndpoint(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
}

export class S3Target implements ArchiveTarget {
  readonly url: string;
  private readonly s3: S3Client;

  constructor(
    private readonly bucket: string,
    private readonly prefix: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.url = `s3://${bucket}/${prefix}`;
    // The SDK reads AWS_ENDPOINT_URL(_S3) and the credential chain itself. Few attempts per call and short
    // timeouts: the keeper has its own retry (the spool), so a dead S3 must fail fast rather than hang reads.
    this.s3 = new S3Client({
      region: awsRegion(env),
      forcePathStyle: customEndpoint(env),
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 3000, requestTimeout: 30_000 },
    });
  }

  private fullKey(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.fullKey(key),
          Body: body,
          ContentType: contentType,
        }),
      );
    } catch (err) {
      throw describeS3Error(err, `put s3://${this.bucket}/${this.fullKey(key)}`);
    }
  }

  async probe(): Promise<void> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw describeS3Error(err, `reach bucket ${this.bucket}`);
    }
  }

  close(): void {
    this.s3.destroy();
  }
}

/** Turn an SDK error into one line that says what to do. */
export function describeS3Error(err: unknown, what: string): Error {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? 'Error';
  const status = e?.$metadata?.httpStatusCode;
  let hint = '';
  if (name === 'NoSuchBucket' || status === 404) hint = ' — create the bucket or fix --archive';
  else if (name === 'AccessDenied' || status === 403)
    hint = ' — the credentials lack s3:PutObject on the bucket (check the instance role / AWS_PROFILE)';
  else if (/Region is missing/i.test(e?.message ?? '')) hint = ' — set AWS_REGION';
  else if (/credential/i.test(e?.message ?? ''))
    hint = ' — no AWS credentials found (instance role, AWS_PROFILE or AWS_ACCESS_KEY_ID)';
  const out = new Error(
    `could not ${what}: ${name}${status ? ` (HTTP ${status})` : ''}: ${e?.message ?? String(err)}${hint}`,
  );
  out.name = name;
  return out;
}

export class FileTarget implements ArchiveTarget {
  readonly url: string;
  constructor(private readonly dir: string) {
    this.url = `file://${dir}`;
  }

  /** The file of `key`; a key that would resolve outside the folder (`../x`, `/etc/x`) is refused. */
  fileOf(key: string): string {
    const file = path.resolve(this.dir, key);
    const rel = path.relative(path.resolve(this.dir), file);
    if (
      !key ||
      rel === '' ||
      rel === '..' ||
      rel.startsWith(`..${path.sep}`) ||
      path.isAbsolute(rel) ||
      key.includes('\0')
    ) {
      throw new Error(
        `refused to write ${JSON.stringify(key.slice(0, 200))}: it is outside the archive folder ${this.dir}`,
      );
    }
    return file;
  }

  async put(key: string, body: Buffer): Promise<void> {
    const file = this.fileOf(key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    // temp file + rename: readers never see half an object, a retried write replaces the old one whole
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fs.writeFile(tmp, body);
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
  }

  async probe(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await fs.access(this.dir, fs.constants.W_OK);
  }

  close(): void {}
}

export function openTarget(url: string, env: NodeJS.ProcessEnv = process.env): ArchiveTarget {
  const t = parseArchiveUrl(url);
  return t.kind === 's3' ? new S3Target(t.bucket, t.prefix, env) : new FileTarget(t.dir);
}
