// What God needs to reach a host over SSH.
import os from 'node:os';
import path from 'node:path';

export interface SshTarget {
  /** inventory name (used in messages and events) */
  name: string;
  address: string;
  port?: number;
  user?: string;
}

export interface SshOptions {
  /** private key text; else `privateKeyPath`; else the agent / ~/.ssh/id_ed25519 / id_rsa */
  privateKey?: string | Buffer;
  privateKeyPath?: string;
  passphrase?: string;
  /** ssh-agent socket (default: $SSH_AUTH_SOCK when no key is given) */
  agent?: string;
  /** default ~/.ssh/known_hosts */
  knownHostsPath?: string;
  /** pin hosts missing from known_hosts (appending their key); a changed key is always refused */
  acceptNew?: boolean;
  /** TCP connect + handshake deadline (default 10 s) */
  connectTimeoutMs?: number;
  /** default user when a target names none (default: the local user) */
  user?: string;
  /**
   * A jump host (bastion, ProxyJump): every target is reached through a TCP forward on an SSH connection to
   * it. Its host key is pinned in the same known_hosts, with the same accept-new rule, as the targets'.
   */
  jump?: SshJump;
}

/** The jump host: where it is, and who logs in (defaults: the options' user and key). */
export interface SshJump {
  address: string;
  port?: number;
  user?: string;
  privateKeyPath?: string;
}

export const defaultKnownHosts = (): string => path.join(os.homedir(), '.ssh', 'known_hosts');

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}
