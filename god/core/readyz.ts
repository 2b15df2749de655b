// A role's /readyz as God reads it (the role's admin listener, its address from the heartbeat): ready, not
// ready (with the role's reasons), or unreachable — then God falls back on the heartbeat alone (a listener on
// a remote host's loopback is unreachable from here). A token-protected listener is read with the fleet's admin
// token (secrets/admin-token.ts) as `Authorization: Bearer`; a refused or missing token is said as such.
import http from 'node:http';

export type ReadyzResult =
  | { reachable: true; ready: boolean; why: string[] }
  | {
      reachable: false;
      error: string /** the listener wants a token and refused ours (or we had none) */;
      denied?: boolean;
    };

/** Longest /readyz body read; a role's is a few hundred bytes. */
const MAX_BODY = 64 * 1024;

export function readReadyz(admin: string, timeoutMs = 1000, token?: string): Promise<ReadyzResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ReadyzResult) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    let url: URL;
    try {
      url = new URL(`http://${admin}/readyz`);
    } catch {
      finish({ reachable: false, error: `not an address: ${admin}` });
      return;
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = http.get(url, { timeout: timeoutMs, headers }, (res) => {
      if (res.statusCode === 401) {
        res.resume();
        finish({
          reachable: false,
          denied: true,
          error: token
            ? "the admin token was refused (HTTP 401): the fleet secret with env FG_ADMIN_TOKEN differs from the role's"
            : 'the listener wants an admin token and God has none (a secret with env FG_ADMIN_TOKEN)',
        });
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.length > MAX_BODY) req.destroy(new Error('oversized /readyz body'));
      });
      res.on('end', () => {
        if (res.statusCode !== 200 && res.statusCode !== 503) {
          finish({ reachable: false, error: `/readyz answered HTTP ${res.statusCode}` });
          return;
        }
        try {
          const j = JSON.parse(body) as { ready?: unknown; why?: unknown };
          const why = Array.isArray(j.why) ? j.why.map(String).slice(0, 20) : [];
          finish({ reachable: true, ready: res.statusCode === 200 && j.ready === true, why });
        } catch {
          finish({ reachable: false, error: '/readyz body is not JSON' });
        }
      });
      res.on('error', (err) => finish({ reachable: false, error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => finish({ reachable: false, error: err.message }));
  });
}
