// A real Prometheus scraping a running local fleet (feeder, two endpoints, keeper: real role processes on a
// private redis-server) through the file_sd file the keeper writes next to endpoints.json: every process is
// up, the PromQL answers match what the test did, a stopped endpoint leaves the targets, every role's /metrics
// passes `promtool check metrics` and holds exactly the table's metrics, and /readyz follows Redis.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS, type MetricRole, metricsOf } from '../../protocol/metrics.ts';
import { PROM_TARGETS_FILE } from '../../protocol/prom-targets.ts';
import { readHeartbeats } from '../../roles/runtime/heartbeat.ts';
import { redisContract } from '../../protocol/redis-contract.ts';
import { RoleMetrics } from '../../roles/runtime/metrics.ts';
import { waitReady } from '../../god/core/deploy/health.ts';
import { addReadiness, joinStatus, readHeartbeatView } from '../../god/core/status.ts';
import { LineClient } from '../endpoint/helpers.ts';
import {
  freePort,
  killTracked,
  makeTempDir,
  type RedisServer,
  skipWithout,
  spawnRole,
  spawnTracked,
  startRedis,
  waitFor,
} from '../harness/index.ts';
import { Redis } from 'ioredis';

const hasProm = spawnSync('prometheus', ['--version']).status === 0;
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
const PREFIX = 'pm:';
const keys = redisContract(PREFIX);
const ADMIN = { FG_ADMIN_LISTEN: '127.0.0.1:0' };

interface Target {
  targets: string[];
  labels: Record<string, string>;
}

describe.skipIf(skipWithout({ prometheus: hasProm, promtool: hasPromtool }, 'apt-get install -y prometheus'))(
  'metrics of a running fleet, scraped by Prometheus',
  () => {
    let redis: RedisServer;
    let client: Redis;
    let archive: string;
    let promUrl: string;
    const procs = new Map<string, ChildProcess>();
    const clients: LineClient[] = [];

    const targets = (): Target[] => {
      try {
        return JSON.parse(fs.readFileSync(path.join(archive, PROM_TARGETS_FILE), 'utf8'));
      } catch {
        return [];
      }
    };
    const adminOf = (id: string) => targets().find((t) => t.labels.process === id)?.targets[0];
    const query = async (
      q: string,
    ): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
      const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await r.json()) as { status: string; data: { result: [] } };
      if (body.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(body)}`);
      return body.data.result;
    };
    const scalar = async (q: string) => {
      const r = await query(q);
      return r.length ? Number(r[0]!.value[1]) : Number.NaN;
    };

    beforeAll(async () => {
      redis = await startRedis();
      client = new Redis(redis.url, { maxRetriesPerRequest: null });
      client.on('error', () => {}); // Redis is stopped on purpose in the last test
      archive = makeTempDir('metrics-archive');
      const common = { redisUrl: redis.url, prefix: PREFIX, env: ADMIN };
      procs.set(
        'feeder-m',
        spawnRole('feeder', {
          ...common,
          id: 'feeder-m',
          args: ['--catalog', 'data/test-catalog.json', '--source', 'synthetic', '--rate', '200'],
        }),
      );
      for (const id of ['endpoint-m1', 'endpoint-m2']) {
        procs.set(id, spawnRole('endpoint', { ...common, id, args: ['--port', '0', '--host', '127.0.0.1'] }));
      }
      procs.set(
        'keeper-m',
        spawnRole('keeper', {
          ...common,
          id: 'keeper-m',
          args: ['--archive', `file://${archive}`, '--endpoints-interval', '1s', '--flush', '1s'],
        }),
      );
      await waitFor(() => targets().length === 4, 60_000, 'four targets in the file_sd file');

      const port = await freePort();
      const dir = makeTempDir('prometheus');
      const config = path.join(dir, 'prometheus.yml');
      fs.writeFileSync(
        config,
        [
          'global: { scrape_interval: 1s, evaluation_interval: 1s }',
          'scrape_configs:',
          '  - job_name: filmgrain',
          '    file_sd_configs:',
          `      - files: ['${path.join(archive, PROM_TARGETS_FILE)}']`,
          '        refresh_interval: 1s',
          '',
        ].join('\n'),
      );
      spawnTracked(
        'prometheus',
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${path.join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { name: 'prometheus' },
      );
      promUrl = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true,
        30_000,
        'prometheus ready',
      );
    }, 120_000);

    afterAll(async () => {
      for (const c of clients) c.socket.destroy();
      client?.disconnect();
      await redis?.stop();
    });

    it('sees every process up, the connected clients and the published tweets', async () => {
      const beats = await readHeartbeats(client, keys);
      // 3 clients on one endpoint, 2 on the other
      const ports = beats
        .filter((b) => b.role === 'endpoint')
        .map((b) => b.id)
        .sort();
      const records = await Promise.all(
        ports.map(async (id) => JSON.parse((await client.get(keys.endpoint(id)))!)),
      );
      for (const [i, n] of [3, 2].entries()) {
        for (let j = 0; j < n; j++) {
          const c = await LineClient.connect(records[i].port);
          c.hello();
          clients.push(c);
        }
      }
      await waitFor(async () => (await scalar('count(up == 1)')) === 4, 30_000, 'four targets up');
      const up = await query('up');
      expect(up.map((s) => s.metric.process).sort()).toEqual([
        'endpoint-m1',
        'endpoint-m2',
        'feeder-m',
        'keeper-m',
      ]);
      for (const s of up) {
        expect(Object.keys(s.metric)).toEqual(expect.arrayContaining(['role', 'process', 'host', 'release']));
        expect(s.metric.role).toBe(s.metric.process!.replace(/-m\d?$/, ''));
      }
      await waitFor(
        async () => (await scalar('sum(filmgrain_endpoint_clients)')) === 5,
        20_000,
        'five clients counted',
      );
      expect(await scalar('filmgrain_endpoint_clients{process="endpoint-m1"}')).toBe(3);
      await waitFor(
        async () => (await scalar('rate(filmgrain_feeder_tweets_published_total[30s])')) > 0,
        20_000,
        'tweets published per second',
      );
      expect(await scalar('sum(filmgrain_endpoint_messages_in_total{action="connect"})')).toBe(5);
      expect(await scalar('filmgrain_keeper_archive_up')).toBe(1);
    }, 90_000);

    it('every role exports exactly the metric table (plus the Node defaults) and passes promtool check metrics', async () => {
      const defaults = new Set(
        (await new RoleMetrics('feeder').registry.getMetricsAsJSON())
          .map((m) => m.name)
          .filter((n) => !(n in METRICS)),
      );
      for (const [role, id] of [
        ['endpoint', 'endpoint-m1'],
        ['feeder', 'feeder-m'],
        ['keeper', 'keeper-m'],
      ] as Array<[MetricRole, string]>) {
        const text = await (await fetch(`http://${adminOf(id)}/metrics`)).text();
        const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
        for (const name of metricsOf(role)) expect(exported, `${role} exports ${name}`).toContain(name);
        const outside = [...exported].filter(
          (n) => n.startsWith('filmgrain_') && !(n in METRICS) && !defaults.has(n),
        );
        expect(outside, `${role}: filmgrain_* metrics outside protocol/metrics.ts`).toEqual([]);
        for (const n of exported)
          if (n in METRICS) expect(METRICS[n as keyof typeof METRICS].role).toBe(role);
        const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
        expect(`${lint.stdout}${lint.stderr}`.trim(), `promtool on ${role}`).toBe('');
        expect(lint.status).toBe(0);
      }
    }, 30_000);

    it('a stopped endpoint leaves the targets file and Prometheus', async () => {
      await killTracked(procs.get('endpoint-m2')!, { signal: 'SIGTERM' });
      await waitFor(
        () => !targets().some((t) => t.labels.process === 'endpoint-m2'),
        20_000,
        'target removed',
      );
      await waitFor(
        async () => {
          const r = await fetch(`${promUrl}/api/v1/targets?state=active`);
          const body = (await r.json()) as {
            data: { activeTargets: Array<{ labels: Record<string, string> }> };
          };
          const live = body.data.activeTargets.map((t) => t.labels.process);
          return !live.includes('endpoint-m2') && live.includes('endpoint-m1');
        },
        20_000,
        'prometheus dropped the target',
      );
    }, 60_000);

    it('/readyz is not ready while Redis is down, and ready again when it is back', async () => {
      const admin = adminOf('endpoint-m1')!;
      const readyz = async () => {
        const r = await fetch(`http://${admin}/readyz`);
        return { status: r.status, body: (await r.json()) as { ready: boolean; why?: string[] } };
      };
      expect((await readyz()).status).toBe(200);
      await redis.kill();
      let seen: { status: number; body: { ready: boolean; why?: string[] } } | undefined;
      await waitFor(async () => (seen = await readyz()).status === 503, 15_000, 'not ready without Redis');
      expect(seen!.body.ready).toBe(false);
      expect(seen!.body.why!.join(' ')).toMatch(/redis/);
      // alive all the same; God's deploy health waits on /readyz and names why
      expect((await fetch(`http://${admin}/healthz`)).status).toBe(200);
      const health = await waitReady(admin, 500);
      expect(health.ok).toBe(false);
      expect(health.ok ? '' : health.error).toMatch(/not ready \(\/readyz at .*redis/);
      await redis.start();
      await waitFor(async () => (await readyz()).status === 200, 20_000, 'ready again with Redis back');
      expect(await waitReady(admin, 2000)).toEqual({ ok: true });
    }, 60_000);

    it("god status shows each process's admin address and its /readyz (a draining endpoint is not ready)", async () => {
      const fr = { url: redis.url, redis: client, keys, duplicate: () => client, close: () => {} };
      const status = async () => {
        const view = await readHeartbeatView(fr);
        const expected = view.live.map((h) => ({ role: h.role, id: h.id, host: h.host }));
        const { processes } = joinStatus(expected, view);
        return { processes, notReady: await addReadiness(processes) };
      };
      // just after the Redis restart of the previous test: every process beats and is ready again
      await waitFor(
        async () => {
          const s = await status();
          return s.processes.length === 3 && s.notReady === 0;
        },
        20_000,
        'three processes beating and ready',
      );
      const before = await status();
      expect(before.notReady, JSON.stringify(before.processes.map((p) => [p.id, p.ready]))).toBe(0);
      for (const p of before.processes) {
        expect(p.admin).toMatch(/^127\.0\.0\.1:\d+$/);
        expect(p.ready).toEqual({ ready: true, why: [] });
      }
      await client.publish(keys.control('endpoint', 'endpoint-m1'), JSON.stringify({ cmd: 'drain' }));
      await waitFor(async () => (await status()).notReady === 1, 10_000, 'the draining endpoint not ready');
      const ep = (await status()).processes.find((p) => p.id === 'endpoint-m1')!;
      expect(ep.state).toBe('up');
      expect(ep.ready?.why.join(' ')).toMatch(/draining/);
    }, 40_000);
  },
);
