// Shared by the feeder tests: feeders in this process (the role, or its core with a test clock), tweets in
// the stream's formats, and reading back what landed in Redis.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import { Feeder, type FeederOptions } from '../../roles/feeder/feeder.ts';
import { RespConnection } from '../../roles/feeder/resp.ts';
import { type FeederHooks, feederRole } from '../../roles/feeder/role.ts';
import { type RoleHandle, startRole } from '../../roles/runtime/role.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const TEST_CATALOG = path.join(ROOT, 'data/test-catalog.json');
export const REAL_CATALOG = path.join(ROOT, 'data/movies.json');

/** A feeder role in this process; its stdout lines are kept in `out`. */
export interface InProcessFeeder {
  handle: RoleHandle<unknown>;
  out: string[];
  gauges(): Record<string, number>;
  stop(): Promise<void>;
}

export async function startFeederRole(argv: string[], hooks: FeederHooks = {}): Promise<InProcessFeeder> {
  const out: string[] = [];
  const handle = await startRole(feederRole(hooks), argv, {
    env: hooks.env ?? {},
    stdout: { write: (s: string) => out.push(s) },
  });
  let stopped = false;
  return {
    handle: handle as RoleHandle<unknown>,
    out,
    gauges: () => handle.instance.gauges?.() ?? {},
    async stop() {
      if (stopped) return;
      stopped = true;
      await handle.stop('test done');
    },
  };
}

/** The feeder core on its own connections, with an injectable clock. */
export function makeFeeder(
  url: string,
  keys: RedisContract,
  catalog = JSON.parse(fs.readFileSync(TEST_CATALOG, 'utf8')),
  extra: Partial<FeederOptions> = {},
): { feeder: Feeder; logs: string[]; close(): Promise<void> } {
  const logs: string[] = [];
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const publishRedis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  publishRedis.on('error', () => {});
  const publishResp = (extra.publishMode ?? 'resp') === 'resp' ? new RespConnection(url) : undefined;
  redis.on('error', () => {});
  const log = pino({ level: 'info' }, { write: (s: string) => logs.push(s) });
  const feeder = new Feeder({ redis, publishRedis, publishResp, keys, log, catalog, ...extra });
  return {
    feeder,
    logs,
    async close() {
      await feeder.stop(1000);
      redis.disconnect();
      publishRedis.disconnect();
      publishResp?.close();
    },
  };
}

let seq = 0;
/** A filtered-stream line (v2) for `text`. */
export function v2Tweet(text: string, opts: { id?: string; created_at?: string; user?: string } = {}) {
  const id = opts.id ?? `${Date.now()}${String(++seq).padStart(4, '0')}`;
  const user = opts.user ?? 'filmfan';
  return {
    data: {
      id,
      text,
      created_at: opts.created_at ?? new Date().toISOString(),
      author_id: `u-${user}`,
      edit_history_tweet_ids: [id],
    },
    includes: { users: [{ id: `u-${user}`, name: `Fan ${user}`, username: user }] },
    matching_rules: [{ id: '1', tag: 'filmgrain' }],
  };
}

/** A v1.1 status object for `text`. */
export function v1Tweet(text: string, id = `${Date.now()}${String(++seq).padStart(4, '0')}`) {
  return {
    id: Number(id),
    id_str: id,
    text,
    created_at: 'Fri Oct 04 18:30:00 +0000 2013',
    user: { id_str: '42', name: 'Old API Fan', screen_name: 'old_api_fan' },
  };
}

export const ndjson = (objs: unknown[]) => objs.map((o) => `${JSON.stringify(o)}\n`).join('');

/** Collects the messages of channels on their own connection. */
export async function subscribe(url: string, channels: string[]) {
  const sub = new Redis(url);
  sub.on('error', () => {});
  const got: Array<{ channel: string; message: Buffer; at: number }> = [];
  sub.on('messageBuffer', (channel: Buffer, message: Buffer) =>
    got.push({ channel: channel.toString(), message, at: performance.now() }),
  );
  await sub.subscribe(...channels);
  return { got, close: () => sub.disconnect() };
}
