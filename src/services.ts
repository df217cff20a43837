import type { AppConfig } from './config.js';
import type { Database } from './db/database.js';
import type { Logger } from './logger.js';
import { AuditLog } from './audit/audit-log.js';
import { AccessTokens } from './auth/access-tokens.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { createFailureStore, type FailureStore } from './throttle/failure-store.js';
import { PasswordLogin } from './auth/password-login.js';
import { SecretBox } from './crypto/secret-box.js';
import { AccountService } from './accounts/account-service.js';
import { UserService } from './users/user-service.js';
import { OncallService } from './oncall/oncall-service.js';
import { PinVerifier } from './oncall/pin-verifier.js';
import { systemClock, type Clock } from './shared/clock.js';
import { WebhookOutbox } from './webhooks/webhook-outbox.js';
import { ApiKeyService } from './api-keys/api-key-service.js';
import { WorkspaceKeyService } from './accounts/workspace-key.js';
import { AccountSettingsService } from './accounts/account-settings-service.js';
import { WorkspaceDeletionService } from './accounts/workspace-deletion.js';
import { AccountLogoService } from './accounts/account-logo-service.js';
import { Mailer } from './mail/mailer.js';
import { MemberService } from './members/member-service.js';
import { WebhookDeliveryJob } from './webhooks/webhook-delivery-job.js';
import { WebhookService } from './webhooks/webhook-service.js';
import { NumberService } from './numbers/number-service.js';
import { LocationService } from './locations/location-service.js';
import { MailboxService } from './mailboxes/mailbox-service.js';
import { MessageCountsService } from './mailboxes/message-counts-service.js';
import { FaxServiceService } from './fax-services/fax-service-service.js';
import { AuditService } from './audit/audit-service.js';
import { BindingRemoval } from './registrations/binding-removal.js';
import { RegistrationService } from './registrations/registration-service.js';
import { CallPlanService } from './call-plans/call-plan-service.js';
import { CallPlanLookups } from './call-plans/call-plan-lookups.js';
import { CallPlanProfiles } from './call-plans/call-plan-profiles.js';
import { ProviderService } from './telephony/provider-service.js';
import { NumberSync } from './telephony/number-sync.js';
import { ProviderSyncJob } from './telephony/provider-sync-job.js';
import { carrierFactory } from './telephony/carriers/carrier-factory.js';
import { UsageService } from './usage/usage-service.js';
import type { MessageService } from './messaging/message-service.js';
import type { UsageRecorder } from './usage/usage-recorder.js';
import { createMessages, createUsageRecording } from './messaging-and-usage.js';

/** Every domain service, wired once per process from the database and config. */
export interface Services {
  db: Database;
  /** Failure counters of login and OnCall PIN checks (Redis or MySQL: shared by every node); closed with the database. */
  failureStore: FailureStore;
  config: AppConfig;
  logger: Logger;
  secrets: SecretBox;
  audit: AuditLog;
  accessTokens: AccessTokens;
  passwordLogin: PasswordLogin;
  accounts: AccountService;
  users: UserService;
  oncall: OncallService;
  oncallPins: PinVerifier;
  /** Time source for the workspace area (tests pass a controllable one). */
  clock: Clock;
  /** Other areas (registrar, OnCall) call webhookOutbox.enqueue(tx, accountId, event, data) inside their transaction. */
  webhookOutbox: WebhookOutbox;
  apiKeys: ApiKeyService;
  workspaceKey: WorkspaceKeyService;
  accountSettings: AccountSettingsService;
  workspaceDeletion: WorkspaceDeletionService;
  accountLogo: AccountLogoService;
  mailer: Mailer;
  members: MemberService;
  webhookDelivery: WebhookDeliveryJob;
  webhooks: WebhookService;
  numbers: NumberService;
  locations: LocationService;
  mailboxes: MailboxService;
  /** Message counts from the voicemail system (MWI). */
  messageCounts: MessageCountsService;
  faxServices: FaxServiceService;
  auditTrail: AuditService;
  registrations: RegistrationService;
  callPlans: CallPlanService;
  providers: ProviderService;
  numberSync: NumberSync;
  providerSyncJob: ProviderSyncJob;
  /** Usage by type and user: `usage.recorder` is what producers call; stop() writes what is buffered (before the database closes). */
  usage: UsageService;
  /** SMS in and out; the SIP edge attaches its device messenger at start. */
  messages: MessageService;
}

export function createServices(
  db: Database,
  config: AppConfig,
  logger: Logger,
  masterKey: Buffer,
  previousMasterKeys: Buffer[] = [],
  clock: Clock = systemClock,
  /** Tests: SMS usage goes here instead of the usage store. */
  smsUsage?: UsageRecorder,
): Services {
  const { sequelize, models } = db;
  const secrets = new SecretBox(masterKey, previousMasterKeys);
  const audit = new AuditLog(models);
  const bcryptRounds = config.auth.bcryptRounds;
  const failureStore = createFailureStore({ redisUrl: config.redis.url, redisKeyPrefix: config.redis.keyPrefix, dialect: db.dialect, sequelize });
  const accessTokens = new AccessTokens(models, config.auth.accessTokenTtlSeconds);
  const oncall = new OncallService({ sequelize, models, audit, logger, rotationHorizonDays: config.oncall.rotationHorizonDays, now: () => new Date() });
  const webhookOutbox = new WebhookOutbox(models, clock);
  // One throttle for sign-in and current_password: a stolen token cannot guess the password faster than a login can.
  const loginThrottle = new LoginThrottle(failureStore, config.auth.throttle);
  const registrations = new RegistrationService({ sequelize, models, audit, removal: new BindingRemoval(sequelize, webhookOutbox) });
  const users = new UserService({
    sequelize,
    models,
    audit,
    secrets,
    bcryptRounds,
    sipPasswordGraceSeconds: config.sip.passwordGraceSeconds,
    // Users knows nothing of OnCall; this callback is the one link (see UserServiceDeps).
    onRemindMinutesChanged: (tx, userId, minutes) => oncall.rescheduleUserReminders(tx, userId, minutes),
    outbox: webhookOutbox,
    onDisabled: (actor, userId) => registrations.removeAll(actor, userId),
    loginThrottle,
  });
  // Invitations have their own sender (a workspace's admins invite people, not the OnCall reminder service).
  const mailer = new Mailer({ ...config.smtp, from: config.mail.invitationFrom }, logger);
  const carriers = carrierFactory(config.telephony);
  const numberSync = new NumberSync({ sequelize, models, secrets, audit, outbox: webhookOutbox, carriers, now: clock });
  const usage = createUsage(db, config, logger, audit, clock);
  const webhookDelivery = new WebhookDeliveryJob({ sequelize, models, audit, secrets, logger, now: clock, settings: config.webhooks });
  return {
    db,
    failureStore,
    config,
    logger,
    secrets,
    audit,
    accessTokens,
    passwordLogin: new PasswordLogin(models, loginThrottle, secrets),
    accounts: new AccountService({
      sequelize,
      models,
      audit,
      secrets,
      bcryptRounds,
      extensionMinLength: config.accounts.extensionMinLength,
      extensionMaxLength: config.accounts.extensionMaxLength,
    }),
    users,
    oncall,
    oncallPins: new PinVerifier(models, bcryptRounds, failureStore, config.oncall.pinThrottle),
    clock,
    webhookOutbox,
    apiKeys: new ApiKeyService({ sequelize, models, audit, outbox: webhookOutbox, now: clock }),
    workspaceKey: new WorkspaceKeyService({ sequelize, reader: db.reader, models, audit, secrets, now: clock }),
    accountSettings: new AccountSettingsService({
      sequelize,
      models,
      audit,
      secrets,
      publicUrl: config.publicUrl,
      smsMonthlyThreshold: config.usage.smsMonthlyThreshold,
    }),
    workspaceDeletion: new WorkspaceDeletionService({ sequelize, models, now: clock }),
    accountLogo: new AccountLogoService({ sequelize, models, audit }),
    mailer,
    members: new MemberService({
      sequelize,
      models,
      audit,
      secrets,
      users,
      outbox: webhookOutbox,
      mailer,
      accessTokens,
      now: clock,
      bcryptRounds,
      publicUrl: config.publicUrl,
      invitationTtlHours: config.invitations.ttlHours,
    }),
    webhookDelivery,
    webhooks: new WebhookService({
      sequelize,
      models,
      audit,
      secrets,
      job: webhookDelivery,
      now: clock,
      allowLoopbackTargets: config.webhooks.allowLoopbackTargets,
      allowPrivateTargets: config.webhooks.allowPrivateTargets,
    }),
    numbers: new NumberService({ sequelize, models, audit }),
    locations: new LocationService({ sequelize, models, audit }),
    mailboxes: new MailboxService({ sequelize, models, audit, bcryptRounds }),
    messageCounts: new MessageCountsService({ sequelize, models, audit, outbox: webhookOutbox }),
    faxServices: new FaxServiceService({ sequelize, models, audit }),
    auditTrail: new AuditService(models),
    registrations,
    callPlans: new CallPlanService({
      sequelize,
      logger,
      outbox: webhookOutbox,
      profiles: new CallPlanProfiles(db.reader, config.callPlans.cacheMaxEntries),
      lookups: new CallPlanLookups(db.reader),
      emergencyNumbers: config.callPlans.emergencyNumbers,
      now: clock,
    }),
    providers: new ProviderService({ sequelize, models, audit, secrets, carriers, sync: numberSync, logger, publicUrl: config.publicUrl }),
    numberSync,
    providerSyncJob: new ProviderSyncJob(numberSync, config.telephony.syncIntervalMinutes, logger),
    messages: createMessages(db, config, logger, { audit, secrets, carriers, outbox: webhookOutbox, usage: smsUsage ?? usage.recorder, clock }),
    usage,
  };
}

/** Usage recording and reports (GET /v1/usage, the device sampler) over one recording. */
export function createUsage(db: Database, config: AppConfig, logger: Logger, audit: AuditLog, clock: Clock): UsageService {
  const { store, recorder, alerts } = createUsageRecording(db, config, logger, audit, clock);
  return new UsageService({ sequelize: db.sequelize, models: db.models, store, recorder, alerts, now: clock });
}
