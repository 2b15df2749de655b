// God's local redis-server keeps an append-only file in its state folder: killed (SIGKILL, like a crash or a
// reboot) and started again on the same folder, it still has what the fleet wrote — the log stream included.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type PrivateRedis, startPrivateRedis } from '../../god/core/local/redis-server.ts';
import { makeTempDir, waitFor } from '../harness/index.ts';

describe("god's local redis-server", () => {
  it('keeps the data in an append-only file in its state folder across a SIGKILL', async () => {
    const dir = makeTempDir('god-aof');
    let r: PrivateRedis | undefined = await startPrivateRedis({ bin: 'redis-server', dir });
    try {
      const c = new Redis(r.url);
      await c.xadd('fg:logs', '*', 'line', 'kept-across-restart');
      c.disconnect();
      // appendfsync everysec: wait until the write is in the file
      const aofDir = path.join(dir, 'appendonlydir');
      await waitFor(
        () =>
          fs.existsSync(aofDir) &&
          fs
            .readdirSync(aofDir)
            .some((f) => fs.readFileSync(path.join(aofDir, f), 'utf8').includes('kept-across-restart')),
        10_000,
        'the write in the append-only file',
      );
      process.kill(r.pid, 'SIGKILL');
      await r.stop();
      r = await startPrivateRedis({ bin: 'redis-server', dir });
      const c2 = new Redis(r.url);
      const entries = await c2.xrange('fg:logs', '-', '+');
      c2.disconnect();
      expect(entries.map(([, f]) => f[1])).toEqual(['kept-across-restart']);
    } finally {
      await r?.stop();
    }
  }, 60_000);
});
