// Fleet data: the processes (expected joined with heartbeats), the machines, and what the header names.
import type { ProcessState } from '../../core/process-states.ts';
import { PROCESS_STATES } from '../../core/process-states.ts';
import type { RoleSettings } from '../../core/process-options.ts';
import type { LastExit, Machine } from '../../core/providers/types.ts';
import type { Changes } from './changes.ts';

export interface ProcessRow {
  role: string;
  id: string;
  host: string;
  /** god status's states (core/process-states.ts) */
  state: ProcessState;
  pid?: number;
  version?: string;
  /** ms since epoch */
  startedAt?: number;
  /** percent of one core */
  cpu?: number;
  /** bytes */
  rss?: number;
  clients?: number;
  tweetsPerS?: number;
  /** ms since epoch of the last heartbeat */
  beatAt?: number;
  /** restarts its supervisor made (pm2's ↺), when the provider knows */
  restarts?: number;
  /** how it last ended, when the provider knows */
  lastExit?: LastExit;
  /** every gauge of its last heartbeat */
  gauges?: Readonly<Record<string, number>>;
}

export interface HeaderInfo {
  fleet?: string;
  redis?: string;
  note?: string;
}

export class FleetData {
  processes: readonly ProcessRow[] = [];
  machines: readonly Machine[] = [];
  header: HeaderInfo = {};
  /** each role's options and env from the config, secrets redacted (core/process-options.ts) */
  settings: Readonly<Record<string, RoleSettings>> = {};

  constructor(private readonly changes: Changes) {}

  setProcesses(rows: readonly ProcessRow[]): void {
    // stable order (role, host, id) so the selection does not jump between polls
    this.processes = [...rows].sort(
      (a, b) =>
        a.role.localeCompare(b.role) ||
        a.host.localeCompare(b.host) ||
        a.id.localeCompare(b.id) ||
        PROCESS_STATES[a.state].order - PROCESS_STATES[b.state].order,
    );
    this.changes.data();
  }

  setMachines(machines: readonly Machine[]): void {
    this.machines = machines;
    this.changes.data();
  }

  setSettings(s: Record<string, RoleSettings>): void {
    this.settings = s;
    this.changes.data();
  }

  setHeader(h: HeaderInfo): void {
    this.header = { ...this.header, ...h };
    this.changes.data();
  }
}
