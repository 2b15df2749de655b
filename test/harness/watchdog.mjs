// The harness's watchdog (see procs.ts): one per owner process (a test worker or a bench). The owner
// tells it, on stdin, each process group it starts ("pid N") and each temp dir it makes ("dir PATH"),
// and "-pid N" / "-dir PATH" once it has cleaned one up itself. When stdin ends — the owner exited in
// any way, SIGKILL and OOM included, where its own exit hook cannot run — it kills what is left
// (SIGTERM, then SIGKILL) and removes the dirs. Plain JS: it runs under bare node, before tsx.
import fs from 'node:fs';

const groups = new Map(); // pid -> start time (so a reused pid is never signalled)
const dirs = new Set();

function startTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function signal(pid, sig) {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let i = buf.indexOf('\n');
  while (i >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    i = buf.indexOf('\n');
    const sp = line.indexOf(' ');
    const cmd = line.slice(0, sp);
    const arg = line.slice(sp + 1);
    if (cmd === 'pid') {
      const st = startTime(Number(arg));
      if (st !== undefined) groups.set(Number(arg), st);
    } else if (cmd === '-pid') groups.delete(Number(arg));
    else if (cmd === 'dir') dirs.add(arg);
    else if (cmd === '-dir') dirs.delete(arg);
  }
});
process.stdin.on('error', () => {});
process.stdin.on('close', () => {
  const live = () => [...groups].filter(([pid, st]) => startTime(pid) === st).map(([pid]) => pid);
  // a group whose leader is gone may still have members; a pgid is not reused while the group exists
  for (const pid of groups.keys()) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // no such group
    }
  }
  for (const pid of live()) signal(pid, 'SIGTERM');
  const deadline = Date.now() + 3000;
  const finish = () => {
    const left = live();
    if (left.length && Date.now() < deadline) return void setTimeout(finish, 50);
    for (const pid of left) signal(pid, 'SIGKILL');
    for (const pid of groups.keys()) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // no such group
      }
    }
    for (const dir of dirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // not ours any more
      }
    }
    process.exit(0);
  };
  finish();
});
