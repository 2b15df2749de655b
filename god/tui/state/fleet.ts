// Fleet data: the processes (expected joined with heartbeats), the machines, and what the header names.
import type { ProcessState } from '../../core/process-states.ts';
import { PROCESS_STATES } from '../../core/process-states.ts';
import type { Machine } from '../../core/providers/types.ts';
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

  setHeader(h: HeaderInfo): void {
    this.header = { ...this.header, ...h };
    this.changes.data();
  }
}
