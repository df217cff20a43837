import type { AppConfig } from './config.js';
import type { Database } from './db/database.js';
import type { Logger } from './logger.js';
import { AuditLog } from './audit/audit-log.js';
import { AccessTokens } from './auth/access-tokens.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { PasswordLogin } from './auth/password-login.js';
import { SecretBox } from './crypto/secret-box.js';
import { AccountService } from './accounts/account-service.js';
import { UserService } from './users/user-service.js';
import { RegistrationService } from './registrations/registration-service.js';

/** Every domain service, wired once per process from the database and config. */
export interface Services {
  db: Database;
  config: AppConfig;
  logger: Logger;
  secrets: SecretBox;
  audit: AuditLog;
  accessTokens: AccessTokens;
  passwordLogin: PasswordLogin;
  accounts: AccountService;
  users: UserService;
  registrations: RegistrationService;
}

export function createServices(db: Database, config: AppConfig, logger: Logger, masterKey: Buffer, previousMasterKeys: Buffer[] = []): Services {
  const { sequelize, models } = db;
  const secrets = new SecretBox(masterKey, previousMasterKeys);
  const audit = new AuditLog(models);
  const bcryptRounds = config.auth.bcryptRounds;
  const accessTokens = new AccessTokens(models, config.auth.accessTokenTtlSeconds);
  return {
    db, config, logger, secrets, audit, accessTokens,
    passwordLogin: new PasswordLogin(models, new LoginThrottle(config.auth.throttle), secrets),
    accounts: new AccountService({ sequelize, models, audit, secrets, bcryptRounds, extensionMinLength: config.accounts.extensionMinLength, extensionMaxLength: config.accounts.extensionMaxLength }),
    users: new UserService({ sequelize, models, audit, secrets, bcryptRounds, sipPasswordGraceSeconds: config.sip.passwordGraceSeconds }),
    registrations: new RegistrationService({ sequelize, models, audit }),
  };
}
