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
import { NumberService } from './numbers/number-service.js';
import { LocationService } from './locations/location-service.js';
import { MailboxService } from './mailboxes/mailbox-service.js';
import { FaxServiceService } from './fax-services/fax-service-service.js';
import { AuditService } from './audit/audit-service.js';

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
  numbers: NumberService;
  locations: LocationService;
  mailboxes: MailboxService;
  faxServices: FaxServiceService;
  auditTrail: AuditService;
}

export function createServices(db: Database, config: AppConfig, logger: Logger, masterKey: Buffer): Services {
  const { sequelize, models } = db;
  const secrets = new SecretBox(masterKey);
  const audit = new AuditLog(models);
  const bcryptRounds = config.auth.bcryptRounds;
  const accessTokens = new AccessTokens(models, config.auth.accessTokenTtlSeconds);
  return {
    db, config, logger, secrets, audit, accessTokens,
    passwordLogin: new PasswordLogin(models, new LoginThrottle(config.auth.throttle), secrets),
    accounts: new AccountService({ sequelize, models, audit, secrets, bcryptRounds, extensionMinLength: config.accounts.extensionMinLength, extensionMaxLength: config.accounts.extensionMaxLength }),
    users: new UserService({ sequelize, models, audit, secrets, bcryptRounds, sipPasswordGraceSeconds: config.sip.passwordGraceSeconds }),
    numbers: new NumberService({ sequelize, models, audit }),
    locations: new LocationService({ sequelize, models, audit }),
    mailboxes: new MailboxService({ sequelize, models, audit, bcryptRounds }),
    faxServices: new FaxServiceService({ sequelize, models, audit }),
    auditTrail: new AuditService(models),
  };
}
