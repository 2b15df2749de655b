// known_hosts: verify a server's host key like OpenSSH does (plain and hashed entries), optionally pin new hosts.
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface KnownHostEntry {
  /** comma-separated patterns, or a hashed `|1|salt|hash` */
  hosts: string;
  keyType: string;
  /** raw public-key blob (what ssh2's hostVerifier receives) */
  key: Buffer;
  marker?: '@revoked' | '@cert-authority';
}

/** How OpenSSH names a host in known_hosts: `addr` for port 22, else `[addr]:port`. */
export function knownHostName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (parts[0] === '@revoked' || parts[0] === '@cert-authority')
      marker = parts.shift() as KnownHostEntry['marker'];
    if (parts.length < 3) continue;
    const [hosts, keyType, b64] = parts as [string, string, string];
    const key = Buffer.from(b64, 'base64');
    if (key.length === 0) continue;
    out.push({ hosts, keyType, key, marker });
  }
  return out;
}

function globToRegExp(glob: string): RegExp {
  const esc = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${esc}$`, 'i');
}

/** Whether an entry's host field names `name` (`addr` or `[addr]:port`). */
export function entryMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    const h = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return h === hash;
  }
  let hit = false;
  for (const pat of hosts.split(',')) {
    if (pat.startsWith('!')) {
      if (globToRegExp(pat.slice(1)).test(name)) return false;
    } else if (globToRegExp(pat).test(name)) hit = true;
  }
  return hit;
}

/** The key type name at the start of an SSH public-key blob ("ssh-ed25519", ...). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + Math.min(n, 64)).toString('latin1');
}

/** SHA256 fingerprint as OpenSSH prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export type HostKeyVerdict =
  | { status: 'match' }
  | { status: 'unknown' }
  | { status: 'mismatch'; expected: string[] }
  | { status: 'revoked' };

export function checkHostKey(
  entries: KnownHostEntry[],
  address: string,
  port: number,
  blob: Buffer,
): HostKeyVerdict {
  const name = knownHostName(address, port);
  const mine = entries.filter((e) => e.marker !== '@cert-authority' && entryMatches(e.hosts, name));
  if (mine.some((e) => e.marker === '@revoked' && e.key.equals(blob))) return { status: 'revoked' };
  const plain = mine.filter((e) => !e.marker);
  if (plain.some((e) => e.key.equals(blob))) return { status: 'match' };
  if (plain.length === 0) return { status: 'unknown' };
  return { status: 'mismatch', expected: plain.map((e) => `${e.keyType} ${fingerprint(e.key)}`) };
}

/** A known_hosts file, re-read when it changes on disk (several hosts may append to it during one deploy). */
export class KnownHosts {
  private cache?: { mtimeMs: number; size: number; entries: KnownHostEntry[] };
  constructor(readonly file: string) {}

  entries(): KnownHostEntry[] {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch {
      return [];
    }
    if (!this.cache || this.cache.mtimeMs !== st.mtimeMs || this.cache.size !== st.size) {
      this.cache = {
        mtimeMs: st.mtimeMs,
        size: st.size,
        entries: parseKnownHosts(fs.readFileSync(this.file, 'utf8')),
      };
    }
    return this.cache.entries;
  }

  check(address: string, port: number, blob: Buffer): HostKeyVerdict {
    return checkHostKey(this.entries(), address, port, blob);
  }

  /**
   * Make `blob` the one key of `address:port`: lines naming exactly that host (plain or hashed) are dropped,
   * then the key is added. For keys God knows from elsewhere (an ec2 instance's generated key); rewritten
   * through a temp file so a reader never sees half a file.
   */
  pin(address: string, port: number, blob: Buffer): void {
    const name = knownHostName(address, port);
    let text = '';
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      // new file
    }
    const kept: string[] = [];
    for (const raw of text.split('\n')) {
      const parts = raw.trim().split(/\s+/);
      const hosts = parts[0] ?? '';
      if (!hosts || hosts.startsWith('#') || hosts.startsWith('@')) kept.push(raw);
      else if (hosts.startsWith('|1|')) {
        if (!entryMatches(hosts, name)) kept.push(raw);
      } else {
        // exact names only (a wildcard covers other hosts too); a line naming others as well keeps them
        const others = hosts.split(',').filter((h) => h !== name);
        if (others.length) kept.push([others.join(','), ...parts.slice(1)].join(' '));
      }
    }
    while (kept.length && kept[kept.length - 1] === '') kept.pop();
    kept.push(`${name} ${keyTypeOfBlob(blob)} ${blob.toString('base64')}`, '');
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    // a known_hosts that is a symlink stays one: the file it points at is replaced
    let file = this.file;
    try {
      file = fs.realpathSync(this.file);
    } catch {
      // new file
    }
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, kept.join('\n'), { mode: 0o600 });
    fs.renameSync(tmp, file);
    this.cache = undefined;
  }

  /** Append a new host's key (accept-new). One appendFileSync per line keeps concurrent appends whole. */
  add(address: string, port: number, blob: Buffer): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    let prefix = '';
    try {
      const st = fs.statSync(this.file);
      if (st.size > 0) {
        const fd = fs.openSync(this.file, 'r');
        const b = Buffer.alloc(1);
        fs.readSync(fd, b, 0, 1, st.size - 1);
        fs.closeSync(fd);
        if (b[0] !== 0x0a) prefix = '\n';
      }
    } catch {
      // new file
    }
    const line = `${prefix}${knownHostName(address, port)} ${keyTypeOfBlob(blob)} ${blob.toString('base64')}\n`;
    fs.appendFileSync(this.file, line, { mode: 0o600 });
    this.cache = undefined;
  }
}
