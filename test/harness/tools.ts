// Suites that need an external tool (sshd, moto_server, tmux, ...) skip locally when it is missing,
// saying why; under CI (CI=true) a missing tool fails the run instead, so a green CI means they ran.

/** True when running under CI (CI set to anything but '', '0' or 'false'). */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.CI ?? '').trim().toLowerCase();
  return v !== '' && v !== '0' && v !== 'false';
}

/**
 * For `describe.skipIf(skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server'))`.
 * All tools present: false (run). One missing, locally: prints which and how to install it, returns true
 * (skip). Under CI: throws, which fails the test file with that message.
 */
export function skipWithout(
  tools: Record<string, boolean>,
  hint: string,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  const missing = Object.entries(tools)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  if (missing.length === 0) return false;
  const what = `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed or not on PATH`;
  if (isCI(env)) {
    throw new Error(`${what}; under CI this suite must run, not skip. Install: ${hint}`);
  }
  console.warn(`[harness] skipping suite: ${what} (install: ${hint}; under CI=true this fails)`);
  return true;
}
