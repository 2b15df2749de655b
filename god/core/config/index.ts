// God's configuration: schema and types, loading with line-numbered errors, role environments.
export * from './load.ts';
export * from './role-env.ts';
export * from './schema.ts';
