// What a process of each role is started with, as the config says (options and extra env), with every secret
// redacted by the kernel's redaction: what the dashboard's process detail shows.
import { redactFields } from '../../kernel/redact.ts';
import type { GodConfig } from './config/schema.ts';

export interface RoleSettings {
  options: Record<string, unknown>;
  env: Record<string, unknown>;
}

function redactRecord(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, redactFields(v, k)]));
}

export function roleSettings(config: GodConfig): Record<string, RoleSettings> {
  const out: Record<string, RoleSettings> = {};
  for (const [role, entry] of Object.entries(config.roles)) {
    out[role] = { options: redactRecord(entry.options), env: redactRecord(entry.env) };
  }
  return out;
}
