import type { AppConfig } from './config.js';
import type { Database } from './db/database.js';
import type { Logger } from './logger.js';
import type { AuditLog } from './audit/audit-log.js';
import type { SecretBox } from './crypto/secret-box.js';
import type { Clock } from './shared/clock.js';
import type { WebhookOutbox } from './webhooks/webhook-outbox.js';
import type { CarrierFactory } from './telephony/carriers/carrier-factory.js';
import type { UsageServiceDeps } from './usage/usage-service.js';
import type { UsageRecorder } from './usage/usage-recorder.js';
import { UsageStore } from './usage/usage-store.js';
import { BufferedUsageRecorder } from './usage/buffered-usage-recorder.js';
import { UsageAlerts } from './usage/usage-alerts.js';
import { fromDomain, smtpMailSender } from './jobs/mail-sender.js';
import { MessageService } from './messaging/message-service.js';

// What the serve process and a SIP worker both build. A worker imports this module and
// src/sip-runtime.ts, not services.ts: loading the whole HTTP service graph cost ~20 MB resident per worker.

/** SMS in and out; a SIP worker builds it too (src/sip-runtime.ts), for the MESSAGEs its phones send out as SMS. */
export function createMessages(
  db: Database,
  config: AppConfig,
  logger: Logger,
  d: { audit: AuditLog; secrets: SecretBox; carriers: CarrierFactory; outbox: WebhookOutbox; usage: UsageRecorder; clock: Clock },
): MessageService {
  return new MessageService({
    sequelize: db.sequelize,
    models: db.models,
    audit: d.audit,
    secrets: d.secrets,
    carriers: d.carriers,
    outbox: d.outbox,
    logger,
    publicUrl: config.publicUrl,
    settings: config.messaging,
    usage: d.usage,
    now: d.clock,
  });
}

/**
 * What records usage where it happens: the buffered recorder and the SMS threshold alerts its flushes check.
 * A SIP worker builds this alone (src/sip-runtime.ts): it records, it reports nothing.
 */
export interface UsageRecording {
  store: UsageStore;
  recorder: UsageServiceDeps['recorder'];
  alerts: UsageAlerts;
  /** Writes the buffer, then sends the alerts that last flush made due (shutdown). */
  stop(): Promise<void>;
}

export function createUsageRecording(db: Database, config: AppConfig, logger: Logger, audit: AuditLog, clock: Clock): UsageRecording {
  const u = config.usage;
  const store = new UsageStore(db.sequelize, db.dialect);
  const alerts = new UsageAlerts({
    sequelize: db.sequelize,
    store,
    audit,
    // Its own sender and From: billing mail is neither an invitation nor an OnCall reminder. Connects on the first email only.
    mail: lazySender(() => smtpMailSender({ ...config.smtp, from: u.alertFrom }, 1)),
    mailDomain: fromDomain(u.alertFrom),
    publicUrl: config.publicUrl,
    settings: {
      smsMonthlyThreshold: u.smsMonthlyThreshold,
      leaseSeconds: u.alertLeaseSeconds,
      retrySeconds: u.alertRetrySeconds,
      maxAttempts: u.alertMaxAttempts,
    },
    logger,
    now: clock,
  });
  const recorder = new BufferedUsageRecorder({
    write: (entries) => store.add(entries),
    onFlushed: (entries) => alerts.checkFlushed(entries),
    flushIntervalMs: u.flushIntervalMs,
    maxKeys: u.maxBufferedKeys,
    logger,
    now: clock,
  });
  return {
    store,
    recorder,
    alerts,
    stop: async () => {
      await recorder.stop();
      await alerts.stop();
    },
  };
}

function lazySender(make: () => ReturnType<typeof smtpMailSender>): ReturnType<typeof smtpMailSender> {
  let sender: ReturnType<typeof smtpMailSender> | undefined;
  return {
    send: (mail) => (sender ??= make()).send(mail),
    close: () => {
      sender?.close();
      sender = undefined;
    },
  };
}
