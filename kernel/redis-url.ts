// What a Redis URL must look like, for the roles' --redis flag and God's redis.url alike.
import { z } from 'zod';

export const redisUrl = z
  .string()
  .refine((u) => /^rediss?:\/\//.test(u), 'must start with redis:// or rediss://')
  .refine((u) => URL.canParse(u), 'is not a valid URL');
