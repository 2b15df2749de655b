// Key bindings: one function from a key press to store changes and actions, so tests drive it without a
// terminal and the help screen lists the same table.
import type { DashboardActions } from './actions.ts';
import { saveLogView } from './save-log.ts';
import type { ConfirmRequest } from './state/view.ts';
import { type DashboardStore, PANES, type ProcessRow } from './store.ts';

/** The subset of Ink's Key the bindings look at. */
export interface KeyPress {
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
  shift?: boolean;
  tab?: boolean;
  backspace?: boolean;
  delete?: boolean;
}

export const KEY_HELP: Array<[string, string]> = [
  ['tab / shift-tab, 1-5', 'switch pane (1 Fleet, 2 Processes, 3 Logs, 4 Movies, 5 Alerts)'],
  ['↑ ↓ / k j, PgUp PgDn', 'move the selection; scroll the log back'],
  [
    'enter',
    "Movies: watch the movie's live feed through an endpoint; Processes: the process in full (esc back)",
  ],
  ['/', 'filter the log: words, role:NAME, host:NAME, level:warn (esc clears)'],
  ['f', 'follow the log (jump to the newest line) on/off'],
  ['space', 'pause / resume the log view (lines keep arriving)'],
  ['w', 'write the log view (filter applied, up to the pause) to god-log-<time>.log'],
  ['u', 'up: one more process of the selected role'],
  ['x', 'down: stop the selected process, an endpoint drained first (asks first)'],
  ['X', 'down --force: stop it at once, no drain (asks first)'],
  ['r', 'restart the selected process (asks first)'],
  ['d', 'deploy the current build to the fleet (asks first; shows per-host progress)'],
  ['s', 'shed clients from the selected endpoint (asks first)'],
  ['!', "a shell on the selected process's host (the dashboard comes back when it exits)"],
  ['?', 'this help'],
  ['q, ctrl-c', 'quit'],
];

/** The footer's hints, most useful first: a narrow footer keeps the head of the list. */
export const FOOTER_KEYS: Array<[string, string]> = [
  ['?', 'help'],
  ['q', 'quit'],
  ['tab', 'pane'],
  ['/', 'filter'],
  ['⏎', 'watch/detail'],
  ['f', 'follow'],
  ['␣', 'pause'],
  ['w', 'save log'],
  ['r', 'restart'],
  ['d', 'deploy'],
  ['s', 'shed'],
  ['u', 'up'],
  ['x', 'down'],
];

/** Keys that change the fleet, and `!` (a shell on a host reaches all they do): hidden and refused when read-only. */
export const ACTION_KEYS: ReadonlySet<string> = new Set(['u', 'x', 'X', 'r', 'd', 's', '!']);

const lookOnly = (rows: Array<[string, string]>) => rows.filter(([k]) => !ACTION_KEYS.has(k));

/** The help screen's rows for this dashboard. */
export const keyHelp = (readOnly = false) => (readOnly ? lookOnly(KEY_HELP) : KEY_HELP);
/** The footer's hints for this dashboard. */
export const footerKeys = (readOnly = false) => (readOnly ? lookOnly(FOOTER_KEYS) : FOOTER_KEYS);

function errorText(err: unknown): string {
  const e = err as { message?: string; hint?: string };
  return `${e?.message ?? String(err)}${e?.hint ? ` — ${e.hint}` : ''}`;
}

/** Run an action, telling the operator when it starts, ends or fails. */
async function perform(store: DashboardStore, doing: string, done: string, fn: () => Promise<unknown>) {
  store.view.setNotice(`${doing}…`);
  try {
    await fn();
    store.view.setNotice(done);
  } catch (err) {
    const text = `${doing} failed: ${errorText(err)}`;
    store.pushAlert({ at: store.now(), kind: 'god', level: 'error', message: text, source: 'god' });
    store.view.setNotice(text, 'error');
  }
}

function unavailable(store: DashboardStore, what: string): void {
  store.view.setNotice(`${what} is not available with this fleet`, 'warn');
}

function needProcess(store: DashboardStore): ProcessRow | undefined {
  const row = store.selectedProcess();
  if (!row) store.view.setNotice('no process selected: pick one in the Processes pane (2)', 'warn');
  return row;
}

export function runDeploy(store: DashboardStore, actions: DashboardActions) {
  const deploy = actions.deploy;
  if (!deploy) return unavailable(store, 'deploy');
  store.deploy.start();
  store.view.setMode({ kind: 'deploy' });
  deploy().then(
    (res) => store.deploy.end(res?.ok ?? true, res?.error),
    (err) => store.deploy.end(false, errorText(err)),
  );
}

function normalKey(store: DashboardStore, actions: DashboardActions, input: string, key: KeyPress) {
  if (key.tab) return store.view.cyclePane(key.shift ? -1 : 1);
  if (key.upArrow || input === 'k') return store.move(-1);
  if (key.downArrow || input === 'j') return store.move(1);
  if (key.pageUp) return store.move(-Math.max(1, store.logs.rows - 1));
  if (key.pageDown) return store.move(Math.max(1, store.logs.rows - 1));
  if (key.escape) {
    if (store.logs.filter.source) store.logs.setFilter('');
    return;
  }
  if (key.return) {
    if (store.view.focus === 'movies') return openWatch(store, actions);
    if (store.view.focus === 'processes') {
      const row = needProcess(store);
      if (row) store.view.setMode({ kind: 'detail', role: row.role, id: row.id });
    }
    return;
  }
  if (/^[1-5]$/.test(input)) return store.view.setFocus(PANES[Number(input) - 1]!);
  if (actions.readOnly && ACTION_KEYS.has(input)) {
    return store.view.setNotice(
      'read-only dashboard: actions are off (started with --read-only or GOD_READ_ONLY=1)',
      'warn',
    );
  }
  switch (input) {
    case 'w':
      try {
        const file = saveLogView(store.logs.matchedLines(), actions.saveDir ?? process.cwd());
        return store.view.setNotice(`log view saved to ${file}`);
      } catch (err) {
        return store.view.setNotice(`could not save the log view: ${errorText(err)}`, 'error');
      }
    case 'q':
      return actions.quit();
    case '?':
      return store.view.setMode({ kind: 'help' });
    case '/':
      return store.view.setMode({
        kind: 'filter',
        draft: store.logs.filter.source,
        previous: store.logs.filter.source,
      });
    case 'f':
      return store.logs.toggleFollow();
    case ' ':
      return store.logs.togglePause();
    case 'G':
      return store.logs.followNow();
    case 'u': {
      const up = actions.up;
      if (!up) return unavailable(store, 'up');
      const row = needProcess(store);
      if (!row) return;
      return confirmWithPlan(store, actions, 'up', row, {
        title: `Start one more ${row.role}?`,
        body: `God will start a new ${row.role} process (on EC2: a new instance).`,
        run: () => perform(store, `starting a ${row.role}`, `started a ${row.role}`, () => up(row.role)),
      });
    }
    case 'x':
    case 'X': {
      const down = actions.down;
      if (!down) return unavailable(store, 'down');
      const row = needProcess(store);
      if (!row) return;
      const force = input === 'X';
      const drains = !force && row.role === 'endpoint';
      const clients = row.clients ? `its ${row.clients} clients` : 'its clients';
      return confirmWithPlan(store, actions, 'down', row, {
        title: force ? `Stop ${row.id} now, without a drain?` : `Stop ${row.id}?`,
        body: drains
          ? `Drain, then stop: ${clients} move to other endpoints.`
          : force && row.role === 'endpoint'
            ? `Stop now: ${clients} are cut and reconnect on their own.`
            : `${row.role} on ${row.host} will stop.`,
        run: () =>
          perform(store, `${drains ? 'draining and ' : ''}stopping ${row.id}`, `stopped ${row.id}`, () =>
            down(row, { force, confirmLast: (ids) => askLast(store, ids) }),
          ),
      });
    }
    case 'r': {
      const restart = actions.restart;
      if (!restart) return unavailable(store, 'restart');
      const row = needProcess(store);
      if (!row) return;
      return confirmWithPlan(store, actions, 'restart', row, {
        title: `Restart ${row.id}?`,
        body: `${row.role} on ${row.host} will stop gracefully and start again.`,
        run: () => perform(store, `restarting ${row.id}`, `restarted ${row.id}`, () => restart(row)),
      });
    }
    case 'd':
      if (!actions.deploy) return unavailable(store, 'deploy');
      return store.view.confirm({
        title: 'Deploy the current build?',
        body: 'Every host gets the new release and its role processes restart, batch by batch.',
        run: () => runDeploy(store, actions),
      });
    case '!': {
      const shell = actions.shell;
      if (!shell) return unavailable(store, 'a shell on the host');
      const row = needProcess(store);
      if (!row) return;
      return void perform(store, `shell on ${row.host}`, `back from the shell on ${row.host}`, () =>
        shell(row),
      );
    }
    case 's': {
      const shed = actions.shed;
      if (!shed) return unavailable(store, 'shed');
      const row = needProcess(store);
      if (!row) return;
      if (row.role !== 'endpoint') {
        return store.view.setNotice(
          `${row.id} is a ${row.role}: select an endpoint to shed clients from`,
          'warn',
        );
      }
      const clients = row.clients ?? 0;
      return store.view.confirm({
        title: `Shed clients from ${row.id}?`,
        body: `That many of its ${clients} clients are sent to another endpoint.`,
        count: { label: 'clients', value: Math.max(1, Math.ceil(clients / 2)), min: 1, max: 1_000_000 },
        run: (n) =>
          perform(store, `shedding ${n} clients from ${row.id}`, `asked ${row.id} to shed ${n} clients`, () =>
            shed(row, n ?? 1),
          ),
      });
    }
  }
}

/** Handle one key press in whatever mode the dashboard is in. */
export function handleKey(store: DashboardStore, actions: DashboardActions, input: string, key: KeyPress) {
  if (key.ctrl && input === 'c') return actions.quit();
  // several keys in one read (typed fast, pasted, or sent by tmux): one at a time, so "abc\r" filters then enters
  if (input.length > 1 && !key.ctrl && !key.escape && !key.upArrow && !key.downArrow) {
    for (const ch of input) handleKey(store, actions, ch, keyOfChar(ch));
    return;
  }
  const mode = store.view.mode;
  switch (mode.kind) {
    case 'normal':
      return normalKey(store, actions, input, key);
    case 'help':
      // any key closes help; q closes it rather than quitting, so a habit does not end the session
      return store.view.setMode({ kind: 'normal' });
    case 'filter': {
      if (key.escape) {
        store.logs.setFilter(mode.previous);
        return store.view.setMode({ kind: 'normal' });
      }
      if (key.return) {
        const error = store.logs.setFilter(mode.draft);
        return store.view.setMode(error ? { ...mode, error } : { kind: 'normal' });
      }
      let draft = mode.draft;
      if (key.backspace || key.delete) draft = draft.slice(0, -1);
      else if (input && !key.ctrl && !key.tab && !key.upArrow && !key.downArrow) draft += input;
      else return;
      // filter as you type; a half-typed level is only an error once you press enter
      store.logs.setFilter(draft);
      return store.view.setMode({ ...mode, draft, error: undefined });
    }
    case 'confirm': {
      const { req } = mode;
      if (key.escape || input === 'n' || input === 'N') {
        store.view.setMode({ kind: 'normal' });
        req.cancel?.();
        return store.view.setNotice('cancelled');
      }
      if (req.count && (key.backspace || key.delete)) {
        return store.view.setMode({ ...mode, countText: mode.countText.slice(0, -1) });
      }
      if (req.count && /^[0-9]$/.test(input)) {
        return store.view.setMode({
          ...mode,
          countText: (mode.countText + input).replace(/^0+/, '').slice(0, 7),
        });
      }
      if (key.return || input === 'y' || input === 'Y') {
        let n: number | undefined;
        if (req.count) {
          n = Number(mode.countText);
          if (!Number.isInteger(n) || n < req.count.min || n > req.count.max) {
            return store.view.setNotice(
              `${req.count.label} must be a whole number from ${req.count.min} to ${req.count.max}`,
              'warn',
            );
          }
        }
        store.view.setMode({ kind: 'normal' });
        void Promise.resolve()
          .then(() => req.run(n))
          .catch((err) => store.view.setNotice(errorText(err), 'error'));
      }
      return;
    }
    case 'deploy':
    case 'detail':
      if (key.escape || key.return || input === 'q') store.view.setMode({ kind: 'normal' });
      return;
    case 'watch':
      if (key.escape || input === 'q') {
        // the client leaves: its endpoint sees the connection close
        store.watch.close();
        store.view.setMode({ kind: 'normal' });
      }
      return;
  }
}

/** Enter on a movie: a real client of the fleet on its feed, shown until Esc. */
function openWatch(store: DashboardStore, actions: DashboardActions): void {
  const watch = actions.watch;
  if (!watch) {
    unavailable(store, 'watching a movie');
    return;
  }
  const m = store.selectedMovie();
  if (!m) {
    store.view.setNotice('no movie selected: wait for the ranking, then pick one', 'warn');
    return;
  }
  const movie = { id: m.id, title: m.title };
  const handle = watch(movie, (ev) => store.watch.event(ev));
  store.watch.open(movie, handle);
  store.view.setMode({ kind: 'watch' });
  handle.started.then(
    (mv) => store.watch.started(mv),
    (err) => store.watch.fail(errorText(err)),
  );
}

function keyOfChar(ch: string): KeyPress {
  if (ch === '\r' || ch === '\n') return { return: true };
  if (ch === '\t') return { tab: true };
  if (ch === '\u007f' || ch === '\b') return { backspace: true };
  return {};
}

/** The drain found nothing left to take the clients: a second question, answered in the dashboard. */
function askLast(store: DashboardStore, ids: string[]): Promise<boolean> {
  return new Promise((resolve) =>
    store.view.confirm({
      title: `${ids.join(', ')} ${ids.length > 1 ? 'are' : 'is'} the last endpoint(s): take down anyway?`,
      body: 'No other endpoint is left to take its clients: they will have nowhere to go.',
      run: () => resolve(true),
      cancel: () => resolve(false),
    }),
  );
}

/**
 * Open the prompt at once, then put the provider's plan in it when it arrives: the operator says yes to the
 * changes God will make, not to a description of them. A plan that fails leaves the prompt as it was, with why.
 */
function confirmWithPlan(
  store: DashboardStore,
  actions: DashboardActions,
  op: 'up' | 'down' | 'restart',
  row: ProcessRow,
  req: ConfirmRequest,
): void {
  store.view.confirm(req);
  if (!actions.plan) return;
  actions.plan(op, row).then(
    (changes) => store.view.planned(req, { changes }),
    (err: unknown) => store.view.planned(req, { error: (err as Error).message }),
  );
}
