// Host keys without trust on first use: God makes each new instance's SSH host key, hands the private half to
// the instance in its user-data (cloud-init `ssh_keys`, which replaces the keys the image would generate) and
// tags the instance with the public half; before the first connection the tag is pinned in known_hosts. The
// private key lives only in memory and in the RunInstances request (never on God's disk, in events or argv).
import type { Instance } from '@aws-sdk/client-ec2';
import ssh2 from 'ssh2';
import { UserError } from '../../../../kernel/errors.ts';
import { fingerprint, type KnownHosts } from '../../ssh/known-hosts.ts';

/** The instance tag holding its pinned public host key ("ssh-ed25519 AAAA…"). */
export const HOST_KEY_TAG = 'god:host-key';

export interface HostKey {
  /** OpenSSH private key (a secret: only ever in user-data) */
  private: string;
  /** "ssh-ed25519 AAAA…" */
  public: string;
}

export function generateHostKey(): HostKey {
  const k = ssh2.utils.generateKeyPairSync('ed25519');
  return { private: k.private, public: k.public.trim().split(/\s+/).slice(0, 2).join(' ') };
}

const indent = (text: string, by: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => by + l)
    .join('\n');

/**
 * The user-data of one instance: a cloud-config giving it `key` as its only host key, plus the config's own
 * user_data (as a second MIME part, so cloud-init runs both).
 */
export function userDataWith(key: HostKey, extra?: string): string {
  const cloudConfig = [
    '#cloud-config',
    '# host key made by God and pinned in its known_hosts: no trust on first use',
    'ssh_deletekeys: true',
    'ssh_genkeytypes: []',
    'ssh_keys:',
    '  ed25519_private: |',
    indent(key.private, '    '),
    `  ed25519_public: ${key.public}`,
    '',
  ].join('\n');
  if (!extra) return cloudConfig;
  const b = 'GOD-USER-DATA-BOUNDARY';
  const type = extra.startsWith('#cloud-config') ? 'text/cloud-config' : 'text/x-shellscript';
  return [
    `Content-Type: multipart/mixed; boundary="${b}"`,
    'MIME-Version: 1.0',
    '',
    `--${b}`,
    'Content-Type: text/cloud-config; charset="utf-8"',
    '',
    cloudConfig,
    `--${b}`,
    `Content-Type: ${type}; charset="utf-8"`,
    '',
    extra.trimEnd(),
    `--${b}--`,
    '',
  ].join('\n');
}

/** The public host key God made for `i` (its tag), as the raw blob known_hosts holds; undefined when untagged. */
export function pinnedKeyOf(i: Instance): Buffer | undefined {
  const v = i.Tags?.find((t) => t.Key === HOST_KEY_TAG)?.Value;
  const b64 = v?.split(/\s+/)[1];
  return b64 ? Buffer.from(b64, 'base64') : undefined;
}

/**
 * Pin the host key God made for instance `i` under the address God reaches it at, replacing what known_hosts
 * held for that address (EC2 reuses addresses: an old instance's key there is stale, not an attack).
 */
export function pinHostKey(
  known: KnownHosts,
  i: Instance,
  at: { address: string; port: number },
): { pinned: boolean; fingerprint?: string } {
  const blob = pinnedKeyOf(i);
  if (!blob) return { pinned: false };
  if (known.check(at.address, at.port, blob).status !== 'match') known.pin(at.address, at.port, blob);
  return { pinned: true, fingerprint: fingerprint(blob) };
}

/** The error for an instance whose host key is not the one God made for it. */
export function hostKeyMismatch(id: string, cause: UserError, keep: boolean): UserError {
  return new UserError(
    `${id}: its SSH host key is not the one God generated for it at launch (${cause.message.split('. Refusing')[0]}). God did not connect.`,
    {
      code: 'GOD_SSH_HOSTKEY',
      hint: keep
        ? `Look at ${id}'s console output (aws ec2 get-console-output --instance-id ${id}): did cloud-init apply the user-data? If it cannot be explained, terminate it: god down --id ${id}.`
        : `${id} was terminated. If this repeats, check that the image runs cloud-init (it applies the host key from user-data), then run \`god up\` again.`,
      cause,
    },
  );
}
