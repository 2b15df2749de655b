// Reads god.config.yaml: YAML syntax and schema errors are all reported at once, each with its path,
// its line:column in the file and a hint.
import fs from 'node:fs';
import path from 'node:path';
import { isMap, isNode, isPair, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ErrorCode, UserError } from '../../../kernel/errors.ts';
import { type GodConfig, GodConfigSchema } from './schema.ts';

export const DEFAULT_CONFIG_FILE = 'god.config.yaml';

export interface ConfigProblem {
  /** dotted path, e.g. roles.endpoint.options.port ('' for the whole file) */
  path: string;
  line?: number;
  column?: number;
  message: string;
  hint: string;
}

/** "2 problems in <what>:" then one `file:line:column path: message` line and its hint per problem. */
export function problemsMessage(what: string, file: string, problems: ConfigProblem[]): string {
  const lines = problems.map(
    (p) =>
      `  - ${file}${p.line ? `:${p.line}:${p.column ?? 1}` : ''} ${p.path || '(file)'}: ${p.message}\n      hint: ${p.hint}`,
  );
  return `${problems.length === 1 ? 'a problem' : `${problems.length} problems`} in ${what}:\n${lines.join('\n')}`;
}

/**
 * Limits for YAML that God reads (config, playbooks): these files are a few KiB; anything near the
 * limits is a mistake or an attack (a "billion laughs" alias bomb), so it is bad input, not a bug.
 */
export const YAML_MAX_BYTES = 1024 * 1024;
/** Alias resolutions allowed when converting a document (yaml's own guard; the default is 100). */
export const YAML_MAX_ALIAS_COUNT = 100;

/** Refuse YAML text over YAML_MAX_BYTES, naming the file, the limit and what to do. */
export function checkYamlSize(bytes: number, file: string, what: string, code: ErrorCode): void {
  if (bytes <= YAML_MAX_BYTES) return;
  throw new UserError(
    `${what} ${file} is ${bytes} bytes, over the limit of ${YAML_MAX_BYTES} bytes (1 MiB) for YAML files God reads`,
    {
      code,
      hint: `Check that ${file} is the ${what} you meant; a real one is a few KiB. Split it or trim it.`,
    },
  );
}

/**
 * doc.toJS() with the alias limit; yaml's "Excessive alias count" ReferenceError becomes a UserError
 * naming the file and the limit.
 */
export function yamlToJS(
  doc: ReturnType<typeof parseDocument>,
  file: string,
  what: string,
  code: ErrorCode,
): unknown {
  try {
    return doc.toJS({ maxAliasCount: YAML_MAX_ALIAS_COUNT });
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new UserError(
        `${what} ${file} expands its aliases (*name) too many times: over the limit of ${YAML_MAX_ALIAS_COUNT} alias resolutions`,
        {
          code,
          cause: err,
          hint: 'Aliases that refer to aliases multiply (a "billion laughs" file). Write the values out, or use fewer nested aliases.',
        },
      );
    }
    throw err;
  }
}

/** A parsed document's YAML syntax errors, each at its line and column. */
export function yamlSyntaxProblems(doc: ReturnType<typeof parseDocument>, hint: string): ConfigProblem[] {
  return doc.errors.map((e) => {
    const pos = e.linePos?.[0];
    return {
      path: '',
      line: pos?.line,
      column: pos?.col,
      message: `YAML syntax: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      hint,
    };
  });
}

export class ConfigError extends UserError {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(problemsMessage(file, file, problems), {
      code: 'GOD_CONFIG',
      hint: `Fix ${file} as the hints say; god/examples/ has a complete example for each provider.`,
    });
  }
}

export interface LoadedConfig {
  config: GodConfig;
  /** absolute path of the file, or undefined for the embedded defaults */
  file?: string;
  /** directory relative paths in the file are resolved against */
  baseDir: string;
}

// Hints by path; the first match wins.
const HINTS: Array<[RegExp, string]> = [
  [/^provider$/, 'Use one of: local (this machine), ssh (hosts listed under ssh.hosts), ec2 (instances).'],
  [/^redis\.url$/, 'Write it as redis://[:password@]host:port[/db], or rediss://... for TLS.'],
  [/^redis(\.|$)/, 'redis takes url, prefix (default "fg:") and tls_ca.'],
  [/^release$/, 'A release name like 1.4.2 or 2026-11-22.1.'],
  [/^roles\.[a-z]+\.count$/, 'A whole number of processes (local) or instances (ec2), e.g. count: 2.'],
  [/^roles\.[a-z]+\.env(\.|$)/, 'env maps variable names to values, e.g. FG_LOG_LEVEL: debug.'],
  [/^roles\.feeder\.options\.source$/, 'Use synthetic (demo), replay (with replay: FILE) or twitter.'],
  [/^roles\.feeder\.options\.replay$/, 'Point replay at an NDJSON file of recorded tweets.'],
  [/^roles\.feeder(\.|$)/, 'feeder options: source, catalog, rate, replay, speed, loop, summary_interval.'],
  [/^roles\.endpoint\.options\.port$/, 'The first listening port; endpoint i listens on port + i.'],
  [/^roles\.endpoint\.options\.tls(\.|$)/, 'tls takes cert and key, both PEM file paths.'],
  [
    /^roles\.endpoint\.options\.(soft_limit|max_clients)$/,
    'soft_limit (start redirecting) ≤ max_clients (refuse).',
  ],
  [
    /^roles\.endpoint(\.|$)/,
    'endpoint options: port, host, public_host, tls {cert, key}, max_clients, soft_limit, max_per_ip, connect_timeout, summary_interval.',
  ],
  [
    /^roles\.keeper\.options\.archive$/,
    'e.g. archive: s3://my-bucket/filmgrain or file:///var/lib/filmgrain.',
  ],
  [
    /^roles\.keeper\.options\.alerts(\.|$)/,
    'alerts take sms (+15555550100), email + email_from, silence (60s).',
  ],
  [
    /^roles\.keeper(\.|$)/,
    'keeper options: archive, alerts {sms, email, email_from, silence}, flush, spool_dir, exception_max_emails, archive_alert_after, summary_interval.',
  ],
  [/^roles(\.|$)/, 'roles has feeder, endpoint and keeper, each with count, options and env.'],
  [/^ssh\.hosts\.\d+\.roles/, 'List the roles this host runs, e.g. roles: [endpoint, keeper].'],
  [/^ssh\.hosts\.\d+\.name$/, 'Give every host a unique name (letters, digits, . _ -).'],
  [/^ssh\.hosts/, 'Each host takes name, address, port (22), user, roles and base_dir.'],
  [/^ssh\.accept_new_host_keys$/, 'true or false; off by default so an unknown host key is refused.'],
  [/^ssh$/, 'Add an ssh section with user, key, known_hosts and hosts (see god/examples/god.ssh.yaml).'],
  [
    /^ssh\./,
    'ssh takes user, key, known_hosts, accept_new_host_keys, base_dir, run_as, node_path, concurrency, hosts.',
  ],
  [/^ec2\.region$/, 'e.g. region: eu-west-1.'],
  [/^ec2\.ami$/, 'The AMI id of a Debian 12 or Ubuntu 24.04 image in that region; leave it out to use os.'],
  [/^ec2\.os$/, 'debian-12 or ubuntu-24.04: God takes the latest AMI from its public SSM parameter.'],
  [
    /^ec2\.access\.ssh_cidrs/,
    'e.g. access: {ssh_cidrs: [203.0.113.7/32]} with your public address, or access.bastion_security_group: sg-….',
  ],
  [
    /^ec2\.access(\.|$)/,
    'access takes endpoint_cidrs, ssh_cidrs, bastion_security_group and redis_in_fleet.',
  ],
  [
    /^ec2(\.|$)/,
    'ec2 takes region, endpoint, ami, os, ami_parameter, instance_type(s), spot, termination_protection, key_pair, public_key, security_group, access, vpc, availability_zones, subnets, subnet_prefix_length, public_ip, volume, fleet, tags, user_data, wait_timeout (see god/examples/god.ec2.yaml).',
  ],
  [/^local\.restart(\.|$)/, 'restart takes backoff_min, backoff_max and stable_after durations.'],
  [/^local(\.|$)/, 'local takes state_dir, dist, redis_server, entry, restart and stop_timeout.'],
  [
    /^secrets(\.|$)/,
    'Each secret: {env: VARIABLE, roles: [feeder, endpoint, keeper], from: ssm:/path or secretsmanager:NAME}; never its value (README "Secrets").',
  ],
  [/^$/, 'The top level takes provider, redis, release, roles, local, ssh, ec2 and secrets.'],
];

export function hintFor(p: string): string {
  for (const [re, h] of HINTS) if (re.test(p)) return h;
  return 'See god/examples/ for a complete config of each provider.';
}

export type Pos = { line: number; column: number };

function posOf(node: unknown, lc: LineCounter): Pos | undefined {
  if (isNode(node) && node.range) {
    const { line, col } = lc.linePos(node.range[0]);
    return { line, column: col };
  }
  return undefined;
}

/** The position of `path` in the document: the value's node, else its key, else the nearest parent. */
export function locate(
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  p: PropertyKey[],
): Pos | undefined {
  let node: unknown = doc.contents;
  // where the current node is named: its key, or the item itself in a list
  let named: Pos | undefined = { line: 1, column: 1 };
  for (const key of p) {
    if (isMap(node)) {
      const pair = node.items.find(
        (it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(key),
      );
      if (!pair) return named; // a missing setting: point at its parent
      named = posOf(pair.key, lc) ?? named;
      node = pair.value;
    } else if (isNode(node) && 'items' in node && typeof key === 'number') {
      node = (node as unknown as { items: unknown[] }).items[key];
      if (node === undefined) return named;
      named = posOf(node, lc) ?? named;
    } else {
      return named;
    }
  }
  return posOf(node, lc) ?? named;
}

export function keyPos(
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  p: PropertyKey[],
  key: string,
) {
  const parent = p.length ? doc.getIn(p, true) : doc.contents;
  if (isMap(parent)) {
    const pair = parent.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === key);
    if (pair) return posOf(pair.key as Node, lc);
  }
  return locate(doc, lc, p);
}

const dotted = (p: PropertyKey[]) => p.map(String).join('.');

export function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const got = valueAt(raw, issue.path);
  const shown = got === undefined ? '' : ` (got ${JSON.stringify(got)?.slice(0, 60)})`;
  if (issue.code === 'invalid_type' && got === undefined) return 'is required';
  if (issue.code === 'invalid_key') return `key ${issue.issues.map((i) => i.message).join('; ')}`;
  if (issue.code === 'invalid_type') return `must be ${issue.expected}${shown}`;
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${shown}`;
  }
  return `${issue.message}${shown}`;
}

function valueAt(raw: unknown, p: PropertyKey[]): unknown {
  let v = raw;
  for (const k of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Parse and validate config text. `file` only names it in errors. */
export function parseConfigText(text: string, file: string): GodConfig {
  checkYamlSize(Buffer.byteLength(text), file, 'config file', 'GOD_CONFIG');
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const problems = yamlSyntaxProblems(
    doc,
    'Check indentation (spaces, not tabs) and that every key is followed by ": ".',
  );
  if (problems.length) throw new ConfigError(file, problems);
  const raw = yamlToJS(doc, file, 'config file', 'GOD_CONFIG') ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [
      { path: '', line: 1, column: 1, message: 'must be a mapping of settings', hint: hintFor('') },
    ]);
  }
  const r = GodConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  for (const issue of r.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const p = [...issue.path, key];
        const pos = keyPos(doc, lc, issue.path, key);
        problems.push({
          path: dotted(p),
          line: pos?.line,
          column: pos?.column,
          message: 'is not a known setting',
          // the parent's hint lists the settings it does take
          hint: hintFor(dotted(issue.path)),
        });
      }
      continue;
    }
    const pos = locate(doc, lc, issue.path);
    problems.push({
      path: dotted(issue.path),
      line: pos?.line,
      column: pos?.column,
      message: describeIssue(issue, raw),
      hint: hintFor(dotted(issue.path)),
    });
  }
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  throw new ConfigError(file, problems);
}

/**
 * Load the config: `file` (from --config / GOD_CONFIG), else ./god.config.yaml when present,
 * else the embedded defaults (local provider).
 */
export function loadConfig(file?: string, cwd = process.cwd()): LoadedConfig {
  let abs: string | undefined;
  if (file) {
    abs = path.resolve(cwd, file);
    if (!fs.existsSync(abs)) {
      throw new UserError(`config file ${file} does not exist`, {
        code: 'GOD_CONFIG',
        hint: `Check the path given to --config / GOD_CONFIG, or copy one of god/examples/*.yaml to ${file}.`,
      });
    }
  } else if (fs.existsSync(path.join(cwd, DEFAULT_CONFIG_FILE))) {
    abs = path.join(cwd, DEFAULT_CONFIG_FILE);
  }
  if (!abs) return { config: GodConfigSchema.parse({}), baseDir: cwd };
  let text: string;
  try {
    // before reading: a huge file would be read whole into memory first
    const size = fs.statSync(abs).size;
    checkYamlSize(size, file ?? abs, 'config file', 'GOD_CONFIG');
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot read config file ${abs}: ${(err as Error).message}`, {
      code: 'GOD_CONFIG',
      hint: 'Check that the file is readable by this user.',
    });
  }
  const shown = path.relative(cwd, abs) || abs;
  return {
    config: parseConfigText(text, shown.startsWith('..') ? abs : shown),
    file: abs,
    baseDir: path.dirname(abs),
  };
}

/** The embedded defaults: a local fleet with one feeder (synthetic), two endpoints and a keeper. */
export function defaultConfig(): GodConfig {
  return GodConfigSchema.parse({});
}
