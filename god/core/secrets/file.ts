// `.god/secrets` next to the config: NAME=value lines (dotenv), the operator's own store of secret values.
// Refused unless only its owner can read it (0600 in a 0700 folder); created that way, and kept out of git.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../../../kernel/errors.ts';
import { SECRET_NAME } from './schema.ts';

export const SECRETS_FILE = path.join('.god', 'secrets');

export const secretsFileOf = (baseDir: string) => path.join(baseDir, SECRETS_FILE);

const mode = (st: fs.Stats) => (st.mode & 0o777).toString(8).padStart(4, '0');

/** Only its owner may reach the file and its folder; any group/other bit is refused, naming the fix. */
function checkPrivate(file: string): void {
  const dir = path.dirname(file);
  const d = fs.statSync(dir);
  const f = fs.lstatSync(file);
  const uid = process.getuid?.();
  const problems: string[] = [];
  if (!f.isFile()) problems.push(`${file} is not a regular file`);
  if (f.mode & 0o077) problems.push(`${file} has mode ${mode(f)}, not 0600`);
  if (d.mode & 0o077) problems.push(`its folder ${dir} has mode ${mode(d)}, not 0700`);
  if (uid !== undefined && (f.uid !== uid || d.uid !== uid))
    problems.push(`it is not owned by you (uid ${uid})`);
  if (problems.length === 0) return;
  throw new UserError(`refusing to read secrets from ${file}: ${problems.join('; ')}`, {
    code: 'GOD_SECRETS_FILE',
    hint: `Others may have read it: rotate the values it holds, then \`chmod 700 ${dir} && chmod 600 ${file}\`.`,
  });
}

/** dotenv: NAME=value, optional `export `, '…' or "…" quotes (\n \" \\ inside double quotes), # comments. */
export function parseSecretsText(text: string, file: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    // the line is never quoted in the error: it holds a value
    const bad = (why: string) =>
      new UserError(`${file}:${i + 1}: ${why}`, {
        code: 'GOD_SECRETS_FILE',
        hint: 'Each line is NAME=value (a secret name of the config, lowercase); `god secrets set NAME` writes one.',
      });
    if (!m) throw bad('not a NAME=value line');
    const name = m[1]!;
    if (!SECRET_NAME.test(name)) throw bad(`"${name}" is not a secret name (lowercase letters, digits, _)`);
    let v = m[2]!;
    if (v.startsWith('"')) {
      const q = /^"((?:[^"\\]|\\.)*)"\s*(#.*)?$/.exec(v);
      if (!q) throw bad(`the value of ${name} has no closing quote`);
      v = q[1]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    } else if (v.startsWith("'")) {
      const q = /^'([^']*)'\s*(#.*)?$/.exec(v);
      if (!q) throw bad(`the value of ${name} has no closing quote`);
      v = q[1]!;
    } else v = v.replace(/\s+#.*$/, '');
    out.set(name, v);
  });
  return out;
}

/** The values in `.god/secrets` (none when it does not exist). */
export function readSecretsFile(baseDir: string): Map<string, string> {
  const file = secretsFileOf(baseDir);
  if (!fs.existsSync(file)) return new Map();
  checkPrivate(file);
  return parseSecretsText(fs.readFileSync(file, 'utf8'), file);
}

const quote = (v: string) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

/**
 * Set one secret in `.god/secrets`, creating it (0600, folder 0700) and adding it to the `.gitignore` next to
 * the config when it is new. The file is rewritten whole (temp file + rename): never half-written.
 */
export function writeSecret(
  baseDir: string,
  name: string,
  value: string,
): { file: string; created: boolean } {
  const file = secretsFileOf(baseDir);
  const dir = path.dirname(file);
  const created = !fs.existsSync(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const values = created ? new Map<string, string>() : readSecretsFile(baseDir);
  if (created) checkPrivateDir(dir);
  values.set(name, value);
  const text = [
    '# secrets of this fleet (god secrets set NAME): never commit this file',
    ...[...values].map(([k, v]) => `${k}=${quote(v)}`),
  ].join('\n');
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, `${text}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
  if (created) ignoreInGit(baseDir);
  return { file, created };
}

function checkPrivateDir(dir: string): void {
  const d = fs.statSync(dir);
  if (d.mode & 0o077) {
    throw new UserError(`refusing to create secrets in ${dir}: it has mode ${mode(d)}, not 0700`, {
      code: 'GOD_SECRETS_FILE',
      hint: `\`chmod 700 ${dir}\` (others can list and may read what it holds), then run this again.`,
    });
  }
}

/** `.god/secrets` in the `.gitignore` next to the config, unless a line already names it. */
export function ignoreInGit(baseDir: string): void {
  const gi = path.join(baseDir, '.gitignore');
  const text = fs.existsSync(gi) ? fs.readFileSync(gi, 'utf8') : '';
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines.some((l) => ['.god', '.god/', '/.god', '/.god/', '.god/secrets', '/.god/secrets'].includes(l)))
    return;
  fs.writeFileSync(gi, `${text}${text && !text.endsWith('\n') ? '\n' : ''}/.god/secrets\n`);
}
