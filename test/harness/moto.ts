import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './ports.ts';
import {
  isRunning,
  killTracked,
  makeTempDir,
  reapProcessesUsing,
  recentOutput,
  registerCleanup,
  removeTempDir,
  sleep,
  spawnTracked,
  trackTempDir,
} from './procs.ts';

export interface SentSms {
  phone: string;
  message: string;
  messageId?: string;
}

export interface SentEmail {
  to: string[];
  cc: string[];
  bcc: string[];
  from: string;
  subject: string;
  /** Text or HTML body as sent (SendEmail); everything after the headers for raw mails; '' for templates. */
  body: string;
  /** which SES call sent it */
  kind: 'send' | 'raw' | 'template';
  id?: string;
  /** SendTemplatedEmail only */
  template?: string;
  templateData?: string;
  /** SendRawEmail only: the whole MIME message */
  raw?: string;
}

export interface Moto {
  /** http://127.0.0.1:P */
  endpoint: string;
  port: number;
  /** POST /moto-api/reset: forget every resource and every sent message. */
  reset(): Promise<void>;
  /** GET /moto-api/data.json (every tracked model of every loaded service; can be MBs once EC2 is used). */
  // biome-ignore lint/suspicious/noExplicitAny: free-form JSON, shape depends on the services used
  data(): Promise<any>;
  /** SMS sent with SNS Publish{PhoneNumber} (all regions). Publishing to a topic with an sms subscription records nothing in moto. */
  sentSms(): Promise<SentSms[]>;
  /** Mails sent through SES v1 SendEmail, SendRawEmail and SendTemplatedEmail (all regions). */
  sentEmails(): Promise<SentEmail[]>;
  /** Final stop: terminate moto_server and remove its temp dir. */
  stop(): Promise<void>;
  /** SIGKILL moto_server (an outage); start() brings it back on the same port, with empty state. */
  kill(): Promise<void>;
  /** Start again on the same port (after kill()/stop()); no-op when running. State starts empty. */
  start(): Promise<void>;
  /** AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID=test, AWS_SECRET_ACCESS_KEY=test, AWS_REGION=us-east-1 (+ AWS_DEFAULT_REGION) */
  env: Record<string, string>;
  /** Ready-made AWS SDK v3 client config: `new S3Client(moto.clientConfig)` (forcePathStyle set for S3). */
  clientConfig: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
    forcePathStyle: boolean;
  };
}

/** Absolute path of moto_server on PATH, or undefined. */
export function motoServerPath(): string | undefined {
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!d) continue;
    const p = path.join(d, 'moto_server');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

export function motoAvailable(): boolean {
  return motoServerPath() !== undefined;
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** Parse RFC 5322 headers (with folded lines) and the body of a raw mail. */
function parseRawMail(raw: string): { headers: Record<string, string>; body: string } {
  const sep = /\r?\n\r?\n/.exec(raw);
  const head = sep ? raw.slice(0, sep.index) : raw;
  const body = sep ? raw.slice(sep.index + sep[0].length) : '';
  const headers: Record<string, string> = {};
  let last = '';
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) {
      headers[last] += ` ${line.trim()}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    last = line.slice(0, i).trim().toLowerCase();
    headers[last] = line.slice(i + 1).trim();
  }
  return { headers, body };
}

function addresses(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(',')
    .map((s) => {
      const m = /<([^>]+)>/.exec(s);
      return (m ? m[1] : s).trim();
    })
    .filter(Boolean);
}

/** The parts of moto 5.2's /moto-api/data.json that the parsers read. */
export interface MotoMessageData {
  sns?: { SMS?: Array<{ phone_number?: string; message?: string; message_id?: string }> };
  ses?: {
    Message?: Array<{
      id?: string;
      source?: string;
      destinations?: MotoDestinations;
      subject?: string;
      body?: string;
    }>;
    RawMessage?: Array<{ id?: string; source?: string; destinations?: string[]; raw_data?: string }>;
    TemplateMessage?: Array<{
      id?: string;
      source?: string;
      destinations?: MotoDestinations;
      template?: string;
      template_data?: string;
    }>;
  };
}
type MotoDestinations = { ToAddresses?: string[]; CcAddresses?: string[]; BccAddresses?: string[] };

/** Turn moto's data.json into the SMS list. Where moto 5.2 keeps them: data.sns.SMS[] {phone_number, message, message_id}. */
export function parseSentSms(data: MotoMessageData): SentSms[] {
  const sms = data?.sns?.SMS ?? [];
  return sms.map((s) => ({
    phone: String(s.phone_number),
    message: String(s.message),
    messageId: s.message_id,
  }));
}

/**
 * Turn moto's data.json into the mail list. moto 5.2 keeps them in
 * data.ses.Message[] {source, destinations:{ToAddresses,CcAddresses,BccAddresses}, subject, body, id},
 * data.ses.RawMessage[] {source, destinations: string[], raw_data, id} and
 * data.ses.TemplateMessage[] {source, destinations:{...}, template, template_data, id}.
 */
export function parseSentEmails(data: MotoMessageData): SentEmail[] {
  const ses = data?.ses ?? {};
  const out: SentEmail[] = [];
  for (const m of ses.Message ?? []) {
    const d = m.destinations ?? {};
    out.push({
      kind: 'send',
      id: m.id,
      from: String(m.source ?? ''),
      to: list(d.ToAddresses),
      cc: list(d.CcAddresses),
      bcc: list(d.BccAddresses),
      subject: String(m.subject ?? ''),
      body: String(m.body ?? ''),
    });
  }
  for (const m of ses.RawMessage ?? []) {
    const raw = String(m.raw_data ?? '');
    const { headers, body } = parseRawMail(raw);
    const to = addresses(headers.to);
    const cc = addresses(headers.cc);
    const dest = list(m.destinations);
    out.push({
      kind: 'raw',
      id: m.id,
      from: String(m.source ?? headers.from ?? ''),
      to: to.length ? to : dest,
      cc,
      bcc: dest.filter((a) => !to.includes(a) && !cc.includes(a)),
      subject: headers.subject ?? '',
      body,
      raw,
    });
  }
  for (const m of ses.TemplateMessage ?? []) {
    const d = m.destinations ?? {};
    out.push({
      kind: 'template',
      id: m.id,
      from: String(m.source ?? ''),
      to: list(d.ToAddresses),
      cc: list(d.CcAddresses),
      bcc: list(d.BccAddresses),
      subject: '',
      body: '',
      template: m.template,
      templateData: m.template_data,
    });
  }
  return out;
}

/**
 * Start a real moto_server on a free port. Resolves once it answers HTTP (allow ~20 s: Python is
 * slow to start on a busy machine).
 */
export async function startMoto(): Promise<Moto> {
  const bin = motoServerPath();
  if (!bin) {
    throw new Error("moto_server is not on PATH. Install it: pip install 'moto[server]'");
  }
  const host = '127.0.0.1';
  const dir = makeTempDir('moto');
  let port = 0;
  let child: ChildProcess | undefined;
  let unregister = () => {};
  const endpoint = () => `http://${host}:${port}`;

  const http = async (p: string, init?: RequestInit, timeoutMs = 30_000): Promise<Response> => {
    const res = await fetch(endpoint() + p, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok)
      throw new Error(`moto ${init?.method ?? 'GET'} ${p}: HTTP ${res.status} ${await res.text()}`);
    return res;
  };

  const launch = async (): Promise<void> => {
    fs.mkdirSync(dir, { recursive: true });
    trackTempDir(dir);
    const c = spawnTracked(bin, ['-H', host, '-p', String(port)], {
      name: `moto:${port}`,
      cwd: dir,
      env: {
        ...process.env,
        PYTHONUNBUFFERED: '1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_DEFAULT_REGION: 'us-east-1',
        FG_HARNESS_OWNER: dir,
      },
    });
    child = c;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!isRunning(c)) {
        await sleep(50);
        throw new Error(
          `moto_server on port ${port} exited during start-up:\n${recentOutput(c, 20).join('\n')}`,
        );
      }
      try {
        const res = await fetch(`${endpoint()}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(
          `moto_server on port ${port} did not answer within 30 s:\n${recentOutput(c, 20).join('\n')}`,
        );
      }
      await sleep(100);
    }
  };

  const stopProcess = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    child = undefined;
    if (c) await killTracked(c, { signal });
  };

  try {
    for (let attempt = 0; ; attempt++) {
      port = await freePort(host);
      try {
        await launch();
        break;
      } catch (err) {
        await stopProcess('SIGKILL');
        const msg = err instanceof Error ? err.message : String(err);
        if (attempt >= 3 || !/already in use/i.test(msg)) throw err;
      }
    }
  } catch (err) {
    await stopProcess('SIGKILL');
    removeTempDir(dir);
    throw err;
  }

  // biome-ignore lint/suspicious/noExplicitAny: free-form JSON
  const data = async (): Promise<any> => (await http('/moto-api/data.json')).json();
  const moto: Moto = {
    get endpoint() {
      return endpoint();
    },
    get port() {
      return port;
    },
    async reset() {
      await (await http('/moto-api/reset', { method: 'POST' })).arrayBuffer();
    },
    data,
    async sentSms() {
      return parseSentSms(await data());
    },
    async sentEmails() {
      return parseSentEmails(await data());
    },
    async stop() {
      unregister();
      await stopProcess();
      await reapProcessesUsing(dir);
      removeTempDir(dir);
    },
    async kill() {
      await stopProcess('SIGKILL');
    },
    async start() {
      if (child && isRunning(child)) return;
      unregister();
      unregister = registerCleanup(`moto:${port}`, () => moto.stop());
      await launch();
    },
    get env() {
      return {
        AWS_ENDPOINT_URL: endpoint(),
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'us-east-1',
      };
    },
    get clientConfig() {
      return {
        endpoint: endpoint(),
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        forcePathStyle: true,
      };
    },
  };
  unregister = registerCleanup(`moto:${port}`, () => moto.stop());
  return moto;
}
