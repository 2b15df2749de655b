// Keeper options: each a flag and an env var.
import { z } from 'zod';
import { intFrom } from '../../kernel/flags.ts';
import type { OptionsSpec, OptionValues } from '../../kernel/options.ts';
import { byteSize, durationMs } from '../../kernel/units.ts';
import { UserError } from '../../kernel/errors.ts';

export const keeperOptions = {
  archive: {
    flag: '--archive <url>',
    env: 'FG_KEEPER_ARCHIVE',
    description:
      'where logs and endpoints.json go: s3://BUCKET/PREFIX (AWS credential chain, AWS_ENDPOINT_URL honoured) or file://DIR',
    schema: z
      .string()
      .regex(/^(s3:\/\/[^/\s]+(\/.*)?|file:\/\/.+)$/, 'must be s3://BUCKET/PREFIX or file://DIR'),
    default: 'file://./keeper-archive',
  },
  alertSms: {
    flag: '--alert-sms <phone>',
    env: 'FG_KEEPER_ALERT_SMS',
    description: 'phone number (E.164, e.g. +15555550100) for silence SMS via SNS; unset: alerts only logged',
    schema: z
      .string()
      .regex(/^\+[1-9]\d{5,14}$/, 'must be a phone number in E.164 form, like +15555550100')
      .optional(),
  },
  alertEmail: {
    flag: '--alert-email <address>',
    env: 'FG_KEEPER_ALERT_EMAIL',
    description: 'address for exception emails via SES (needs --email-from); unset: alerts only logged',
    schema: z.email('must be an e-mail address').optional(),
  },
  emailFrom: {
    flag: '--email-from <address>',
    env: 'FG_KEEPER_EMAIL_FROM',
    description: 'sender of alert emails (an SES-verified identity)',
    schema: z.email('must be an e-mail address').optional(),
  },
  silence: {
    flag: '--silence <duration>',
    env: 'FG_KEEPER_SILENCE',
    description: 'alert when no role other than keeper has logged for this long',
    schema: durationMs.pipe(z.number().min(100, 'must be at least 100ms')),
    default: '60s',
  },
  flush: {
    flag: '--flush <duration>',
    env: 'FG_KEEPER_FLUSH',
    description: 'an archive object is written at least this often while lines arrive',
    schema: durationMs.pipe(z.number().min(10, 'must be at least 10ms')),
    default: '30s',
  },
  batch: {
    flag: '--batch <lines>',
    env: 'FG_KEEPER_BATCH',
    description: 'most log lines in one archive object',
    schema: intFrom(1, 1_000_000),
    default: '20000',
  },
  spoolDir: {
    flag: '--spool-dir <dir>',
    env: 'FG_KEEPER_SPOOL_DIR',
    description:
      'private local folder (0700, refused if others can write to it) holding objects while the archive is unreachable (default: $XDG_STATE_HOME or ~/.local/state, then filmgrain/spool/<id>)',
    schema: z.string().min(1).optional(),
  },
  spoolMax: {
    flag: '--spool-max <size>',
    env: 'FG_KEEPER_SPOOL_MAX',
    description: 'when the spool holds this much the keeper stops reading (entries wait in Redis)',
    schema: byteSize.pipe(z.number().min(1, 'must be positive')),
    default: '1gb',
  },
  claimIdle: {
    flag: '--claim-idle <duration>',
    env: 'FG_KEEPER_CLAIM_IDLE',
    description: 'pending entries of a keeper that is gone (no heartbeat) and idle this long are taken over',
    schema: durationMs.pipe(z.number().min(100, 'must be at least 100ms')),
    default: '60s',
  },
  endpointsInterval: {
    flag: '--endpoints-interval <duration>',
    env: 'FG_KEEPER_ENDPOINTS_INTERVAL',
    description: 'endpoints.json is rewritten at least this often (and at once when the set changes)',
    schema: durationMs.pipe(z.number().min(100, 'must be at least 100ms')),
    default: '60s',
  },
  exceptionWindow: {
    flag: '--exception-window <duration>',
    env: 'FG_KEEPER_EXCEPTION_WINDOW',
    description:
      'the first exception is emailed at once; repeats of it within this window go into one digest',
    schema: durationMs.pipe(z.number().min(100, 'must be at least 100ms')),
    default: '10m',
  },
  archiveAlertAfter: {
    flag: '--archive-alert-after <duration>',
    env: 'FG_KEEPER_ARCHIVE_ALERT_AFTER',
    description:
      'alert (SMS) once when storing to the archive has failed this long, with what is spooled; once more when it is back',
    schema: durationMs.pipe(z.number().min(100, 'must be at least 100ms')),
    default: '5m',
  },
  exceptionMaxEmails: {
    flag: '--exception-max-emails <n>',
    env: 'FG_KEEPER_EXCEPTION_MAX_EMAILS',
    description:
      'at most this many exception emails per --exception-window over all exceptions; the rest go into one storm digest',
    schema: intFrom(1, 100_000),
    default: '20',
  },
} satisfies OptionsSpec;

/** Checks across options (each option alone is checked by its schema). */
export function checkKeeperConfig(
  c: Pick<OptionValues<typeof keeperOptions>, 'alertEmail' | 'emailFrom'>,
): void {
  if (c.alertEmail && !c.emailFrom) {
    throw new UserError('keeper: --alert-email needs a sender address', {
      code: 'FG_CONFIG',
      hint: 'Add --email-from (env FG_KEEPER_EMAIL_FROM) with an address verified in SES.',
    });
  }
}
