// God's event stream: every service reports through it; the TUI, plain lines and --json NDJSON all read it.
import { EventEmitter } from 'node:events';

export type GodEvent =
  | {
      type: 'step';
      step: string;
      phase: 'start' | 'end';
      ok?: boolean;
      error?: string;
      ms?: number;
      /** extra facts of the step (playbook steps: index, kind, changed, changes) */
      data?: Record<string, unknown>;
    }
  /** one host's progress in a step (deploy upload, restart, health check...) */
  | {
      type: 'host';
      step: string;
      host: string;
      phase: 'start' | 'progress' | 'end';
      detail?: string;
      /** 0..1 for uploads and waits */
      progress?: number;
      ok?: boolean;
      error?: string;
      ms?: number;
    }
  | {
      type: 'machine';
      action: 'created' | 'running' | 'terminated' | 'exists';
      id: string;
      role: string;
      address?: string;
    }
  | {
      type: 'process';
      action: 'started' | 'exited' | 'restarting' | 'stopped';
      role: string;
      id: string;
      pid?: number;
      code?: number | null;
      detail?: string;
    }
  | { type: 'info' | 'warn' | 'error'; message: string; hint?: string; data?: Record<string, unknown> };

export interface EventSink {
  emit(ev: GodEvent): void;
}

/** An in-process bus; listeners get every event with its timestamp. */
export class EventBus implements EventSink {
  private readonly ee = new EventEmitter();
  constructor() {
    this.ee.setMaxListeners(100);
  }
  emit(ev: GodEvent): void {
    this.ee.emit('event', { ...ev, at: new Date().toISOString() });
  }
  on(fn: (ev: GodEvent & { at: string }) => void): () => void {
    this.ee.on('event', fn);
    return () => this.ee.off('event', fn);
  }
}

/** Run `fn` as a step: a start event, then an end event with ok or the error, and how long it took. */
export async function timedStep<T>(events: EventSink, step: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  events.emit({ type: 'step', step, phase: 'start' });
  try {
    const r = await fn();
    events.emit({ type: 'step', step, phase: 'end', ok: true, ms: Date.now() - t0 });
    return r;
  } catch (err) {
    const error = (err as Error).message;
    events.emit({ type: 'step', step, phase: 'end', ok: false, error, ms: Date.now() - t0 });
    throw err;
  }
}

/** A sink that drops everything (library use, tests that do not look). */
export const nullSink: EventSink = { emit() {} };
