// Delivers alerts: SMS via SNS, email via SES, or only the keeper's log when those are not configured.
// Every alert is also logged and added to the `alerts` stream for God.
import { SESClient, SendEmailCommand } from '@aws-sdk/client-ses';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Redis } from 'ioredis';
import { ALERTS_STREAM_MAXLEN, type AlertFields, type RedisContract } from '../../protocol/redis-contract.ts';
import type { Logger } from '../runtime/logger.ts';
import { awsRegion } from '../../protocol/archive-target.ts';

export interface Alert {
  kind: AlertFields['kind'];
  subject: string;
  text: string;
}

export interface NotifierOptions {
  log: Logger;
  redis: Redis;
  keys: RedisContract;
  keeperId: string;
  smsTo?: string;
  emailTo?: string;
  emailFrom?: string;
  env?: NodeJS.ProcessEnv;
}

const CHANNEL: Record<Alert['kind'], 'sms' | 'email'> = {
  silence: 'sms',
  recovered: 'sms',
  exception: 'email',
  digest: 'email',
  // the spool fills and then the capped stream: someone should look soon
  archive_down: 'sms',
  archive_up: 'sms',
};
/** SNS rejects longer SMS bodies */
const SMS_MAX = 1400;

export class Notifier {
  private sns?: SNSClient;
  private ses?: SESClient;
  sent = 0;
  /** alerts sent per channel (sms, email), for /metrics */
  readonly sentBy = new Map<string, number>();
  failed = 0;

  constructor(private readonly o: NotifierOptions) {
    const region = awsRegion(o.env);
    if (o.smsTo) this.sns = new SNSClient({ region, maxAttempts: 3 });
    if (o.emailTo && o.emailFrom) this.ses = new SESClient({ region, maxAttempts: 3 });
  }

  async send(a: Alert): Promise<AlertFields['delivered']> {
    const channel = CHANNEL[a.kind];
    let delivered: AlertFields['delivered'] = 'log';
    let error: string | undefined;
    try {
      if (channel === 'sms' && this.sns) {
        await this.sns.send(new PublishCommand({ PhoneNumber: this.o.smsTo, Message: smsText(a) }));
        delivered = 'sms';
      } else if (channel === 'email' && this.ses) {
        await this.ses.send(
          new SendEmailCommand({
            Source: this.o.emailFrom,
            Destination: { ToAddresses: [this.o.emailTo!] },
            Message: { Subject: { Data: a.subject.slice(0, 200) }, Body: { Text: { Data: a.text } } },
          }),
        );
        delivered = 'email';
      }
    } catch (err) {
      delivered = 'failed';
      error = describeSendError(err, channel);
      this.failed++;
    }
    this.sent++;
    this.sentBy.set(channel, (this.sentBy.get(channel) ?? 0) + 1);
    // message only, never a stack: the keeper reads its own lines, and a stack here would itself be an exception alert
    const fields = {
      kind: a.kind,
      subject: a.subject,
      delivered,
      to: delivered === 'log' ? undefined : target(this.o, channel),
    };
    if (error)
      this.o.log.error({ alert: fields, text: a.text, err: error }, `alert not delivered: ${a.subject}`);
    else this.o.log.warn({ alert: fields, text: a.text }, `alert: ${a.subject}`);
    const entry: AlertFields = {
      kind: a.kind,
      subject: a.subject,
      text: a.text,
      delivered,
      keeper: this.o.keeperId,
      at: new Date().toISOString(),
    };
    await this.o.redis
      .xadd(this.o.keys.alerts, 'MAXLEN', '~', ALERTS_STREAM_MAXLEN, '*', ...Object.entries(entry).flat())
      .catch((err) =>
        this.o.log.warn({ err: (err as Error).message }, 'could not add the alert to the alerts stream'),
      );
    return delivered;
  }

  close(): void {
    this.sns?.destroy();
    this.ses?.destroy();
  }
}

function target(o: NotifierOptions, channel: 'sms' | 'email'): string | undefined {
  return channel === 'sms' ? o.smsTo : o.emailTo;
}

function smsText(a: Alert): string {
  const t = `${a.subject}\n${a.text}`;
  return t.length > SMS_MAX ? `${t.slice(0, SMS_MAX - 1)}…` : t;
}

function describeSendError(err: unknown, channel: 'sms' | 'email'): string {
  const e = err as { name?: string; message?: string };
  const base = `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
  if (channel === 'email' && /not verified|MessageRejected/i.test(base)) {
    return `${base} — verify the --email-from address (and, in the SES sandbox, the recipient) in SES`;
  }
  if (/AuthorizationError|AccessDenied/i.test(base)) {
    return `${base} — the credentials lack ${channel === 'sms' ? 'sns:Publish' : 'ses:SendEmail'}`;
  }
  return base;
}
