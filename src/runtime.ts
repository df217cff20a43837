import type { AppConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { resolveMasterKey, resolvePreviousMasterKeys } from './crypto/master-key.js';
import { createServices, type Services } from './services.js';
import { openConfiguredDatabase } from './sip-runtime.js';

/** Opens the database and wires the services: shared by `serve`, the CLI and benchmarks. */
export async function bootstrap(config: AppConfig, opts: { migrate: boolean; logger?: Logger }): Promise<Services> {
  const logger = opts.logger ?? createLogger(config.log.level);
  const db = await openConfiguredDatabase(config, logger, opts.migrate);
  return createServices(db, config, logger, resolveMasterKey(config), resolvePreviousMasterKeys(config));
}
