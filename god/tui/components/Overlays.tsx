// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// Modal boxes drawn over the panes: help, confirmation, deploy progress. Every line is padded to the box
// width so nothing of the pane underneath shows through.
import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { duration, pad } from '../format.ts';
import { keyHelp } from '../keys.ts';
import type { DeployState, HostProgress } from '../state/deploy.ts';
import type { ConfirmRequest, Mode } from '../state/view.ts';

function Modal(p: {
  width: number;
  top: number;
  left: number;
  color: string;
  title: string;
  children: ReactNode;
}) {
  return (
    <Box position="absolute" marginTop={p.top} marginLeft={p.left} width={p.width} flexDirection="column">
      <Box borderStyle="round" borderColor={p.color} flexDirection="column" width={p.width}>
        <Text bold color={p.color}>
          {pad(p.title, p.width - 2)}
        </Text>
        {p.children}
      </Box>
    </Box>
  );
}

function Row({ width, children, ...rest }: { width: number; children: string } & Record<string, unknown>) {
  return (
    <Text wrap="truncate-end" {...rest}>
      {pad(children, width)}
    </Text>
  );
}

export function HelpOverlay({
  width,
  top,
  left,
  readOnly = false,
}: {
  width: number;
  top: number;
  left: number;
  readOnly?: boolean;
}) {
  const inner = width - 2;
  const keyW = Math.min(22, Math.floor(inner / 3));
  return (
    <Modal width={width} top={top} left={left} color="cyan" title="Keys (any key closes)">
      {keyHelp(readOnly).map(([k, what]) => (
        <Text key={k} wrap="truncate-end">
          <Text bold color="cyan">
            {pad(k, keyW)}
          </Text>
          <Text>{pad(` ${what}`, inner - keyW)}</Text>
        </Text>
      ))}
      <Row width={inner} color="gray">
        {' '}
      </Row>
      <Row width={inner} color="gray">
        Processes are red when missing or stale (no heartbeat). The log keeps the last 5,000 lines.
      </Row>
      {readOnly ? (
        <Row width={inner} color="yellow">
          Read-only dashboard: the keys that change the fleet are off.
        </Row>
      ) : null}
    </Modal>
  );
}

export function ConfirmOverlay(p: {
  mode: Extract<Mode, { kind: 'confirm' }>;
  width: number;
  top: number;
  left: number;
}) {
  const { req, countText } = p.mode;
  const inner = p.width - 2;
  return (
    <Modal width={p.width} top={p.top} left={p.left} color="yellow" title={req.title}>
      <Row width={inner}>{req.body}</Row>
      {planRows(req.plan).map((line) => (
        <Row key={line} width={inner}>
          {line}
        </Row>
      ))}
      {req.count ? (
        <Text wrap="truncate-end">
          <Text>{`${req.count.label}: `}</Text>
          <Text inverse>{pad(countText || ' ', 8)}</Text>
          <Text color="gray">{pad(' (type a number)', inner - req.count.label.length - 10)}</Text>
        </Text>
      ) : null}
      <Text wrap="truncate-end">
        <Text bold color="green">
          [y]
        </Text>
        <Text> yes </Text>
        <Text bold color="red">
          [n]
        </Text>
        <Text>{pad(' no (esc)', inner - 11)}</Text>
      </Text>
    </Modal>
  );
}

/** at most this many plan lines in a prompt; the rest are counted */
const PLAN_ROWS = 6;

function planRows(plan: ConfirmRequest['plan']): string[] {
  if (!plan) return [];
  if ('error' in plan) return [`no plan: ${plan.error}`];
  if (!plan.changes.length) return ['plan: nothing to change'];
  const shown = plan.changes.slice(0, PLAN_ROWS).map((c) => `· ${c}`);
  const more = plan.changes.length - shown.length;
  return more > 0 ? [...shown, `… ${more} more`] : shown;
}

function bar(progress: number | undefined, width: number): string {
  if (progress === undefined) return ' '.repeat(width);
  const n = Math.round(Math.max(0, Math.min(1, progress)) * width);
  return '█'.repeat(n) + '░'.repeat(width - n);
}

function hostLine(h: HostProgress, inner: number, hostW: number): { text: string; color?: string } {
  const barW = Math.max(5, Math.min(20, inner - hostW - 30));
  const state = h.ok === false ? 'FAILED' : h.phase === 'end' ? (h.ok === true ? 'ok' : 'done') : '…';
  const pct = h.progress !== undefined ? `${Math.round(h.progress * 100)}%`.padStart(4) : '    ';
  const tail = h.error ?? h.detail ?? (h.ms !== undefined ? `${h.ms} ms` : '');
  const text = `${pad(h.host, hostW)} ${pad(h.step, 10)} ${bar(h.progress, barW)} ${pct} ${pad(state, 7)} ${tail}`;
  return { text, color: h.ok === false ? 'red' : h.phase === 'end' ? 'green' : undefined };
}

export function DeployOverlay(p: {
  deploy: DeployState | undefined;
  now: number;
  width: number;
  height: number;
  top: number;
  left: number;
}) {
  const deploy = p.deploy;
  const inner = p.width - 2;
  if (!deploy) return null;
  const elapsed = duration((deploy.endedAt ?? p.now) - deploy.startedAt);
  const status = deploy.running
    ? `deploying${deploy.step ? ` · ${deploy.step}` : ''} · ${elapsed}`
    : deploy.ok
      ? `deployed in ${elapsed}`
      : `deploy FAILED after ${elapsed}${deploy.error ? `: ${deploy.error}` : ''}`;
  const hostW = Math.min(20, Math.max(8, ...deploy.hosts.map((h) => h.host.length)));
  const rows = Math.max(1, p.height - 5);
  const done = deploy.hosts.filter((h) => h.phase === 'end').length;
  return (
    <Modal
      width={p.width}
      top={p.top}
      left={p.left}
      color={deploy.running ? 'cyan' : deploy.ok ? 'green' : 'red'}
      title={`Deploy — ${done}/${deploy.hosts.length} hosts`}
    >
      <Row
        width={inner}
        color={deploy.running ? undefined : deploy.ok ? 'green' : 'red'}
        bold={!deploy.running}
      >
        {status}
      </Row>
      {deploy.hosts.length === 0 ? (
        <Row width={inner} color="gray">
          {'waiting for the first host…'}
        </Row>
      ) : null}
      {deploy.hosts.slice(0, rows).map((h) => {
        const l = hostLine(h, inner, hostW);
        return (
          <Row key={h.host} width={inner} color={l.color}>
            {l.text}
          </Row>
        );
      })}
      {deploy.hosts.length > rows ? (
        <Row width={inner} color="gray">{`… ${deploy.hosts.length - rows} more hosts`}</Row>
      ) : null}
      <Row width={inner} color="gray">
        {deploy.running ? 'esc: hide (the deploy goes on)' : 'esc / enter: close'}
      </Row>
    </Modal>
  );
}
