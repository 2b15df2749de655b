// Turn ssh2/socket failures into errors an operator can act on.
import { UserError } from '../../../kernel/errors.ts';
import { knownHostName } from './known-hosts.ts';
import type { SshTarget } from './types.ts';

export type HostKeyProblem =
  | { kind: 'mismatch'; got: string; expected: string[] }
  | { kind: 'unknown'; got: string }
  | { kind: 'revoked'; got: string };

const where = (t: SshTarget) => `${t.name} (${t.user ?? ''}${t.user ? '@' : ''}${t.address}:${t.port ?? 22})`;

export function connectError(
  t: SshTarget,
  err: Error & { code?: string; level?: string },
  knownHostsPath: string,
  hostKey?: HostKeyProblem,
): UserError {
  const port = t.port ?? 22;
  if (hostKey?.kind === 'mismatch') {
    return new UserError(
      `host key of ${where(t)} does not match known_hosts (${knownHostsPath}): got ${hostKey.got}, expected ${hostKey.expected.join(' or ')}. Refusing to connect: this could be a man-in-the-middle, or the host was reinstalled.`,
      {
        code: 'GOD_SSH_HOSTKEY',
        hint: `If the host really was rebuilt, remove its old key with \`ssh-keygen -R '${knownHostName(t.address, port)}' -f ${knownHostsPath}\` and run again with --accept-new (GOD_SSH_ACCEPT_NEW=1).`,
        cause: err,
      },
    );
  }
  if (hostKey?.kind === 'revoked') {
    return new UserError(
      `host key of ${where(t)} (${hostKey.got}) is marked @revoked in ${knownHostsPath}.`,
      {
        code: 'GOD_SSH_HOSTKEY',
        hint: 'Give the host a new host key and pin it in known_hosts.',
        cause: err,
      },
    );
  }
  if (hostKey?.kind === 'unknown') {
    return new UserError(
      `host ${where(t)} is not in known_hosts (${knownHostsPath}); its key is ${hostKey.got}.`,
      {
        code: 'GOD_SSH_HOSTKEY_UNKNOWN',
        hint: `Check the fingerprint, then add it (\`ssh-keyscan -p ${port} ${t.address} >> ${knownHostsPath}\`) or run with --accept-new (GOD_SSH_ACCEPT_NEW=1) to pin new hosts on first contact.`,
        cause: err,
      },
    );
  }
  if (err.level === 'client-authentication') {
    return new UserError(`SSH authentication failed for ${where(t)}: the host accepted none of our keys.`, {
      code: 'GOD_SSH_AUTH',
      hint: `Check the SSH user and key (--ssh-key / GOD_SSH_KEY, ssh.user in god.config.yaml) and that the public key is in ~${t.user ?? ''}/.ssh/authorized_keys on ${t.name}.`,
      cause: err,
    });
  }
  const netCodes: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is sshd running?)',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'no route to host',
    ENETUNREACH: 'network unreachable',
    ENOTFOUND: 'address not found (DNS)',
    EAI_AGAIN: 'DNS lookup failed',
    ECONNRESET: 'connection reset during the SSH handshake',
  };
  const why =
    (err.code && netCodes[err.code]) ||
    (err.level === 'client-timeout' ? 'no SSH handshake before the timeout' : undefined) ||
    (err.level === 'client-dns' ? 'address not found (DNS)' : undefined);
  if (why) {
    return new UserError(`host ${where(t)} is unreachable: ${why}.`, {
      code: 'GOD_SSH_UNREACHABLE',
      hint: `Check that the host is up, that sshd listens on port ${port}, and the address in the inventory; try \`ssh -p ${port} ${t.user ? `${t.user}@` : ''}${t.address}\` by hand.`,
      cause: err,
    });
  }
  return new UserError(`SSH connection to ${where(t)} failed: ${err.message}`, {
    code: 'GOD_SSH',
    hint: `Try \`ssh -p ${port} ${t.user ? `${t.user}@` : ''}${t.address}\` by hand to see what the host says.`,
    cause: err,
  });
}

/** The jump host is up but could not open a TCP forward to `t` (the target is down, or forwarding is off). */
export function forwardError(t: SshTarget, jump: SshTarget, err: Error): UserError {
  const port = t.port ?? 22;
  return new UserError(`host ${where(t)} is unreachable through ${where(jump)}: ${err.message}.`, {
    code: 'GOD_SSH_UNREACHABLE',
    hint: `Check that ${t.address}:${port} answers from the jump host (\`ssh -J ${jump.user ? `${jump.user}@` : ''}${jump.address}:${jump.port ?? 22} -p ${port} ${t.address}\`) and that the jump host's sshd allows TCP forwarding (AllowTcpForwarding).`,
    cause: err,
  });
}

export function noNodeError(t: SshTarget, nodeBin: string, detail: string): UserError {
  return new UserError(`Node.js is missing on ${where(t)}: \`${nodeBin}\` ${detail}.`, {
    code: 'GOD_SSH_NO_NODE',
    hint: `Install Node 20+ on ${t.name} (e.g. \`curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs\`), or set the node path for the host (node: in the inventory / GOD_NODE_BIN).`,
  });
}
