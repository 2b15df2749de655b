// An endpoint God starts runs --unlisted (god/core/admission.ts): real endpoint and keeper processes on a real
// redis-server. Until God's health check (the deploy's own healthOf: heartbeat at the release, then a protocol
// connect → set_movies) admits it, it is not in the registry, not in the endpoints.json the keeper writes, and
// a listed endpoint over its soft limit redirects no one to it; once admitted it is in all three. An admission
// of another release does not list it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { admitEndpoint } from '../../god/core/admission.ts';
import { healthOf, heartbeatStarts } from '../../god/core/deploy/health.ts';
import { type EndpointsReport, EndpointsReportSchema } from '../../god/core/endpoints.ts';
import { godIn, resultOf } from './cli-helpers.ts';
import type { DeployHost } from '../../god/core/deploy/types.ts';
import { parseEndpointList } from '../../protocol/endpoint-list.ts';
import { redisContract } from '../../protocol/redis-contract.ts';
import { freshPrefix, LineClient, MOVIES, Publisher } from '../endpoint/helpers.ts';
import { freePort, makeTempDir, spawnRole, useRedis, waitFor, waitForLine } from '../harness/index.ts';

const server = useRedis();
const closers: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

describe('an --unlisted endpoint is listed only once God admits it', () => {
  it('absent from the registry, endpoints.json and redirects until healthOf admits it; present after', async () => {
    const prefix = freshPrefix('admit');
    const keys = redisContract(prefix);
    const pub = new Publisher(server().url, prefix);
    closers.push(() => pub.redis.disconnect());
    await pub.catalog(MOVIES);
    await pub.ranking(MOVIES.map((m, i) => ({ id: m.id, title: m.title, count: 10 - i })));
    const redis = pub.redis;

    // a listed endpoint that sends every client past the first elsewhere, if it knows an elsewhere
    const busyPort = await freePort();
    const busy = spawnRole('endpoint', {
      redisUrl: server().url,
      prefix,
      id: 'endpoint-busy',
      args: ['--host', '127.0.0.1', '--port', String(busyPort), '--soft-limit', '1'],
    });
    await waitForLine(busy, /"msg":"listening"/, 30_000);
    const dir = makeTempDir('admit-list');
    const listFile = path.join(dir, 'endpoints.json');
    spawnRole('keeper', {
      redisUrl: server().url,
      prefix,
      id: 'keeper-1',
      args: [
        '--archive',
        `file://${dir}`,
        '--spool-dir',
        makeTempDir('admit-spool'),
        '--endpoints-interval',
        '300ms',
      ],
    });
    const listed = () =>
      fs.existsSync(listFile)
        ? parseEndpointList(fs.readFileSync(listFile, 'utf8')).endpoints.map((e) => e.port)
        : [];
    await waitFor(() => listed().includes(busyPort), 20_000, 'the busy endpoint in endpoints.json');

    // the new one, as a deploy starts it: FG_ENDPOINT_UNLISTED, at release r2
    const port = await freePort();
    const proc = { role: 'endpoint' as const, id: 'endpoint-new', env: { FG_ENDPOINT_UNLISTED: '1' } };
    const before = await heartbeatStarts(redis, keys, [proc]);
    const child = spawnRole('endpoint', {
      redisUrl: server().url,
      prefix,
      id: proc.id,
      args: ['--host', '127.0.0.1', '--port', String(port)],
      env: { FG_ENDPOINT_UNLISTED: '1', FG_RELEASE: 'r2' },
    });
    await waitForLine(child, /"msg":"listening"/, 30_000);
    // it serves (God's check reaches it directly) and beats, but is nowhere a client could find it
    await waitFor(
      async () => (await redis.exists(keys.heartbeat('endpoint', proc.id))) === 1,
      10_000,
      'its beat',
    );
    await new Promise((r) => setTimeout(r, 2500)); // more than a registry beat and several keeper ticks
    expect(await redis.zrange(keys.endpointIndex, 0, '-1')).toEqual(['endpoint-busy']);
    expect(await redis.get(keys.endpoint(proc.id))).toBeNull();
    expect(listed()).toEqual([busyPort]);
    const c1 = await LineClient.connect(busyPort);
    closers.push(() => c1.close());
    c1.hello();
    await c1.next('set_movies');
    const c2 = await LineClient.connect(busyPort);
    closers.push(() => c2.close());
    c2.hello();
    // over the soft limit with no other listed endpoint: kept here, not sent to the unlisted one
    expect((await c2.next('set_movies')).action).toBe('set_movies');

    // `god endpoints` shows it all the same, marked unlisted (plain and --json)
    fs.writeFileSync(path.join(dir, 'god.config.yaml'), `provider: local\nredis:\n  prefix: "${prefix}"\n`);
    const endpoints = async (json: boolean) => {
      const r = await godIn(['endpoints', ...(json ? ['--json'] : []), '--redis', server().url], {
        cwd: dir,
      });
      expect(r.code).toBe(0);
      return json ? resultOf(r, 'endpoints', EndpointsReportSchema) : r.stdout;
    };
    const shown = (await endpoints(true)) as EndpointsReport;
    expect(shown.endpoints.map((e) => e.id)).toEqual(['endpoint-busy']);
    expect(shown.unlisted).toEqual([
      { id: proc.id, host: expect.any(String), version: 'r2', admitted: null, clients: 0 },
    ]);
    expect(await endpoints(false)).toMatch(/endpoint-new .* unlisted \(not admitted at r2\)/);

    // an admission of another release does not list it
    await admitEndpoint(redis, keys, proc.id, 'r1');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await redis.get(keys.endpoint(proc.id))).toBeNull();
    expect(((await endpoints(true)) as EndpointsReport).unlisted).toMatchObject([
      { id: proc.id, version: 'r2', admitted: 'r1' },
    ]);

    // God's health check of the deploy: heartbeat at r2, then connect → set_movies, then the admission
    const host: DeployHost = {
      name: 'h',
      address: '127.0.0.1',
      port: 22,
      baseDir: '/nonexistent',
      processes: [{ ...proc, endpoint: { host: '127.0.0.1', port } }],
    };
    const err = await healthOf(redis, keys, undefined, host, host.processes, 'r2', before, 20_000);
    expect(err).toBeUndefined();
    // healthOf returned once the record was there: listed now, without waiting for a beat
    expect(await redis.hget(keys.endpointAdmitted, proc.id)).toBe('r2');
    expect(await redis.zrange(keys.endpointIndex, 0, '-1')).toContain(proc.id);
    await waitFor(() => listed().includes(port), 10_000, 'the admitted endpoint in endpoints.json');
    const after = (await endpoints(true)) as EndpointsReport;
    expect(after.unlisted).toEqual([]);
    expect(after.endpoints.map((e) => e.id)).toEqual(['endpoint-busy', proc.id]);

    // and the busy endpoint now sends its next client to it
    await waitFor(
      async () => {
        const c = await LineClient.connect(busyPort);
        closers.push(() => c.close());
        c.hello();
        await c.until((msgs) => msgs.length > 0, 5000, 'a first message');
        const m = c.messages[0]!;
        return m.action === 'reconnect' && m.params.port === port;
      },
      10_000,
      'a redirect to the admitted endpoint',
    );
  }, 90_000);
});
