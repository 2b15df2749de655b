// What a Redis deployment text must look like, for the roles' --redis flag and God's redis.url alike: one server,
// a Sentinel set or a Cluster (the grammar and its parser: kernel/redis-deployment.ts).
import { z } from 'zod';
import { parseRedisDeployment, RedisUrlError } from './redis-deployment.ts';

export const redisUrl = z.string().superRefine((u, ctx) => {
  try {
    parseRedisDeployment(u);
  } catch (err) {
    if (!(err instanceof RedisUrlError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});
