// bench:deploy — `god deploy` vs ansible-playbook doing the same copy + restart to the same loopback sshd hosts.
// Each run ships new bytes of the three role bundles (dist/roles, rebuilt first) and restarts one endpoint
// per host; God and Ansible alternate, median of several runs. Env: BENCH_DEPLOY_HOSTS (default "10,50"),
// BENCH_DEPLOY_RUNS (default 3), BENCH_DEPLOY_RUNS_BIG (runs at > 10 hosts, default 2), BENCH_NO_RESULTS=1.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { deploy } from '../god/core/deploy/deploy.ts';
import { DEFAULT_BUNDLE_DIR, REPO_ROOT } from '../god/core/deploy/release.ts';
import type { DeployHost } from '../god/core/deploy/types.ts';
import { redisContract } from '../protocol/redis-contract.ts';
import { cleanupAll, freePort, makeTempDir, startRedis, startSshHosts } from '../test/harness/index.ts';
import { deployHostOf } from '../test/god/deploy/helpers.ts';
import { runAnsible, writeAnsible } from './deploy/ansible.ts';

const sizes = (process.env.BENCH_DEPLOY_HOSTS ?? '10,50')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const RUNS = Number(process.env.BENCH_DEPLOY_RUNS ?? 3);
const RUNS_BIG = Number(process.env.BENCH_DEPLOY_RUNS_BIG ?? 2);
const PREFIX = 'bench:';
const keys = redisContract(PREFIX);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** A release dir with the built bundles made unique by a trailing comment (so every run really copies). */
function release(root: string, tag: string): string {
  const dir = path.join(root, tag);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(DEFAULT_BUNDLE_DIR)) {
    const src = path.join(DEFAULT_BUNDLE_DIR, f);
    if (f.endsWith('.mjs'))
      fs.writeFileSync(path.join(dir, f), `${fs.readFileSync(src, 'utf8')}\n// bench ${tag}\n`);
    else fs.copyFileSync(src, path.join(dir, f));
  }
  return dir;
}

async function main() {
  console.log('building role bundles (npm run build)…');
  const b = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  if (b.status !== 0) throw new Error('build failed');
  const bytes = fs
    .readdirSync(DEFAULT_BUNDLE_DIR)
    .filter((f) => f.endsWith('.mjs'))
    .reduce((a, f) => a + fs.statSync(path.join(DEFAULT_BUNDLE_DIR, f)).size, 0);
  const redisSrv = await startRedis();
  const redis = new Redis(redisSrv.url);
  const work = makeTempDir('bench-deploy');
  const rows: string[] = [];
  try {
    for (const n of sizes) {
      const runs = n > 10 ? RUNS_BIG : RUNS;
      const concurrency = Math.min(n, 25);
      console.log(`\n== ${n} hosts (concurrency/forks ${concurrency}, ${runs} runs) ==`);
      let fleet: Awaited<ReturnType<typeof startSshHosts>>;
      try {
        fleet = await startSshHosts(n);
      } catch (err) {
        console.log(`skipped ${n} hosts: cannot start ${n} sshd (${(err as Error).message.split('\n')[0]})`);
        continue;
      }
      const hosts: DeployHost[] = await Promise.all(
        fleet.hosts.map(async (h) =>
          deployHostOf(h, [
            {
              role: 'endpoint' as const,
              id: `endpoint-${h.name}`,
              env: {
                FG_REDIS_URL: redisSrv.url,
                FG_PREFIX: PREFIX,
                FG_HOST: h.name,
                FG_ENDPOINT_HOST: h.address,
                FG_ENDPOINT_PORT: String(await freePort(h.address)),
              },
            },
          ]),
        ),
      );
      const ssh = { privateKey: fleet.privateKey, knownHostsPath: fleet.knownHostsPath };
      const common = { hosts, ssh, redis, keys, concurrency, healthTimeoutMs: 60_000 };
      // first deploy (fresh hosts, health-checked): sets up the process specs both sides restart
      const first = await deploy({ ...common, bundleDir: release(work, `n${n}-v0`), version: `n${n}-v0` });
      if (!first.ok) throw new Error(`first deploy failed: ${first.hosts.find((h) => !h.ok)?.error}`);
      console.log(`fresh deploy with health checks: ${sec(first.ms)}`);
      const files = fs.readdirSync(release(work, `n${n}-probe`)).sort();
      const ans = writeAnsible(path.join(work, `ansible-${n}`), hosts, {
        privateKeyPath: fleet.privateKeyPath,
        knownHostsPath: fleet.knownHostsPath,
        forks: concurrency,
        files: [...files, 'fg-agent.mjs', 'fg-supervisor.mjs'],
      });
      // Ansible ships the agent and supervisor from the god tree, like god deploy does
      const remote = path.join(REPO_ROOT, 'god', 'core', 'deploy', 'remote');
      const god: number[] = [];
      const godHealth: number[] = [];
      const ansible: number[] = [];
      for (let r = 1; r <= runs; r++) {
        const g = await deploy({
          ...common,
          bundleDir: release(work, `n${n}-g${r}`),
          version: `n${n}-g${r}`,
          noHealth: true,
        });
        if (!g.ok) throw new Error(`god deploy failed: ${g.hosts.find((h) => !h.ok)?.error}`);
        god.push(g.ms);
        const src = release(work, `n${n}-a${r}`);
        for (const f of ['fg-agent.mjs', 'fg-supervisor.mjs'])
          fs.copyFileSync(path.join(remote, f), path.join(src, f));
        const a = await runAnsible(ans, { version: `n${n}-a${r}`, src });
        if (!a.ok) throw new Error(`ansible-playbook failed:\n${a.tail}`);
        ansible.push(a.ms);
        let gh: number | undefined;
        if (n <= 10) {
          const h = await deploy({
            ...common,
            bundleDir: release(work, `n${n}-h${r}`),
            version: `n${n}-h${r}`,
          });
          if (!h.ok) throw new Error(`god deploy (health) failed: ${h.hosts.find((x) => !x.ok)?.error}`);
          godHealth.push((gh = h.ms));
        }
        console.log(`run ${r}: god ${sec(g.ms)}  ansible ${sec(a.ms)}${gh ? `  god+health ${sec(gh)}` : ''}`);
      }
      const ratio = median(ansible) / median(god);
      rows.push(
        `| ${n} | ${sec(median(god))} | ${godHealth.length ? sec(median(godHealth)) : '-'} | ${sec(median(ansible))} | ${ratio.toFixed(1)}× | ${runs} |`,
      );
      console.log(
        `median: god ${sec(median(god))}, ansible ${sec(median(ansible))} → god is ${ratio.toFixed(1)}× faster`,
      );
      await fleet.stop();
    }
  } finally {
    redis.disconnect();
    await cleanupAll().catch(() => {});
  }
  const table = [
    `Each run: ${(bytes / 1048576).toFixed(1)} MiB of new role bundles (3 files) + agent/supervisor to every host, \`current\` switched, one endpoint restarted per host.`,
    'God: `deploy()` without health checks (same work as the playbook); god+health also waits for every new heartbeat.',
    'Ansible: ansible-core 2.14, pipelining on, ControlPersist (connections reused across runs), forks = God concurrency.',
    '',
    '| hosts | god deploy | god + health | ansible-playbook | ratio | runs |',
    '|---|---|---|---|---|---|',
    ...rows,
  ];
  console.log(`\n${table.join('\n')}`);
  if (process.env.BENCH_NO_RESULTS !== '1' && rows.length) {
    const section = [
      '',
      '## deploy (god deploy vs ansible-playbook)',
      '',
      `2026-11-22, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}; medians; other engineers were using the CPU while this ran (noisy).`,
      '',
      ...table,
      '',
    ].join('\n');
    fs.appendFileSync(path.join(REPO_ROOT, 'bench', 'RESULTS.md'), section);
    console.log('appended to bench/RESULTS.md');
  }
}

main().then(
  () => process.exit(0),
  async (err) => {
    console.error(err);
    await cleanupAll().catch(() => {});
    process.exit(1);
  },
);
