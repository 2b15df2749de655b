// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// Open the dashboard on the terminal: alternate screen, ≤ 30 frames/s, only changed lines redrawn; resolves
// when the operator quits (q / ctrl-c), with the screen restored.
import { render } from 'ink';
import type { DashboardActions } from './actions.ts';
import { App } from './components/App.tsx';
import type { DashboardStore } from './store.ts';

export interface RunDashboardOptions {
  store: DashboardStore;
  actions: Omit<DashboardActions, 'quit'>;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  /** frames per second at most (default 30) */
  maxFps?: number;
}

const ALT_SCREEN_ON = '\u001b[?1049h\u001b[H';
const ALT_SCREEN_OFF = '\u001b[?1049l';
const SHOW_CURSOR = '\u001b[?25h';

export async function runDashboard(o: RunDashboardOptions): Promise<void> {
  const stdout = o.stdout ?? process.stdout;
  const stdin = o.stdin ?? process.stdin;
  let quit!: () => void;
  const quitting = new Promise<void>((r) => (quit = r));
  const actions: DashboardActions = { ...o.actions, quit: () => quit() };
  // the header clock and "updated Ns ago" move once a second even when nothing else does
  const ticker = setInterval(() => o.store.tick(), 1000);
  stdout.write(ALT_SCREEN_ON);
  const restore = () => stdout.write(ALT_SCREEN_OFF + SHOW_CURSOR);
  process.once('exit', restore);
  const mount = () =>
    render(<App store={o.store} actions={actions} />, {
      stdout,
      stdin,
      exitOnCtrlC: false,
      patchConsole: true,
      maxFps: o.maxFps ?? 30,
      incrementalRendering: false,
    });
  // a shell (`!`) gets the terminal to itself: Ink unmounts (releasing raw mode and stdin), the normal screen
  // comes back for the shell, and the dashboard is mounted again on the alternate screen when it exits
  let aside: Promise<void> | undefined;
  if (o.actions.shell) {
    const shell = o.actions.shell;
    actions.shell = async (row) => {
      let back!: () => void;
      aside = new Promise<void>((r) => (back = r));
      ink.unmount();
      ink.cleanup();
      restore();
      try {
        return await shell(row);
      } finally {
        stdout.write(ALT_SCREEN_ON);
        ink = mount();
        back();
        aside = undefined;
      }
    };
  }
  let ink = mount();
  try {
    for (;;) {
      await Promise.race([quitting, ink.waitUntilExit()]);
      const away = aside;
      if (!away) break; // quit, or Ink itself ended
      await away;
    }
  } finally {
    clearInterval(ticker);
    ink.unmount();
    ink.cleanup();
    process.off('exit', restore);
    restore();
  }
}
