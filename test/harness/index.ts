export * from './moto.ts';
export * from './ports.ts';
export * from './procs.ts';
export * from './redis.ts';
export * from './sshd.ts';
export * from './suite.ts';
export * from './tools.ts';
export * from './roles.ts';
