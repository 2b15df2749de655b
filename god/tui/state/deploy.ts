// Deploy progress for the deploy overlay: the step God is in and each host's latest progress.
import type { GodEvent } from '../../core/events.ts';
import type { Changes } from './changes.ts';

type HostEvent = Extract<GodEvent, { type: 'host' }>;
type StepEvent = Extract<GodEvent, { type: 'step' }>;

export type HostProgress = Pick<
  HostEvent,
  'host' | 'step' | 'phase' | 'progress' | 'detail' | 'ok' | 'error' | 'ms'
>;

export interface DeployState {
  running: boolean;
  startedAt: number;
  endedAt?: number;
  ok?: boolean;
  error?: string;
  /** the step God is in (upload, switch, restart, health...) */
  step?: string;
  hosts: HostProgress[];
}

export class DeployProgress {
  state?: DeployState;

  constructor(
    private readonly changes: Changes,
    private readonly now: () => number,
  ) {}

  get running(): boolean {
    return !!this.state?.running;
  }

  start(at: number = this.now()): DeployState {
    this.state = { running: true, startedAt: at, hosts: [] };
    this.changes.data();
    return this.state;
  }

  end(ok: boolean, error?: string): void {
    if (!this.state) return;
    this.state = { ...this.state, running: false, endedAt: this.now(), ok, error: error ?? this.state.error };
    this.changes.view();
  }

  step(ev: StepEvent): void {
    const d = this.state;
    if (!d) return;
    if (ev.phase === 'start') d.step = ev.step;
    else if (ev.ok === false) d.error = ev.error ?? `${ev.step} failed`;
    this.changes.data();
  }

  host(ev: HostEvent): void {
    const d = this.state;
    if (!d) return;
    const row: HostProgress = {
      host: ev.host,
      step: ev.step,
      phase: ev.phase,
      progress: ev.progress,
      detail: ev.detail,
      ok: ev.ok,
      error: ev.error,
      ms: ev.ms,
    };
    const i = d.hosts.findIndex((h) => h.host === ev.host);
    // a host that failed keeps its error visible even if a later step (rollback) reports on it
    if (i < 0) d.hosts = [...d.hosts, row].sort((a, b) => a.host.localeCompare(b.host));
    else {
      const prev = d.hosts[i]!;
      d.hosts[i] = prev.ok === false && row.ok !== false ? { ...row, error: prev.error } : row;
      d.hosts = [...d.hosts];
    }
    this.changes.data();
  }
}
