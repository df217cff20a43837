import type { AppConfig } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import type { Logger } from './logger.js';
import { resolveMasterKey, resolvePreviousMasterKeys } from './crypto/master-key.js';
import { createMessages, createUsageRecording, type UsageRecording } from './messaging-and-usage.js';
import { carrierFactory } from './telephony/carriers/carrier-factory.js';
import { AuditLog } from './audit/audit-log.js';
import { systemClock } from './shared/clock.js';
import type { MessageService } from './messaging/message-service.js';
import { SecretBox } from './crypto/secret-box.js';
import { WebhookOutbox } from './webhooks/webhook-outbox.js';

/**
 * What the registrar runs on, and nothing more: a SIP worker process needs
 * the database, the secrets that decrypt SIP passwords and the outbox its
 * events go to — not the HTTP side's services. `Services` has these too,
 * so the serve process passes its own.
 */
export interface SipServices {
  config: AppConfig;
  logger: Logger;
  db: Database;
  secrets: SecretBox;
  webhookOutbox: WebhookOutbox;
  /** Registrations and device peaks are counted where the registrar runs (and the SMS a worker sends). */
  usage: Pick<UsageRecording, 'recorder' | 'stop'>;
  /**
   * SMS: phones' MESSAGEs to sip:+E164@domain go out as SMS (a SIP worker too: it sends them itself, and what
   * the carrier defers is left queued for the primary's sender job); where the carrier's webhooks arrive
   * (serve), inbound SMS go to the phones as SIP MESSAGE.
   */
  messages?: MessageService;
}

/** The SIP worker's bootstrap: the database (migrated by the primary already) and what the registrar uses. */
export async function bootstrapSip(config: AppConfig, logger: Logger): Promise<SipServices> {
  const db = await openConfiguredDatabase(config, logger, false);
  const secrets = new SecretBox(resolveMasterKey(config), resolvePreviousMasterKeys(config));
  const webhookOutbox = new WebhookOutbox(db.models);
  const audit = new AuditLog(db.models);
  const usage = createUsageRecording(db, config, logger, audit, systemClock);
  const carriers = carrierFactory(config.telephony);
  const messages = createMessages(db, config, logger, { audit, secrets, carriers, outbox: webhookOutbox, usage: usage.recorder, clock: systemClock });
  return { config, logger, db, secrets, webhookOutbox, usage, messages };
}

/** The configured database, migrated first when asked (the serve process; a SIP worker finds it migrated). */
export async function openConfiguredDatabase(config: AppConfig, logger: Logger, migrate: boolean): Promise<Database> {
  const db: Database = await openDatabase({
    url: config.database.url,
    logger,
    logging: config.database.logging,
    poolMax: config.database.pool.max,
    sqliteSynchronous: config.database.sqlite.synchronous,
  });
  if (migrate) {
    // Loaded only to migrate: umzug and its dependencies are ~8 MB a SIP worker (which never migrates) need not hold.
    const { migrateToLatest } = await import('./db/migrator.js');
    const applied = await migrateToLatest(db.sequelize, logger);
    if (applied.length) logger.info({ applied }, 'migrations applied');
  }
  return db;
}
