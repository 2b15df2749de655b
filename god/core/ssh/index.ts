export * from './connection.ts';
export * from './errors.ts';
export * from './known-hosts.ts';
export * from './pool.ts';
export * from './types.ts';
