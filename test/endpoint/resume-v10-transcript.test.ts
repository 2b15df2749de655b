// A protocol 1.0 session recorded from the endpoint before protocol 1.1 existed (fixtures/v1.0-transcript.json,
// written with RECORD_TRANSCRIPT=1 at commit a5a1b0e) replays byte for byte against today's endpoint: a client
// that never says `protocol: "1.1"` gets exactly the lines it got before. It sends `since` too (unknown to 1.0,
// so ignored), good and bad.
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../harness/index.ts';
import {
  freshPrefix,
  LineClient,
  MOVIES,
  Publisher,
  type StartedEndpoint,
  sleep,
  startEndpoint,
} from './helpers.ts';

const FIXTURE = new URL('./fixtures/v1.0-transcript.json', import.meta.url);
const RECORD = process.env.RECORD_TRANSCRIPT === '1';

let redis: RedisServer;
let ep: StartedEndpoint;
let pub: Publisher;

/** A fixed tweet, so the transcript does not depend on the clock. */
const tweet = (n: number) => ({
  id: String(1850000000000000000n + BigInt(n)),
  text: `tweet ${n} 🎬 "quoted" \\ back`,
  created_at: new Date(Date.UTC(2024, 9, 26, 12, 0, n % 60)).toISOString(),
  user: { name: `User ${n}`, screen_name: `u${n}` },
});

type Step = { send?: string[]; publish?: { movie: number; from: number; to: number } };
const STEPS: Step[] = [
  { send: ['{"action":"connect","params":{"client":{"app":"old-ios","version":"3.1.0","platform":"ios"}}}'] },
  { send: ['{"action":"start_feed","params":{"movie_id":1}}'] },
  { publish: { movie: 1, from: 30, to: 33 } },
  { send: ['{"action":"ping","params":{"id":{"n":1,"s":"x"}}}'] },
  { send: ['{"action":"start_feed","params":{"movie_id":2,"since":{"offset":"1-0","epoch":"abc"}}}'] },
  { publish: { movie: 2, from: 40, to: 41 } },
  { send: ['{"action":"start_feed","params":{"movie_id":3,"since":"garbage"}}'] },
  {
    send: [
      '{"action":"start_feed","params":{"movie_id":999}}',
      '{"action":"start_feed","params":{"movie_id":"1"}}',
    ],
  },
  {
    send: [
      'not json',
      '{"action":"dance"}',
      '{"action":"connect","params":{"client":{"app":"old-ios","version":"3.1.0"},"protocol":1}}',
    ],
  },
  { send: ['{"action":"stop_feed"}'] },
  { publish: { movie: 3, from: 50, to: 51 } },
  { send: ['{"action":"ping"}'] },
];

beforeAll(async () => {
  redis = await startRedis();
  const prefix = freshPrefix('v10');
  pub = new Publisher(redis.url, prefix);
  await pub.catalog(MOVIES);
  // a ranking that covers the whole catalog, with a fixed `at`
  const p = pub.redis.multi();
  p.set(
    pub.keys.ranking,
    JSON.stringify({
      movies: [
        { id: 2, title: 'Heat', count: 9 },
        { id: 1, title: 'Arrival', count: 5 },
        { id: 3, title: 'Alien', count: 1 },
      ],
      window_s: 3600,
      at: '2024-10-26T12:00:00.000Z',
    }),
  );
  await p.exec();
  await pub.publish(
    1,
    Array.from({ length: 25 }, (_, i) => tweet(i)),
  );
  await pub.publish(2, [tweet(100), tweet(101)]);
  ep = await startEndpoint(redis.url, prefix, ['--sync', '10s']);
});

afterAll(async () => {
  await ep?.stop();
  await pub?.close();
  await redis?.stop();
});

/** Run the steps; after each, the lines received until the connection is quiet for a while. */
async function run(): Promise<Array<{ step: Step; got: string[] }>> {
  const c = await LineClient.connect(ep.port);
  const out: Array<{ step: Step; got: string[] }> = [];
  try {
    for (const step of STEPS) {
      const from = c.raw.length;
      for (const l of step.send ?? []) c.send(`${l}\n`);
      if (step.publish) {
        const ts = [];
        for (let n = step.publish.from; n < step.publish.to; n++) ts.push(tweet(n));
        await pub.publish(step.publish.movie, ts);
      }
      let seen = -1;
      while (seen !== c.raw.length) {
        seen = c.raw.length;
        await sleep(250);
      }
      out.push({ step, got: c.raw.slice(from) });
    }
  } finally {
    c.close();
  }
  return out;
}

it('a 1.0 client gets the lines it got before protocol 1.1, byte for byte', async () => {
  const got = await run();
  if (RECORD) {
    fs.writeFileSync(FIXTURE, `${JSON.stringify(got, null, 1)}\n`);
    return;
  }
  const want = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Array<{ step: Step; got: string[] }>;
  expect(got.map((x) => x.step)).toEqual(want.map((x) => x.step));
  for (let i = 0; i < want.length; i++)
    expect(got[i]!.got, `step ${i}: ${JSON.stringify(want[i]!.step)}`).toEqual(want[i]!.got);
  // the recording is not trivially empty
  expect(want.flatMap((x) => x.got).length).toBeGreaterThan(30);
});
