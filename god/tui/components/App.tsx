// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// The dashboard: header, panes laid out for the terminal's size, footer with the keys, modal overlays.
import { Box, Text, useInput, useStdout } from 'ink';
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { DashboardActions } from '../actions.ts';
import { clock, num } from '../format.ts';
import { footerKeys, handleKey } from '../keys.ts';
import type { HeaderInfo, ProcessRow } from '../state/fleet.ts';
import type { Mode, Notice } from '../state/view.ts';
import { type DashboardStore, PANE_TITLES, PANES, type PaneId } from '../store.ts';
import { AlertsPane } from './AlertsPane.tsx';
import { FleetPane } from './FleetPane.tsx';
import { LogsPane } from './LogsPane.tsx';
import { MoviesPane } from './MoviesPane.tsx';
import { ConfirmOverlay, DeployOverlay, HelpOverlay } from './Overlays.tsx';
import { DETAIL_LOG_LINES, ProcessDetail } from './ProcessDetail.tsx';
import { ProcessesPane } from './ProcessesPane.tsx';
import { WatchView } from './WatchView.tsx';

export interface Size {
  columns: number;
  rows: number;
}

function useTerminalSize(fixed?: Size): Size {
  const { stdout } = useStdout();
  const read = (): Size => fixed ?? { columns: stdout.columns || 80, rows: stdout.rows || 24 };
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (fixed) return;
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  });
  return fixed ?? size;
}

/** Wide terminals show every pane at once; small ones show the focused pane with a tab bar. */
export function isWide(size: Size): boolean {
  return size.columns >= 100 && size.rows >= 30;
}

function Header(p: { processes: readonly ProcessRow[]; header: HeaderInfo; now: number; width: number }) {
  const { processes: procs, header, width } = p;
  const up = procs.filter((p) => p.state === 'up').length;
  const clients = procs.reduce((s, p) => s + (p.clients ?? 0), 0);
  const tps = procs.filter((p) => p.role === 'feeder').reduce((s, p) => s + (p.tweetsPerS ?? 0), 0);
  const left = [
    header.fleet ? `${header.fleet} fleet` : undefined,
    `${up}/${procs.length} up`,
    `${num(clients)} clients`,
    `${num(tps, 1)} tw/s`,
    clock(p.now, false),
  ]
    .filter(Boolean)
    .join(' · ');
  const redis = header.redis ? `redis ${header.redis}` : undefined;
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        <Text bold color="magenta">
          {' GOD '}
        </Text>
        <Text> {left}</Text>
        {redis ? <Text color="gray">{` · ${redis}`}</Text> : null}
      </Text>
    </Box>
  );
}

/** The line above the keys: the filter being typed, else the last notice while it is fresh. */
function StatusLine({ mode, notice: n, now }: { mode: Mode; notice?: Notice; now: number }) {
  if (mode.kind === 'filter') {
    return (
      <Text wrap="truncate-end">
        <Text bold color="cyan">
          /{mode.draft}
        </Text>
        <Text inverse> </Text>
        {mode.error ? (
          <Text color="red"> {mode.error}</Text>
        ) : (
          <Text color="gray"> enter: keep · esc: cancel · role:NAME host:NAME level:warn words…</Text>
        )}
      </Text>
    );
  }
  if (!n || now - n.at > NOTICE_MS) return <Text> </Text>;
  const color = n.level === 'error' ? 'red' : n.level === 'warn' ? 'yellow' : 'green';
  return (
    <Text wrap="truncate-end" color={color}>
      {n.text}
    </Text>
  );
}

const NOTICE_MS = 15_000;

function Footer({ width, readOnly }: { width: number; readOnly?: boolean }) {
  const items: Array<[string, string]> = readOnly ? [['READ-ONLY', '']] : [];
  let used = readOnly ? 11 : 0;
  for (const [k, what] of footerKeys(readOnly)) {
    const w = k.length + what.length + 2;
    if (used + w > width) break;
    items.push([k, what]);
    used += w;
  }
  return (
    <Text wrap="truncate-end">
      {items.map(([k, what]) => (
        <Text key={k}>
          <Text bold color="cyan">
            {k}
          </Text>
          <Text color="gray">{` ${what} `}</Text>
        </Text>
      ))}
    </Text>
  );
}

function TabBar({ focus, width }: { focus: PaneId; width: number }) {
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        {PANES.map((p, i) => (
          <Text key={p} inverse={p === focus} bold={p === focus} color={p === focus ? 'cyan' : 'gray'}>
            {` ${i + 1} ${PANE_TITLES[p]} `}
          </Text>
        ))}
      </Text>
    </Box>
  );
}

/** Pane `id` with what it shows, and nothing else, from the store. */
function PaneOf(p: { store: DashboardStore; id: PaneId; width: number; height: number; focused: boolean }) {
  const { store, id, ...box } = p;
  const selected = store.view.selected[id];
  switch (id) {
    case 'fleet':
      return (
        <FleetPane
          machines={store.fleet.machines}
          fleet={store.fleet.header.fleet}
          selected={selected}
          {...box}
        />
      );
    case 'processes':
      return <ProcessesPane rows={store.fleet.processes} selected={selected} now={store.now()} {...box} />;
    case 'logs':
      return <LogsPane logs={store.logs} {...box} />;
    case 'movies':
      return <MoviesPane ranking={store.movies} selected={selected} now={store.now()} {...box} />;
    case 'alerts':
      return <AlertsPane alerts={store.alerts.rows} selected={selected} {...box} />;
  }
}

function WideBody({ store, width, height }: { store: DashboardStore; width: number; height: number }) {
  const leftW = Math.floor(width * 0.62);
  const rightW = width - leftW - 1;
  const procH = Math.min(Math.max(4, store.fleet.processes.length + 2), Math.floor(height * 0.4));
  const fleetH = Math.min(Math.max(3, store.fleet.machines.length + 2), 6);
  const alertsH = Math.max(3, Math.floor((height - fleetH) * 0.35));
  const moviesH = height - fleetH - alertsH;
  const f = store.view.focus;
  const pane = (id: PaneId, w: number, h: number) => (
    <PaneOf store={store} id={id} width={w} height={h} focused={f === id} />
  );
  return (
    <Box height={height} width={width}>
      <Box flexDirection="column" width={leftW}>
        {pane('processes', leftW, procH)}
        {pane('logs', leftW, height - procH)}
      </Box>
      <Box width={1} />
      <Box flexDirection="column" width={rightW}>
        {pane('fleet', rightW, fleetH)}
        {pane('movies', rightW, moviesH)}
        {pane('alerts', rightW, alertsH)}
      </Box>
    </Box>
  );
}

export interface AppProps {
  store: DashboardStore;
  actions: DashboardActions;
  /** fixed size (tests); default: the terminal's, following resizes */
  size?: Size;
}

export function App({ store, actions, size: fixed }: AppProps) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const size = useTerminalSize(fixed);
  useInput((input, key) => handleKey(store, actions, input, key));
  // one line short of the terminal: Ink redraws the whole screen (flicker) when output fills it
  const height = Math.max(6, size.rows - 1);
  const width = Math.max(20, size.columns);
  const wide = isWide(size);
  const bodyH = height - 3 - (wide ? 0 : 1);
  const { focus, mode, notice } = store.view;
  const now = store.now();
  const modalW = Math.min(width - 2, 100);
  const modalLeft = Math.max(0, Math.floor((width - modalW) / 2));
  const modalTop = 1;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Header processes={store.fleet.processes} header={store.fleet.header} now={now} width={width} />
      {wide ? null : <TabBar focus={focus} width={width} />}
      {wide ? (
        <WideBody store={store} width={width} height={bodyH} />
      ) : (
        <PaneOf store={store} id={focus} width={width} height={bodyH} focused />
      )}
      <StatusLine mode={mode} notice={notice} now={now} />
      <Footer width={width} readOnly={actions.readOnly} />
      {mode.kind === 'help' ? (
        <HelpOverlay width={modalW} top={modalTop} left={modalLeft} readOnly={actions.readOnly} />
      ) : null}
      {mode.kind === 'confirm' ? (
        <ConfirmOverlay
          mode={mode}
          width={Math.min(modalW, 72)}
          top={modalTop + 2}
          left={Math.max(0, Math.floor((width - Math.min(modalW, 72)) / 2))}
        />
      ) : null}
      {mode.kind === 'watch' ? (
        <WatchView watch={store.watch} width={modalW} height={bodyH} top={modalTop} left={modalLeft} />
      ) : null}
      {mode.kind === 'detail' ? (
        <ProcessDetail
          row={store.fleet.processes.find((r) => r.id === mode.id && r.role === mode.role)}
          id={mode.id}
          settings={store.fleet.settings[mode.role]}
          lines={store.processLines(mode.role, mode.id, DETAIL_LOG_LINES)}
          now={now}
          width={modalW}
          height={bodyH}
          top={modalTop}
          left={modalLeft}
        />
      ) : null}
      {mode.kind === 'deploy' ? (
        <DeployOverlay
          deploy={store.deploy.state}
          now={now}
          width={modalW}
          height={bodyH}
          top={modalTop}
          left={modalLeft}
        />
      ) : null}
    </Box>
  );
}
