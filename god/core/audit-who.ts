// Who is making a change: the CI job when God runs in one (from the CI's standard variables), and always the OS
// user and host. Only what the CI documents as identifying the run is read; never a token.
import os from 'node:os';
import type { AuditActor } from './audit-record.ts';

const set = (v: string | undefined) => (v?.trim() ? v.trim() : null);

function ciOf(env: NodeJS.ProcessEnv): AuditActor['ci'] {
  if (env.GITHUB_ACTIONS === 'true') {
    const server = set(env.GITHUB_SERVER_URL);
    const repo = set(env.GITHUB_REPOSITORY);
    const run = set(env.GITHUB_RUN_ID);
    return {
      system: 'github',
      actor: set(env.GITHUB_ACTOR),
      job: run,
      url: server && repo && run ? `${server}/${repo}/actions/runs/${run}` : null,
    };
  }
  if (env.GITLAB_CI === 'true') {
    return {
      system: 'gitlab',
      actor: set(env.GITLAB_USER_LOGIN),
      job: set(env.CI_JOB_ID),
      url: set(env.CI_JOB_URL),
    };
  }
  // any other CI sets CI (Jenkins: BUILD_URL/BUILD_TAG, Buildkite, CircleCI … share the convention)
  if (set(env.CI) && !/^(0|false|no|off)$/i.test(env.CI!)) {
    return {
      system: 'ci',
      actor: null,
      job: set(env.BUILD_TAG) ?? set(env.BUILD_ID) ?? set(env.CI_JOB_ID),
      url: set(env.BUILD_URL),
    };
  }
  return null;
}

export function auditActor(env: NodeJS.ProcessEnv = process.env): AuditActor {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    // a uid without a passwd entry (containers)
    user = set(env.USER) ?? `uid ${process.getuid?.() ?? '?'}`;
  }
  return { user, host: os.hostname(), ci: ciOf(env) };
}
