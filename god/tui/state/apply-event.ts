// God's own events on the dashboard: deploy progress, process supervision as alerts, warnings, notices.
// One switch over the event union (core/events.ts): a new event type fails to compile until it is placed here.
import type { GodEvent } from '../../core/events.ts';
import type { AlertList } from './alerts.ts';
import type { DeployProgress } from './deploy.ts';
import type { ViewState } from './view.ts';

export function applyEvent(
  to: { deploy: DeployProgress; alerts: AlertList; view: ViewState },
  ev: GodEvent & { at?: string },
  now: number,
): void {
  const at = ev.at ? Date.parse(ev.at) : now;
  switch (ev.type) {
    case 'step':
      to.deploy.step(ev);
      return;
    case 'host': {
      if (to.deploy.running) {
        to.deploy.host(ev);
        return;
      }
      // outside a deploy (a restart one by one, say) a host event is just news
      const what =
        ev.ok === false ? `failed: ${ev.error ?? ''}` : ev.phase === 'end' ? 'done' : (ev.detail ?? '…');
      to.view.note({ text: `${ev.step} ${ev.host} ${what}`, level: ev.ok === false ? 'error' : 'info', at });
      return;
    }
    case 'process':
      if (ev.action === 'exited' || ev.action === 'restarting') {
        to.alerts.push({
          at,
          kind: 'process',
          level: ev.action === 'exited' && ev.code !== 0 ? 'error' : 'warn',
          message: `${ev.role} ${ev.id} ${ev.action}${ev.code != null ? ` (code ${ev.code})` : ''}${ev.detail ? `: ${ev.detail}` : ''}`,
          source: 'god',
        });
      }
      return;
    case 'machine':
      to.view.note({ text: `machine ${ev.id} (${ev.role}) ${ev.action}`, level: 'info', at });
      return;
    case 'warn':
    case 'error':
      to.alerts.push({ at, kind: 'god', level: ev.type, message: ev.message, source: 'god' });
      to.view.note({ text: ev.message + (ev.hint ? ` — ${ev.hint}` : ''), level: ev.type, at });
      return;
    case 'info':
      to.view.note({ text: ev.message, level: 'info', at });
      return;
    case 'audit': {
      // a change God made (god/core/audit.ts): who did what, and how it ended
      const r = ev.record;
      const who = r.who.ci
        ? `${r.who.ci.system} ${r.who.ci.actor ?? r.who.ci.job ?? ''}`.trim()
        : `${r.who.user}@${r.who.host}`;
      to.alerts.push({
        at,
        kind: 'audit',
        level: r.result.ok ? 'info' : 'warn',
        message: `${r.action}${r.args.length ? ` ${r.args.join(' ')}` : ''} by ${who}: ${r.result.ok ? 'ok' : `failed ${r.result.code ?? ''}`.trim()}`,
        source: 'god',
        ...(r.id ? { key: `audit:${r.id}` } : {}),
      });
      return;
    }
  }
}
