// The protocol package: wire messages, NDJSON framing and the Redis contract.
export * from './messages.ts';
export * from './ndjson.ts';
export * from './redis-contract.ts';
