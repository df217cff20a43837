import type { AppConfig } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrator.js';
import { createLogger, type Logger } from './logger.js';
import { resolveMasterKey, resolvePreviousMasterKeys } from './crypto/master-key.js';
import { createServices, type Services } from './services.js';

/** Opens the database and wires the services: shared by `serve`, the CLI and benchmarks. */
export async function bootstrap(config: AppConfig, opts: { migrate: boolean; logger?: Logger }): Promise<Services> {
  const logger = opts.logger ?? createLogger(config.log.level);
  const masterKey = resolveMasterKey(config);
  const db: Database = await openDatabase({
    url: config.database.url,
    logger,
    logging: config.database.logging,
    poolMax: config.database.pool.max,
    sqliteSynchronous: config.database.sqlite.synchronous,
  });
  if (opts.migrate) {
    const applied = await migrateToLatest(db.sequelize, logger);
    if (applied.length) logger.info({ applied }, 'migrations applied');
  }
  return createServices(db, config, logger, masterKey, resolvePreviousMasterKeys(config));
}
