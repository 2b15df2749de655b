// `god ssh HOST` in a real terminal: tmux runs it at 120x40 against a loopback sshd host (ssh provider). We
// type a command and read its output, check raw mode (Ctrl-C reaches the remote `sleep`, not God), resize the
// window and read the new size from the remote PTY, exit with a status, and find the operator's terminal as
// it was (`stty -g` before and after; Node resets a raw TTY when it exits, so this checks the outcome, not
// shell.ts' own restore, which the dashboard relies on). The target is a process id (exec.test.ts covers the
// selector's other words). From the dashboard, `!` does the same and Ink comes back.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeTempDir,
  skipWithout,
  sleep,
  sshAvailable,
  useRedis,
  useSshHosts,
  waitFor,
} from '../harness/index.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const SOCKET = `fg-ssh-shell-${process.pid}`;

const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
})();

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
}

describe.skipIf(
  skipWithout(
    { tmux: hasTmux, sshd: sshAvailable() },
    'apt-get install -y tmux openssh-server openssh-client',
  ),
)('god ssh in tmux (loopback sshd host)', () => {
  const getFleet = useSshHosts(1);
  const getRedis = useRedis();
  let dir: string;
  let sessions = 0;

  beforeAll(() => {
    dir = makeTempDir('god-ssh-shell');
    const fleet = getFleet();
    fs.writeFileSync(
      path.join(dir, 'god.config.yaml'),
      stringify({
        provider: 'ssh',
        redis: { url: getRedis().url }, // the dashboard reads the fleet's beats there
        ssh: {
          key: fleet.privateKeyPath,
          known_hosts: fleet.knownHostsPath,
          hosts: fleet.hosts.map((h) => ({
            name: h.name,
            address: h.address,
            port: h.port,
            user: h.user,
            roles: ['keeper'],
            base_dir: path.join(h.root, 'fg'),
          })),
        },
      }),
    );
  });
  afterAll(() => {
    try {
      tmux('kill-server');
    } catch {}
  });

  /** a tmux session running `god ssh TARGET` between two `stty -g`, then saying how it ended */
  function open(args: string): { screen: () => string; keys: (...k: string[]) => void; name: string } {
    const name = `s${++sessions}`;
    const cmd = [
      `cd ${dir}`,
      'S0=$(stty -g)',
      `env -u CI -u GOD_JSON TERM=xterm-256color PS1='remote$ ' ${process.execPath} ${ROOT}/bin/god.mjs ${args}`,
      'echo "GOD-EXIT=$?"',
      '[ "$(stty -g)" = "$S0" ] && echo TTY-RESTORED || echo TTY-CHANGED',
      'sleep 60',
    ].join('; ');
    tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '40', cmd);
    return {
      name,
      screen: () => tmux('capture-pane', '-p', '-t', name),
      keys: (...k: string[]) => void tmux('send-keys', '-t', name, ...k),
    };
  }

  it('ssh PROCESS: types a command, sees its output, Ctrl-C goes to the remote, resize, exit, terminal back', async () => {
    const host = getFleet().hosts[0]!;
    const t = open(`ssh keeper-${host.name}`); // a process id: the shell is on its host
    // the remote shell answers (its own environment: FG_HOST_NAME is set by that sshd only)
    await sleep(1500);
    t.keys('echo "on-$FG_HOST_NAME-$((6*7))"', 'Enter');
    await waitFor(() => t.screen().includes(`on-${host.name}-42`), 30_000, 'the remote command output');

    // raw mode: Ctrl-C interrupts the remote sleep; God and the shell stay
    t.keys('sleep 30', 'Enter');
    await sleep(500);
    t.keys('C-c');
    t.keys('echo still-$((1+1))', 'Enter');
    await waitFor(() => t.screen().includes('still-2'), 10_000, 'the shell alive after Ctrl-C');
    expect(t.screen()).not.toContain('GOD-EXIT');

    // the window size reaches the remote PTY, at start and after a resize
    t.keys('stty size', 'Enter');
    await waitFor(() => /^40 120\s*$/m.test(t.screen()), 10_000, 'the remote PTY at 40x120');
    tmux('resize-window', '-t', t.name, '-x', '100', '-y', '30');
    await sleep(500);
    t.keys('clear; stty size', 'Enter');
    await waitFor(() => /^30 100\s*$/m.test(t.screen()), 10_000, 'the remote PTY resized to 30x100');

    t.keys('exit 7', 'Enter');
    await waitFor(() => t.screen().includes('TTY-'), 10_000, 'god ssh to end');
    expect(t.screen()).toContain('GOD-EXIT=7');
    expect(t.screen()).toContain('TTY-RESTORED');
  }, 90_000);

  it('from the dashboard: ! on the selected process opens the shell, Ink steps aside and comes back', async () => {
    const host = getFleet().hosts[0]!;
    const t = open('dashboard');
    await waitFor(() => t.screen().includes(`keeper-${host.name}`), 30_000, 'the dashboard with the process');
    t.keys('2'); // the Processes pane, its first row selected
    await sleep(300);
    t.keys('!');
    await waitFor(() => t.screen().includes(`shell on ${host.name}; exit it`), 20_000, 'the shell note');
    await sleep(800);
    t.keys('echo "from-dash-$((3*5))"', 'Enter');
    await waitFor(() => t.screen().includes('from-dash-15'), 20_000, 'the command output in the shell');
    t.keys('exit', 'Enter');
    await waitFor(
      () => /2 Processes/.test(t.screen()) && t.screen().includes(`back from the shell on ${host.name}`),
      20_000,
      'the dashboard back, saying so',
    );
    t.keys('j'); // keys reach the dashboard again
    t.keys('q');
    await waitFor(() => t.screen().includes('TTY-'), 20_000, 'the dashboard to quit');
    expect(t.screen()).toContain('GOD-EXIT=0');
    expect(t.screen()).toContain('TTY-RESTORED');
  }, 90_000);
});
