import type { Sequelize } from 'sequelize';
import { Account } from './account.js';
import { User } from './user.js';
import { Mailbox, MailboxDelegation } from './mailbox.js';
import { Location } from './location.js';
import { PhoneNumber } from './phone-number.js';
import { FaxService } from './fax-service.js';
import { AccessToken } from './access-token.js';
import { AuditEntry } from './audit-entry.js';
import { Registration } from './registration.js';
import { OncallSchedule, OncallRotation, OncallShift } from './oncall.js';
import { ApiKey } from './api-key.js';
import { AccountLogo } from './account-logo.js';
import { MemberInvitation } from './member-invitation.js';
import { Webhook, WebhookDelivery } from './webhook.js';
import { TelephonyProvider } from './telephony-provider.js';
import { AccountDeletion } from './account-deletion.js';
import { Message, MessageDelivery, SmsReplyClaim } from './message.js';

export { Account, User, Mailbox, MailboxDelegation, Location, PhoneNumber, FaxService, AccessToken, AuditEntry, Registration };
export { OncallSchedule, OncallRotation, OncallShift };
export { ApiKey, AccountLogo, MemberInvitation, Webhook, WebhookDelivery, TelephonyProvider, AccountDeletion, Message, MessageDelivery, SmsReplyClaim };

export interface Models {
  Account: typeof Account;
  User: typeof User;
  Mailbox: typeof Mailbox;
  MailboxDelegation: typeof MailboxDelegation;
  Location: typeof Location;
  PhoneNumber: typeof PhoneNumber;
  FaxService: typeof FaxService;
  AccessToken: typeof AccessToken;
  AuditEntry: typeof AuditEntry;
  OncallSchedule: typeof OncallSchedule;
  OncallRotation: typeof OncallRotation;
  OncallShift: typeof OncallShift;
  ApiKey: typeof ApiKey;
  AccountLogo: typeof AccountLogo;
  MemberInvitation: typeof MemberInvitation;
  Webhook: typeof Webhook;
  WebhookDelivery: typeof WebhookDelivery;
  Registration: typeof Registration;
  TelephonyProvider: typeof TelephonyProvider;
  AccountDeletion: typeof AccountDeletion;
  Message: typeof Message;
  MessageDelivery: typeof MessageDelivery;
  SmsReplyClaim: typeof SmsReplyClaim;
}

/**
 * Sequelize binds a model class to one Sequelize instance; a process holds
 * one Database, and tests that open a second instance re-bind (init is
 * idempotent per instance and cheap).
 */
export function initModels(sequelize: Sequelize): Models {
  return {
    Account: Account.initModel(sequelize),
    User: User.initModel(sequelize),
    Mailbox: Mailbox.initModel(sequelize),
    MailboxDelegation: MailboxDelegation.initModel(sequelize),
    Location: Location.initModel(sequelize),
    PhoneNumber: PhoneNumber.initModel(sequelize),
    FaxService: FaxService.initModel(sequelize),
    AccessToken: AccessToken.initModel(sequelize),
    AuditEntry: AuditEntry.initModel(sequelize),
    OncallSchedule: OncallSchedule.initModel(sequelize),
    OncallRotation: OncallRotation.initModel(sequelize),
    OncallShift: OncallShift.initModel(sequelize),
    ApiKey: ApiKey.initModel(sequelize),
    AccountLogo: AccountLogo.initModel(sequelize),
    MemberInvitation: MemberInvitation.initModel(sequelize),
    Webhook: Webhook.initModel(sequelize),
    WebhookDelivery: WebhookDelivery.initModel(sequelize),
    Registration: Registration.initModel(sequelize),
    TelephonyProvider: TelephonyProvider.initModel(sequelize),
    AccountDeletion: AccountDeletion.initModel(sequelize),
    Message: Message.initModel(sequelize),
    MessageDelivery: MessageDelivery.initModel(sequelize),
    SmsReplyClaim: SmsReplyClaim.initModel(sequelize),
  };
}
