// `publish_endpoints: {target}`: write endpoints.json (archive target and Redis) from the registry now, with
// the writer the keeper runs on its timer (protocol/endpoint-list-writer.ts).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  buildEndpointList,
  ENDPOINT_LIST_FILE,
  endpointSetKey,
  parseEndpointList,
} from '../../../../protocol/endpoint-list.ts';
import { listEndpoints } from '../../endpoints.ts';
import { archiveUrl } from '../archive.ts';
import type { PlayContext } from '../context.ts';
import { orEmpty } from '../fields.ts';
import { defineKind } from './kind.ts';

export const PublishSchema = z
  .object({
    /** s3://BUCKET/PREFIX, file://DIR or a folder (default: the keeper's archive target) */
    target: z.string().min(1).optional(),
  })
  .strict();

const publishTarget = (pc: PlayContext, target?: string) =>
  archiveUrl(pc, target, 'publish_endpoints', 'target');

async function planPublish(pc: PlayContext, url: string): Promise<string[]> {
  const fleetRedis = await pc.tryRedis();
  if (!fleetRedis) return [`write the endpoint list to ${url} (the fleet's Redis is not up now)`];
  const records = (await listEndpoints(fleetRedis)).endpoints.map(({ healthy: _h, age_s: _a, ...r }) => r);
  const list = buildEndpointList(records);
  const want = endpointSetKey(list);
  const shown = list.endpoints.map((e) => `${e.host}:${e.port}`).join(', ') || 'no endpoints';
  const have: string[] = [];
  const cur = await fleetRedis.redis.get(fleetRedis.keys.endpointList);
  try {
    have.push(cur ? endpointSetKey(parseEndpointList(cur)) : '');
  } catch {
    have.push('');
  }
  if (url.startsWith('file://')) {
    // loaded on use: archive-target.ts brings the S3 SDK
    const { parseArchiveUrl } = await import('../../../../protocol/archive-target.ts');
    const t = parseArchiveUrl(url);
    const file = path.join(t.kind === 'file' ? t.dir : fileURLToPath(url), ENDPOINT_LIST_FILE);
    try {
      have.push(endpointSetKey(parseEndpointList(fs.readFileSync(file, 'utf8'))));
    } catch {
      have.push('');
    }
  }
  return have.every((h) => h === want) ? [] : [`write ${shown} to ${url} and Redis`];
}

async function publish(pc: PlayContext, url: string): Promise<string> {
  const fleetRedis = await pc.redis();
  const { EndpointListWriter } = await import('../../../../protocol/endpoint-list-writer.ts');
  const { openTarget } = await import('../../../../protocol/archive-target.ts');
  const target = openTarget(url, pc.env);
  try {
    const writer = new EndpointListWriter({
      redis: fleetRedis.redis,
      keys: fleetRedis.keys,
      target,
      intervalMs: 0,
      // the step reports what it wrote itself
      log: { info() {}, warn() {} },
    });
    await writer.tick();
    if (!writer.current) throw new Error(`could not write the endpoint list to ${url}`);
    // the Prometheus targets go with it (protocol/prom-targets.ts), as the keeper's timer writes them
    const { PromTargetsWriter } = await import('../../../../protocol/prom-targets.ts');
    await new PromTargetsWriter({ redis: fleetRedis.redis, keys: fleetRedis.keys, target }).tick();
    return `${writer.current.endpoints.map((e) => `${e.host}:${e.port}`).join(', ') || 'no endpoints'} → ${url}`;
  } finally {
    target.close();
  }
}

export const publishEndpoints = defineKind({
  kind: 'publish_endpoints',
  args: orEmpty(PublishSchema),
  hint: "publish_endpoints takes target: s3://BUCKET/PREFIX or file://DIR (default: the keeper's archive).",
  example: null,
  defaultName: () => 'publish the endpoint list',
  timeout: '30s',
  needsFleet: true,
  plan: (pc, s) => planPublish(pc, publishTarget(pc, s.args.target)),
  async run(pc, s) {
    const url = publishTarget(pc, s.args.target);
    const changes = await planPublish(pc, url);
    const detail = await publish(pc, url);
    return { changed: changes.length > 0, changes, detail };
  },
});
