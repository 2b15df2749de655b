// A healthy fleet at low load does not cry wolf: real feeder, endpoint and keeper processes, a real
// redis-server, SMS read back from moto. Every role logs a summary line each --summary-interval (below the
// keeper's --silence), so three silence periods of quiet work send no SMS; stopping the feeder sends exactly
// one (naming the feeder, not the endpoint that keeps logging); starting it again exactly one recovery.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CATALOG } from '../feeder/helpers.ts';
import {
  killTracked,
  makeTempDir,
  type Moto,
  type RedisServer,
  sleep,
  spawnRole,
  startMoto,
  startRedis,
  waitFor,
  waitForLine,
} from '../harness/index.ts';

let redis: RedisServer;
let moto: Moto;
const procs: ChildProcess[] = [];
const SILENCE_MS = 3000;
const phone = '+15555550123';

beforeAll(async () => {
  [redis, moto] = await Promise.all([startRedis(), startMoto()]);
});
afterAll(async () => {
  for (const p of procs) await killTracked(p).catch(() => {});
  await Promise.all([redis?.stop(), moto?.stop()]);
});

function role(name: 'feeder' | 'endpoint' | 'keeper', args: string[], env: Record<string, string> = {}) {
  // a summary every second: well below the 3 s silence
  const p = spawnRole(name, {
    redisUrl: redis.url,
    prefix: 'quiet:',
    id: `q-${name}`,
    args,
    env: { FG_SUMMARY_INTERVAL: '1s', ...env },
  });
  procs.push(p);
  return p;
}

const feederArgs = ['--source', 'synthetic', '--rate', '2', '--catalog', TEST_CATALOG];

describe('a quiet, healthy fleet', () => {
  it('sends no SMS for 3 silence periods; a stopped feeder one; the feeder back one recovery', async () => {
    const sms = async () => (await moto.sentSms()).filter((s) => s.phone === phone);
    const keeper = role(
      'keeper',
      [
        '--archive',
        `file://${makeTempDir('q-archive')}`,
        '--flush',
        '500ms',
        '--silence',
        `${SILENCE_MS}ms`,
        '--alert-sms',
        phone,
      ],
      moto.env,
    );
    await waitForLine(keeper, /keeper running/, 20_000);
    let feeder = role('feeder', feederArgs);
    const endpoint = role('endpoint', ['--host', '127.0.0.1', '--port', '0']);
    await waitForLine(feeder, /"msg":"summary"/, 20_000);
    const line = await waitForLine(endpoint, /"msg":"summary"/, 20_000);
    expect(JSON.parse(line).summary).toMatchObject({ clients: 0, msgs_out: 0 });

    await sleep(3 * SILENCE_MS);
    expect(await sms()).toEqual([]);

    await killTracked(feeder);
    await waitFor(async () => (await sms()).length >= 1, 20_000, 'silence SMS for the feeder');
    await sleep(2 * SILENCE_MS);
    const down = await sms();
    expect(down).toHaveLength(1);
    expect(down[0]!.message).toMatch(/no logs from feeder/);
    expect(down[0]!.message).toContain('feeder q-feeder');
    expect(down[0]!.message).not.toContain('endpoint');

    feeder = role('feeder', feederArgs);
    await waitFor(async () => (await sms()).length >= 2, 20_000, 'recovery SMS');
    await sleep(2 * SILENCE_MS);
    const all = await sms();
    expect(all).toHaveLength(2);
    expect(all[1]!.message).toMatch(/feeder logs flowing again/);
  }, 120_000);
});
