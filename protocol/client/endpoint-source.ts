// Where a client finds endpoints: the endpoints.json the keeper publishes, read from a URL, an S3 object
// (s3://bucket/key) or a file.
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type EndpointList, parseEndpointList } from '../endpoint-list.ts';

export class EndpointListError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(`${message}\n  → ${hint}`, options);
    this.name = 'EndpointListError';
  }
}

export interface LoadEndpointListOptions {
  /** S3 client for s3:// sources (default: standard credential chain; AWS_ENDPOINT_URL honoured) */
  s3?: S3Client;
  timeoutMs?: number;
}

let defaultS3: S3Client | undefined;
function s3Client(): S3Client {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  defaultS3 ??= new S3Client({
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    // S3-compatible stores behind a custom endpoint (moto, MinIO) want path-style addressing
    ...(endpoint ? { forcePathStyle: true } : {}),
  });
  return defaultS3;
}

async function readSource(source: string, o: LoadEndpointListOptions): Promise<string> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (/^https?:\/\//i.test(source)) {
    const res = await fetch(source, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    return await res.text();
  }
  if (source.startsWith('s3://')) {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(source);
    if (!m) throw new Error('an S3 source looks like s3://bucket/path/endpoints.json');
    const out = await (o.s3 ?? s3Client()).send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }), {
      abortSignal: AbortSignal.timeout(timeoutMs),
    });
    if (!out.Body) throw new Error('the object has no body');
    return await out.Body.transformToString('utf8');
  }
  const file = source.startsWith('file://') ? fileURLToPath(source) : source;
  return await fs.readFile(file, 'utf8');
}

/** Read and validate an endpoint list. Throws EndpointListError saying what failed and what to check. */
export async function loadEndpointList(
  source: string,
  o: LoadEndpointListOptions = {},
): Promise<EndpointList> {
  let text: string;
  try {
    text = await readSource(source, o);
  } catch (err) {
    throw new EndpointListError(
      `cannot read the endpoint list from ${source}: ${(err as Error).message}`,
      source.startsWith('s3://')
        ? 'Check the bucket and key, the AWS credentials and region (AWS_ENDPOINT_URL for S3-compatible stores).'
        : /^https?:/.test(source)
          ? 'Check the URL and that the server publishing endpoints.json is up.'
          : 'Check the path; the keeper writes endpoints.json next to its archive.',
      { cause: err },
    );
  }
  try {
    return parseEndpointList(text);
  } catch (err) {
    throw new EndpointListError(
      `the endpoint list from ${source} is not usable: ${(err as Error).message}`,
      'It must be the endpoints.json the keeper writes: {"endpoints":[{"host","port","tls","clients","capacity"}],"updated_at"}.',
      { cause: err },
    );
  }
}
