// god.config.yaml: every field's error names its path, its line in the file and a hint; the examples are valid;
// no file means the local defaults; role options become the env vars the real roles read.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigText } from '../../god/core/config/load.ts';
import { ROLE_OPTION_ENV, roleEnv } from '../../god/core/config/role-env.ts';
import { GodConfigSchema } from '../../god/core/config/schema.ts';
import { endpointOptions } from '../../roles/endpoint/options.ts';
import { feederOptions } from '../../roles/feeder/options.ts';
import { keeperOptions } from '../../roles/keeper/options.ts';
import { ROLE_OPTIONS } from '../../roles/options.ts';
import { commonOptions, parseConfig } from '../../roles/runtime/config.ts';
import { z } from 'zod';
import { makeTempDir } from '../harness/index.ts';
import { godIn, resultOf } from './cli-helpers.ts';

function problemsOf(yaml: string) {
  try {
    parseConfigText(yaml, 'god.config.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const SSH_BASE = `provider: ssh
redis:
  url: redis://10.0.0.5:6379
ssh:
  hosts:
`;
const EC2_BASE = `provider: ec2
redis:
  url: redis://10.0.0.5:6379
ec2:
  region: eu-west-1
  ami: ami-0abc1234
  key_pair: kp
  security_group: sg-0abc1234
`;

// [what, yaml, path, line, hint pattern]
const CASES: Array<[string, string, string, number, RegExp]> = [
  ['unknown provider', 'provider: gcp\n', 'provider', 1, /local.*ssh.*ec2/],
  ['redis url scheme', 'redis:\n  url: http://x:1\n', 'redis.url', 2, /redis:\/\//],
  ['unknown redis key', 'redis:\n  host: x\n', 'redis.host', 2, /url, prefix/],
  ['empty prefix', 'redis:\n  prefix: ""\n', 'redis.prefix', 2, /prefix/],
  ['release chars', 'release: "1.0 beta"\n', 'release', 1, /release name/],
  ['negative count', 'roles:\n  endpoint:\n    count: -1\n', 'roles.endpoint.count', 3, /whole number/],
  ['count type', 'roles:\n  keeper:\n    count: two\n', 'roles.keeper.count', 3, /whole number/],
  ['unknown role', 'roles:\n  web:\n    count: 1\n', 'roles.web', 2, /feeder, endpoint and keeper/],
  [
    'feeder source',
    'roles:\n  feeder:\n    options:\n      source: rss\n',
    'roles.feeder.options.source',
    4,
    /synthetic.*replay.*twitter/,
  ],
  [
    'replay without file',
    'roles:\n  feeder:\n    options:\n      source: replay\n',
    'roles.feeder.options.replay',
    3,
    /NDJSON/,
  ],
  [
    'feeder rate',
    'roles:\n  feeder:\n    options:\n      rate: 0\n',
    'roles.feeder.options.rate',
    4,
    /feeder options/,
  ],
  [
    'feeder speed',
    'roles:\n  feeder:\n    options:\n      speed: fast\n',
    'roles.feeder.options.speed',
    4,
    /feeder options/,
  ],
  [
    'endpoint port',
    'roles:\n  endpoint:\n    options:\n      port: 70000\n',
    'roles.endpoint.options.port',
    4,
    /port \+ i/,
  ],
  [
    'tls without key',
    'roles:\n  endpoint:\n    options:\n      tls:\n        cert: c.pem\n',
    'roles.endpoint.options.tls.key',
    4,
    /cert and key/,
  ],
  [
    'soft limit above max',
    'roles:\n  endpoint:\n    options:\n      max_clients: 10\n      soft_limit: 20\n',
    'roles.endpoint.options.soft_limit',
    5,
    /≤ max_clients/,
  ],
  [
    'unknown endpoint option',
    'roles:\n  endpoint:\n    options:\n      workers: 4\n',
    'roles.endpoint.options.workers',
    4,
    /endpoint options/,
  ],
  [
    'keeper archive',
    'roles:\n  keeper:\n    options:\n      archive: /var/logs\n',
    'roles.keeper.options.archive',
    4,
    /s3:\/\/my-bucket/,
  ],
  [
    'alert sms',
    'roles:\n  keeper:\n    options:\n      alerts:\n        sms: "555-1234"\n',
    'roles.keeper.options.alerts.sms',
    5,
    /\+15555550100/,
  ],
  [
    'email without from',
    'roles:\n  keeper:\n    options:\n      alerts:\n        email: ops@example.com\n',
    'roles.keeper.options.alerts.email_from',
    4,
    /email_from/,
  ],
  [
    'silence duration',
    'roles:\n  keeper:\n    options:\n      alerts:\n        silence: soon\n',
    'roles.keeper.options.alerts.silence',
    5,
    /silence/,
  ],
  [
    'env var name',
    'roles:\n  feeder:\n    env:\n      "BAD-NAME": 1\n',
    'roles.feeder.env.BAD-NAME',
    4,
    /FG_LOG_LEVEL/,
  ],
  ['ssh section missing', 'provider: ssh\nredis:\n  url: redis://h:1\n', 'ssh', 1, /god.ssh.yaml/],
  [
    'ssh without redis url',
    'provider: ssh\nssh:\n  hosts:\n    - {name: a, address: b, roles: [feeder]}\n',
    'redis.url',
    1,
    /redis:\/\//,
  ],
  ['no hosts', `${SSH_BASE}    []\n`.replace('hosts:\n    []', 'hosts: []'), 'ssh.hosts', 5, /name, address/],
  [
    'host address missing',
    `${SSH_BASE}    - name: a\n      roles: [feeder]\n`,
    'ssh.hosts.0.address',
    6,
    /name, address/,
  ],
  [
    'host role',
    `${SSH_BASE}    - name: a\n      address: 10.0.0.1\n      roles: [web]\n`,
    'ssh.hosts.0.roles.0',
    8,
    /roles this host runs/,
  ],
  [
    'host without roles',
    `${SSH_BASE}    - name: a\n      address: 10.0.0.1\n      roles: []\n`,
    'ssh.hosts.0.roles',
    8,
    /roles this host runs/,
  ],
  [
    'duplicate host name',
    `${SSH_BASE}    - {name: a, address: x, roles: [feeder]}\n    - {name: a, address: y, roles: [endpoint]}\n`,
    'ssh.hosts.1.name',
    7,
    /unique name/,
  ],
  [
    'host port',
    `${SSH_BASE}    - {name: a, address: x, port: 0, roles: [feeder]}\n`,
    'ssh.hosts.0.port',
    6,
    /name, address/,
  ],
  [
    'accept_new_host_keys type',
    `${SSH_BASE}    - {name: a, address: x, roles: [feeder]}\n  accept_new_host_keys: "yes"\n`,
    'ssh.accept_new_host_keys',
    7,
    /true or false/,
  ],
  [
    'ssh concurrency',
    `${SSH_BASE}    - {name: a, address: x, roles: [feeder]}\n  concurrency: 0\n`,
    'ssh.concurrency',
    7,
    /ssh takes/,
  ],
  ['ec2 section missing', 'provider: ec2\nredis:\n  url: redis://h:1\n', 'ec2', 1, /god.ec2.yaml/],
  ['ec2 region', EC2_BASE.replace('eu-west-1', 'europe'), 'ec2.region', 5, /eu-west-1/],
  ['ec2 ami', EC2_BASE.replace('ami-0abc1234', 'ubuntu'), 'ec2.ami', 6, /AMI id/],
  ['ec2 key pair missing', EC2_BASE.replace('  key_pair: kp\n', ''), 'ec2.key_pair', 4, /ec2 takes/],
  ['ec2 security group', EC2_BASE.replace('sg-0abc1234', 'default'), 'ec2.security_group', 8, /ec2 takes/],
  ['ec2 subnet', `${EC2_BASE}  subnet: main\n`, 'ec2.subnet', 9, /ec2 takes/],
  ['ec2 tags', `${EC2_BASE}  tags: [a, b]\n`, 'ec2.tags', 9, /ec2 takes/],
  ['ec2 endpoint', `${EC2_BASE}  endpoint: not a url\n`, 'ec2.endpoint', 9, /ec2 takes/],
  [
    'ec2 without an operator CIDR',
    EC2_BASE.replace('  security_group: sg-0abc1234\n', ''),
    'ec2.access.ssh_cidrs',
    4,
    /ssh_cidrs: \[203\.0\.113\.7\/32\].*bastion_security_group/,
  ],
  [
    'ec2 operator CIDR',
    `${EC2_BASE}  access:\n    ssh_cidrs: [my-laptop]\n`,
    'ec2.access.ssh_cidrs.0',
    10,
    /ssh_cidrs/,
  ],
  ['ec2 os', `${EC2_BASE}  os: centos\n`, 'ec2.os', 9, /debian-12 or ubuntu-24.04/],
  ['ec2 instance type', `${EC2_BASE}  instance_type: big\n`, 'ec2.instance_type', 9, /ec2 takes/],
  [
    'local backoff',
    'local:\n  restart:\n    backoff_min: quick\n',
    'local.restart.backoff_min',
    3,
    /durations/,
  ],
  ['local entry role', 'local:\n  entry:\n    web: x.mjs\n', 'local.entry.web', 3, /local takes/],
  ['unknown top-level key', 'provder: local\n', 'provder', 1, /top level takes/],
];

describe('config errors', () => {
  it.each(CASES)('%s', (_what, yaml, p, line, hint) => {
    const problems = problemsOf(yaml);
    const hit = problems.find((x) => x.path === p);
    expect(hit, `no problem at ${p}; got ${JSON.stringify(problems)}`).toBeDefined();
    expect(hit!.line).toBe(line);
    expect(hit!.column).toBeGreaterThan(0);
    expect(hit!.hint).toMatch(hint);
    expect(hit!.message.length).toBeGreaterThan(3);
  });

  it('reports every problem at once, in line order, in the message too', () => {
    const yaml =
      'provider: local\nroles:\n  endpoint:\n    count: -2\n    options:\n      port: 0\nredis:\n  url: ftp://x\n';
    let err: ConfigError | undefined;
    try {
      parseConfigText(yaml, 'fleet.yaml');
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.problems.map((p) => [p.path, p.line])).toEqual([
      ['roles.endpoint.count', 4],
      ['roles.endpoint.options.port', 6],
      ['redis.url', 8],
    ]);
    expect(err?.message).toContain('fleet.yaml:4:12 roles.endpoint.count: must be 0 or more (got -2)');
    expect(err?.message).toContain('hint:');
    expect(err?.code).toBe('GOD_CONFIG');
    expect(err?.hint).toMatch(/god\/examples/);
  });

  it('reports YAML syntax errors with their line', () => {
    const problems = problemsOf('provider: local\nroles:\n  endpoint: [1, 2\n  keeper: {}\n');
    expect(problems[0]!.line).toBeGreaterThanOrEqual(3);
    expect(problems[0]!.message).toMatch(/^YAML syntax/);
    expect(problems[0]!.hint).toMatch(/indentation/);
  });

  it('refuses a document that is not a mapping, and duplicate keys', () => {
    expect(problemsOf('- a\n- b\n')[0]).toMatchObject({ line: 1, message: 'must be a mapping of settings' });
    expect(problemsOf('provider: local\nprovider: ssh\n')[0]!.line).toBe(2);
  });

  it('names a missing config file and what to do', () => {
    expect(() => loadConfig('nope.yaml', makeTempDir('god-cfg'))).toThrow(
      /config file nope.yaml does not exist/,
    );
  });
});

describe('config loading', () => {
  it('uses the local defaults without a file, and ./god.config.yaml when present', () => {
    const dir = makeTempDir('god-cfg');
    const none = loadConfig(undefined, dir);
    expect(none.file).toBeUndefined();
    expect(none.config.provider).toBe('local');
    expect(none.config.roles.endpoint.count).toBe(2);
    expect(none.config.redis.prefix).toBe('fg:');
    fs.writeFileSync(path.join(dir, 'god.config.yaml'), 'roles:\n  endpoint:\n    count: 5\n');
    const found = loadConfig(undefined, dir);
    expect(found.file).toBe(path.join(dir, 'god.config.yaml'));
    expect(found.config.roles.endpoint.count).toBe(5);
    expect(found.config.roles.keeper.count).toBe(1);
  });

  it.each(['god.local.yaml', 'god.ssh.yaml', 'god.ec2.yaml'])('example %s is valid', (name) => {
    const l = loadConfig(path.join(import.meta.dirname, '../../god/examples', name));
    expect(l.config.provider).toBe(name.split('.')[1]);
  });

  it('defaults: accept_new_host_keys off, base_dir, node, no user-data, hardened ec2 launches', () => {
    const c = GodConfigSchema.parse({
      provider: 'ec2',
      redis: { url: 'redis://h:1' },
      ec2: { region: 'us-east-1', ami: 'ami-0abc', key_pair: 'k', security_group: 'sg-0abc' },
      ssh: { hosts: [{ name: 'a', address: 'b', roles: ['endpoint'] }] },
    });
    expect(c.ssh?.accept_new_host_keys).toBe(false);
    expect(c.ssh?.base_dir).toBe('/opt/filmgrain');
    expect(c.ssh?.hosts[0]?.port).toBe(22);
    // nothing downloaded and run at boot: the runtime comes with the release over SSH
    expect(c.ec2?.user_data).toBeUndefined();
    expect(c.ec2?.fleet).toBe('filmgrain');
    expect(c.ec2?.os).toBe('debian-12');
    expect(c.ec2?.access.endpoint_cidrs).toEqual(['0.0.0.0/0']);
    expect(c.ec2?.volume).toEqual({ size_gb: 16, type: 'gp3' });
    expect(c.ec2?.termination_protection).toBe(false);
  });
});

describe('god config', () => {
  it('prints the effective config as one JSON result, the Redis password hidden', async () => {
    const dir = makeTempDir('god-cfgcli');
    fs.writeFileSync(path.join(dir, 'god.config.yaml'), 'redis:\n  url: redis://:hunter2@10.0.0.5:6379\n');
    const r = await godIn(['config', '--json'], { cwd: dir });
    const data = resultOf(
      r,
      'config',
      z.object({ file: z.string().nullable(), config: z.record(z.string(), z.unknown()) }),
    );
    expect(data.file).toBe(path.join(dir, 'god.config.yaml'));
    expect(data.config).toMatchObject({
      provider: 'local',
      redis: { url: 'redis://:***@10.0.0.5:6379', prefix: 'fg:' },
    });
    expect(r.stdout).not.toContain('hunter2');
  });
});

describe('role environment', () => {
  it('maps config options to the env vars the real roles declare', () => {
    const common = Object.values(commonOptions).map((o) => o.env);
    const declared = {
      endpoint: new Set([...common, ...Object.values(endpointOptions).map((o) => o.env)]),
      keeper: new Set([...common, ...Object.values(keeperOptions).map((o) => o.env)]),
      feeder: new Set([...common, ...Object.values(feederOptions).map((o) => o.env)]),
    };
    for (const role of ['endpoint', 'keeper', 'feeder'] as const) {
      for (const env of Object.values(ROLE_OPTION_ENV[role]))
        expect(declared[role], `${role} ${env}`).toContain(env);
    }
  });

  it('sets every config option through the role option its own spec declares, read back as the role reads it', () => {
    // the env names come from the roles' specs: each config key is one of the role's options
    expect(ROLE_OPTION_ENV.endpoint['tls.cert']).toBe(endpointOptions.tlsCert.env);
    expect(ROLE_OPTION_ENV.keeper['alerts.email_from']).toBe(keeperOptions.emailFrom.env);
    expect(ROLE_OPTION_ENV.feeder.summary_interval).toBe(commonOptions.summaryInterval.env);
    // loop: false reaches the feeder as false (a set boolean env var used to read as true)
    const c = parseConfigText('roles:\n  feeder:\n    options: {loop: false, rate: 7}\n', 'x.yaml');
    const env = roleEnv(c, 'feeder', { id: 'f', redisUrl: 'redis://h:1' });
    const feeder = parseConfig('feeder', ROLE_OPTIONS.feeder, ['--catalog', 'c.json'], env);
    expect(feeder).toMatchObject({ loop: false, rate: 7, source: 'synthetic' });
    const looping = parseConfigText('roles:\n  feeder:\n    options: {loop: true}\n', 'x.yaml');
    expect(
      parseConfig(
        'feeder',
        ROLE_OPTIONS.feeder,
        ['--catalog', 'c.json'],
        roleEnv(looping, 'feeder', { id: 'f', redisUrl: 'redis://h:1' }),
      ).loop,
    ).toBe(true);
  });

  it("passes the endpoint's per-address cap and connect deadline, and the keeper's spool and caps", () => {
    const c = parseConfigText(
      [
        'roles:',
        '  endpoint:',
        '    options: {max_per_ip: 8, connect_timeout: 3s, summary_interval: 20s}',
        '  keeper:',
        '    options:',
        '      spool_dir: spool',
        '      exception_max_emails: 5',
        '      archive_alert_after: 2m',
        '      alerts: {silence: 90s}',
        '',
      ].join('\n'),
      'x.yaml',
    );
    const endpoint = roleEnv(c, 'endpoint', { id: 'e', redisUrl: 'redis://h:1' });
    expect(endpoint).toMatchObject({
      FG_ENDPOINT_MAX_PER_IP: '8',
      FG_ENDPOINT_CONNECT_TIMEOUT: '3s',
      // the role's own summary_interval wins over half the keeper's silence
      FG_SUMMARY_INTERVAL: '20s',
    });
    const keeper = roleEnv(c, 'keeper', { id: 'k', redisUrl: 'redis://h:1', baseDir: '/cfg' });
    expect(keeper).toMatchObject({
      FG_KEEPER_SPOOL_DIR: '/cfg/spool',
      FG_KEEPER_EXCEPTION_MAX_EMAILS: '5',
      FG_KEEPER_ARCHIVE_ALERT_AFTER: '2m',
      FG_SUMMARY_INTERVAL: '45000ms',
    });
  });

  it('gives each process of a role its admin listener: admin_listen, the port + the process index', () => {
    const c = parseConfigText(
      [
        'roles:',
        '  endpoint: {options: {admin_listen: "127.0.0.1:9464"}}',
        '  keeper: {options: {admin_listen: "[::1]:0"}}',
        '',
      ].join('\n'),
      'x.yaml',
    );
    const at = (role: 'endpoint' | 'keeper', index: number) =>
      parseConfig(role, ROLE_OPTIONS[role], [], roleEnv(c, role, { id: 'p', index, redisUrl: 'redis://h:1' }))
        .adminListen;
    expect([at('endpoint', 0), at('endpoint', 2)]).toEqual(['127.0.0.1:9464', '127.0.0.1:9466']);
    // port 0: every process picks its own free port
    expect(at('keeper', 3)).toBe('[::1]:0');
    expect(roleEnv(c, 'feeder', { id: 'f', redisUrl: 'redis://h:1' }).FG_ADMIN_LISTEN).toBeUndefined();
    expect(JSON.stringify(problemsOf('roles:\n  feeder: {options: {admin_listen: "9464"}}\n'))).toMatch(
      /admin_listen.*HOST:PORT/,
    );
  });

  it('builds FG_* env with ports per index, resolved paths and the env map last', () => {
    const c = parseConfigText(
      'roles:\n  endpoint:\n    options:\n      port: 7000\n      tls: {cert: tls/c.pem, key: /abs/k.pem}\n    env:\n      FG_LOG_LEVEL: debug\n',
      'x.yaml',
    );
    const env = roleEnv(c, 'endpoint', {
      id: 'endpoint-2',
      index: 1,
      redisUrl: 'redis://h:1',
      release: 'r7',
      baseDir: '/cfg',
    });
    expect(env).toMatchObject({
      FG_REDIS_URL: 'redis://h:1',
      FG_PREFIX: 'fg:',
      FG_ID: 'endpoint-2',
      FG_RELEASE: 'r7',
      FG_ENDPOINT_PORT: '7001',
      FG_ENDPOINT_TLS_CERT: '/cfg/tls/c.pem',
      FG_ENDPOINT_TLS_KEY: '/abs/k.pem',
      FG_LOG_LEVEL: 'debug',
    });
  });
});
