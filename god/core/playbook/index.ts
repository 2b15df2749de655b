// Playbooks (`god play`): scripted fleet operations for CI, run through God's services.
export * from './load.ts';
export * from './runner.ts';
export * from './schema.ts';
