// An in-memory Provider: a fleet of numbered processes on one pretend machine, so the services over providers
// (god/core/operations.ts, plans) are tested in milliseconds. It behaves like the local fleet where that
// matters to callers: the machine starts with the first `up`, the lowest free numbers are added and the
// highest removed, unknown ids are an error before anything changes. `calls` records every call in order.
import type { ProviderKind } from '../../kernel/providers.ts';
import { UserError } from '../../kernel/errors.ts';
import type { Role } from '../../protocol/redis-contract.ts';
import { ROLES } from '../../god/core/config/schema.ts';
import type {
  ExpectedProcess,
  Machine,
  PlannedChange,
  PlanOp,
  Provider,
  Target,
} from '../../god/core/providers/types.ts';

export class MemoryProvider implements Provider {
  readonly kind: ProviderKind;
  readonly host: string;
  /** every call, in order: "up endpoint 2", "down endpoint-1", "plan restart all", "expected" ... */
  readonly calls: string[] = [];
  /** restarts per process id */
  readonly restarts = new Map<string, number>();
  private machineUp = false;
  private readonly running = new Map<Role, number[]>(ROLES.map((r) => [r, []]));

  constructor(o: { kind?: ProviderKind; host?: string; running?: Partial<Record<Role, number>> } = {}) {
    this.kind = o.kind ?? 'local';
    this.host = o.host ?? 'memory';
    for (const [role, n] of Object.entries(o.running ?? {}) as Array<[Role, number]>) {
      this.running.set(
        role,
        Array.from({ length: n }, (_, i) => i + 1),
      );
      if (n > 0) this.machineUp = true;
    }
  }

  async machines(): Promise<Machine[]> {
    this.calls.push('machines');
    return [
      {
        provider: this.kind,
        id: this.host,
        name: this.host,
        state: this.machineUp ? 'running' : 'stopped',
        roles: ROLES.filter((r) => this.running.get(r)!.length > 0),
      },
    ];
  }

  async expected(): Promise<ExpectedProcess[]> {
    this.calls.push('expected');
    return this.ids().map(({ role, id }) => ({ role, id, host: this.host }));
  }

  async up(role: Role, count: number): Promise<void> {
    this.calls.push(`up ${role} ${count}`);
    this.machineUp = true;
    const nums = this.running.get(role)!;
    for (const c of this.planUp(role, count)) {
      const n = Number(c.subject.split('-').pop());
      if (c.action === 'start') nums.push(n);
      else nums.splice(nums.indexOf(n), 1);
    }
    nums.sort((a, b) => a - b);
  }

  async down(target?: Target): Promise<void> {
    this.calls.push(`down ${label(target)}`);
    for (const { role, id } of this.select(target)) {
      const nums = this.running.get(role)!;
      nums.splice(nums.indexOf(Number(id.split('-').pop())), 1);
    }
    if (!target) this.machineUp = false;
  }

  async restart(target?: Target): Promise<void> {
    this.calls.push(`restart ${label(target)}`);
    for (const { id } of this.select(target)) this.restarts.set(id, (this.restarts.get(id) ?? 0) + 1);
  }

  async plan(op: PlanOp): Promise<PlannedChange[]> {
    this.calls.push(`plan ${op.op} ${op.op === 'up' ? `${op.role} ${op.count}` : label(op.target)}`);
    switch (op.op) {
      case 'up':
        return [
          ...(this.machineUp ? [] : [{ action: 'start', resource: 'machine', subject: this.host } as const]),
          ...this.planUp(op.role, op.count),
        ];
      case 'down':
        return [
          ...this.select(op.target).map(
            (p): PlannedChange => ({ action: 'stop', resource: 'process', subject: p.id }),
          ),
          ...(!op.target && this.machineUp
            ? [{ action: 'stop', resource: 'machine', subject: this.host } as const]
            : []),
        ];
      case 'restart':
      case 'deploy':
        return this.select(op.target).map((p) => ({ action: 'restart', resource: 'process', subject: p.id }));
    }
  }

  async close(): Promise<void> {
    this.calls.push('close');
  }

  private ids(): Array<{ role: Role; id: string }> {
    return ROLES.flatMap((role) => this.running.get(role)!.map((n) => ({ role, id: `${role}-${n}` })));
  }

  private planUp(role: Role, count: number): PlannedChange[] {
    const nums = this.running.get(role)!;
    const out: PlannedChange[] = [];
    for (let have = nums.length, n = 1; have < count; n++) {
      if (nums.includes(n)) continue;
      out.push({ action: 'start', resource: 'process', subject: `${role}-${n}` });
      have++;
    }
    for (const n of nums.slice(count))
      out.push({ action: 'stop', resource: 'process', subject: `${role}-${n}` });
    return out;
  }

  private select(t?: Target): Array<{ role: Role; id: string }> {
    const all = this.ids();
    const unknown = (t?.ids ?? []).filter((id) => !all.some((p) => p.id === id));
    if (unknown.length) {
      throw new UserError(`no process named ${unknown.join(', ')}`, { code: 'GOD_TARGET' });
    }
    return all.filter((p) => (!t?.role || p.role === t.role) && (!t?.ids?.length || t.ids.includes(p.id)));
  }
}

const label = (t?: Target) => (t ? [t.role, ...(t.ids ?? [])].filter(Boolean).join(',') : 'all');
