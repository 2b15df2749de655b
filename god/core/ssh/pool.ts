// One shared SSH connection per host, opened on first use, dropped when it closes. With a jump host, one shared
// connection to it carries every host's (each a TCP forward on it).
import { SshConnection } from './connection.ts';
import type { SshOptions, SshTarget } from './types.ts';

export class SshPool {
  private readonly conns = new Map<string, Promise<SshConnection>>();
  private jumpP?: Promise<SshConnection>;
  constructor(readonly opts: SshOptions = {}) {}

  private key(t: SshTarget): string {
    return `${t.user ?? this.opts.user ?? ''}@${t.address}:${t.port ?? 22}`;
  }

  get(t: SshTarget): Promise<SshConnection> {
    const k = this.key(t);
    let p = this.conns.get(k);
    if (!p) {
      p = this.opts.jump
        ? this.jump().then((j) => SshConnection.connect(t, this.opts, j))
        : SshConnection.connect(t, this.opts);
      this.conns.set(k, p);
      p.then(
        (c) => c.onClose(() => this.conns.get(k) === p && this.conns.delete(k)),
        () => this.conns.get(k) === p && this.conns.delete(k),
      );
    }
    return p;
  }

  /** The shared jump host connection, opened on first use, forgotten when it closes or fails. */
  private jump(): Promise<SshConnection> {
    let p = this.jumpP;
    if (!p) {
      p = SshConnection.connectJump(this.opts);
      this.jumpP = p;
      const forget = () => {
        if (this.jumpP === p) this.jumpP = undefined;
      };
      p.then((c) => c.onClose(forget), forget);
    }
    return p;
  }

  /** Forget a host's connection (after an error), closing it. */
  drop(t: SshTarget): void {
    const k = this.key(t);
    const p = this.conns.get(k);
    this.conns.delete(k);
    p?.then((c) => c.close()).catch(() => {});
  }

  async closeAll(): Promise<void> {
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => {})));
    const j = this.jumpP;
    this.jumpP = undefined;
    await j?.then((c) => c.close()).catch(() => {});
  }
}
