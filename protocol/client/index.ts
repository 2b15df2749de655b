// The Filmgrain client SDK.
export * from './backoff.ts';
export * from './client.ts';
export * from './endpoint-source.ts';
