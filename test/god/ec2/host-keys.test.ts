// Host keys God makes for its instances: the user-data cloud-init applies (alone, or with the config's own
// user_data as a second MIME part), the tag, and pinning in known_hosts (a stale key for a reused address
// replaced, every other line kept, the file 0600 in a 0700 folder).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  generateHostKey,
  HOST_KEY_TAG,
  pinHostKey,
  pinnedKeyOf,
  userDataWith,
} from '../../../god/core/providers/ec2/host-keys.ts';
import { KnownHosts } from '../../../god/core/ssh/known-hosts.ts';
import { makeTempDir } from '../../harness/index.ts';

describe('ec2 host keys', () => {
  it('user-data gives cloud-init the key as the only host key', () => {
    const key = generateHostKey();
    expect(key.public).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+$/);
    const cfg = YAML.parse(userDataWith(key));
    expect(cfg).toEqual({
      ssh_deletekeys: true,
      ssh_genkeytypes: [],
      ssh_keys: { ed25519_private: `${key.private.trimEnd()}\n`, ed25519_public: key.public },
    });
  });

  it("the config's user_data rides along as a second MIME part", () => {
    const key = generateHostKey();
    const ud = userDataWith(key, '#!/bin/sh\necho hello\n');
    expect(ud).toMatch(/^Content-Type: multipart\/mixed; boundary="([^"]+)"/);
    const parts = ud.split('--GOD-USER-DATA-BOUNDARY');
    expect(parts).toHaveLength(4);
    expect(parts[1]).toContain('Content-Type: text/cloud-config');
    expect(parts[1]).toContain(`ed25519_public: ${key.public}`);
    expect(parts[2]).toContain('Content-Type: text/x-shellscript');
    expect(parts[2]).toContain('echo hello');
    expect(parts[3]).toMatch(/^--/);
  });

  it('pins the tagged key for the address, replacing a stale one and keeping every other line', () => {
    const dir = path.join(makeTempDir('hostkeys'), 'ssh');
    const file = path.join(dir, 'known_hosts');
    const old = generateHostKey().public;
    const other = generateHostKey().public;
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.writeFileSync(
      file,
      [
        '# mine',
        `10.0.0.5 ${old}`,
        `10.0.0.5,10.0.0.6 ${old}`,
        `10.0.0.* ${other}`,
        `[10.0.0.5]:2222 ${other}`,
        '',
      ].join('\n'),
    );
    const key = generateHostKey();
    const instance = { InstanceId: 'i-1', Tags: [{ Key: HOST_KEY_TAG, Value: key.public }] };
    expect(pinnedKeyOf({ InstanceId: 'i-2' })).toBeUndefined();
    const known = new KnownHosts(file);
    const r = pinHostKey(known, instance, { address: '10.0.0.5', port: 22 });
    expect(r.pinned).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toBe(
      [
        '# mine',
        `10.0.0.6 ${old}`,
        `10.0.0.* ${other}`,
        `[10.0.0.5]:2222 ${other}`,
        `10.0.0.5 ${key.public}`,
        '',
      ].join('\n'),
    );
    expect(known.check('10.0.0.5', 22, pinnedKeyOf(instance)!).status).toBe('match');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('a new known_hosts is made 0600 in a 0700 folder', () => {
    const file = path.join(makeTempDir('hostkeys'), 'new', 'known_hosts');
    const key = generateHostKey();
    pinHostKey(
      new KnownHosts(file),
      { Tags: [{ Key: HOST_KEY_TAG, Value: key.public }] },
      { address: 'h', port: 2200 },
    );
    expect(fs.readFileSync(file, 'utf8')).toBe(`[h]:2200 ${key.public}\n`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  });
});
