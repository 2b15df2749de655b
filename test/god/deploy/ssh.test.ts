// The SSH layer against real loopback sshd hosts: host keys (refused, unknown, accept-new), auth failure,
// unreachable host, missing Node, exec and SFTP upload.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SshConnection } from '../../../god/core/ssh/connection.ts';
import { parseKnownHosts } from '../../../god/core/ssh/known-hosts.ts';
import { makeTempDir, skipWithout, sshAvailable, useSshHosts } from '../../harness/index.ts';

describe.skipIf(skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server openssh-client'))(
  'ssh layer',
  () => {
    const getFleet = useSshHosts(2);
    const target = (i = 0) => {
      const h = getFleet().hosts[i]!;
      return { name: h.name, address: h.address, port: h.port, user: h.user };
    };
    const auth = () => ({ privateKey: getFleet().privateKey, connectTimeoutMs: 5000 });

    it('runs commands (exit code, stdout, stderr) and uploads with progress', async () => {
      const c = await SshConnection.connect(target(), {
        ...auth(),
        knownHostsPath: getFleet().knownHostsPath,
      });
      try {
        const r = await c.exec('echo out; echo err >&2; exit 3');
        expect(r).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
        expect(await c.exec('cat', { stdin: 'piped' })).toMatchObject({ code: 0, stdout: 'piped' });
        await expect(c.run('false', { what: 'probe' })).rejects.toMatchObject({ code: 'GOD_SSH_EXEC' });
        expect(await c.nodeVersion()).toMatch(/^\d+\.\d+\.\d+$/);
        const src = path.join(makeTempDir('ssh-up'), 'blob');
        fs.writeFileSync(src, Buffer.alloc(300_000, 7));
        const dest = path.join(getFleet().hosts[0]!.root, 'blob');
        const seen: number[] = [];
        await c.upload(src, dest, { onProgress: (d) => seen.push(d) });
        expect(fs.readFileSync(dest).equals(fs.readFileSync(src))).toBe(true);
        expect(seen.at(-1)).toBe(300_000);
      } finally {
        c.close();
      }
    });

    it('refuses a host whose key does not match known_hosts, even with accept-new', async () => {
      const dir = makeTempDir('kh');
      const bad = path.join(dir, 'known_hosts');
      // host1's name with host2's key: what a man in the middle looks like
      const h1 = getFleet().hosts[0]!;
      fs.writeFileSync(bad, `[${h1.address}]:${h1.port} ${getFleet().hosts[1]!.hostPublicKey}\n`);
      for (const acceptNew of [false, true]) {
        await expect(
          SshConnection.connect(target(), { ...auth(), knownHostsPath: bad, acceptNew }),
        ).rejects.toMatchObject({
          code: 'GOD_SSH_HOSTKEY',
          message: expect.stringMatching(/host key of host1 .* does not match known_hosts/),
          hint: expect.stringContaining('ssh-keygen -R'),
        });
      }
      expect(fs.readFileSync(bad, 'utf8').trim().split('\n')).toHaveLength(1);
    });

    it('refuses an unknown host by default and pins it with accept-new', async () => {
      const kh = path.join(makeTempDir('kh'), 'known_hosts');
      await expect(SshConnection.connect(target(), { ...auth(), knownHostsPath: kh })).rejects.toMatchObject({
        code: 'GOD_SSH_HOSTKEY_UNKNOWN',
        hint: expect.stringContaining('--accept-new'),
      });
      expect(fs.existsSync(kh)).toBe(false);
      const c = await SshConnection.connect(target(), { ...auth(), knownHostsPath: kh, acceptNew: true });
      c.close();
      const entries = parseKnownHosts(fs.readFileSync(kh, 'utf8'));
      const h1 = getFleet().hosts[0]!;
      expect(entries.map((e) => `${e.hosts} ${e.keyType} ${e.key.toString('base64')}`)).toEqual([
        `[${h1.address}]:${h1.port} ${h1.hostPublicKey}`,
      ]);
      // OpenSSH itself accepts the line we wrote
      const out = execFileSync('ssh-keygen', ['-F', `[${h1.address}]:${h1.port}`, '-f', kh], {
        encoding: 'utf8',
      });
      expect(out).toContain(h1.hostPublicKey);
      // and the pinned key is now enforced without accept-new
      (await SshConnection.connect(target(), { ...auth(), knownHostsPath: kh })).close();
    });

    it('matches hashed known_hosts entries (HashKnownHosts yes)', async () => {
      const kh = path.join(makeTempDir('kh'), 'known_hosts');
      fs.copyFileSync(getFleet().knownHostsPath, kh);
      execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
      expect(fs.readFileSync(kh, 'utf8')).toMatch(/^\|1\|/);
      (await SshConnection.connect(target(1), { ...auth(), knownHostsPath: kh })).close();
    });

    it('names an authentication failure', async () => {
      const dir = makeTempDir('key');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'k')]);
      await expect(
        SshConnection.connect(target(), {
          privateKeyPath: path.join(dir, 'k'),
          knownHostsPath: getFleet().knownHostsPath,
        }),
      ).rejects.toMatchObject({ code: 'GOD_SSH_AUTH', message: expect.stringContaining('host1') });
    });

    it('names an unreachable host and a missing Node', async () => {
      const kh = getFleet().knownHostsPath;
      await getFleet().stopHost(1);
      try {
        await expect(
          SshConnection.connect(target(1), { ...auth(), knownHostsPath: kh }),
        ).rejects.toMatchObject({
          code: 'GOD_SSH_UNREACHABLE',
          message: expect.stringMatching(/host2 .* is unreachable: connection refused/),
        });
      } finally {
        await getFleet().startHost(1);
      }
      const c = await SshConnection.connect(target(), { ...auth(), knownHostsPath: kh });
      try {
        await expect(c.nodeVersion('/opt/no-such-node/bin/node')).rejects.toMatchObject({
          code: 'GOD_SSH_NO_NODE',
          message: expect.stringContaining('Node.js is missing on host1'),
        });
      } finally {
        c.close();
      }
    });
  },
);
