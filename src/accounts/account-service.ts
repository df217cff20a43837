import bcrypt from 'bcrypt';
import type { Sequelize } from 'sequelize';
import type { Models } from '../db/models/index.js';
import { ConflictError, RuleError } from '../errors.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { generatePin, generateSipPassword } from '../crypto/sip-credentials.js';
import { sipSecretColumns } from '../users/sip-secret-fields.js';
import { systemActor } from '../http/actor.js';
import { unsetUserFields } from '../users/unset-user-fields.js';

export interface CreateAccountInput {
  name: string;
  sipDomain: string;
  timezone?: string | undefined;
  ownerEmail: string;
  ownerPassword: string;
  ownerName?: string | undefined;
  ownerUsername?: string | undefined;
  ownerExtension?: string | undefined;
}

export const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export class AccountService {
  constructor(
    private readonly d: {
      sequelize: Sequelize;
      models: Models;
      audit: AuditLog;
      secrets: SecretBox;
      bcryptRounds: number;
      extensionMinLength: number;
      extensionMaxLength: number;
    },
  ) {}

  /** Creates an account with its owner (the CLI's bootstrap path; there is no anonymous sign-up). */
  async createWithOwner(input: CreateAccountInput) {
    const name = input.name.trim();
    if (name.length < 3) throw new RuleError('name_too_short', 'An account name has at least 3 characters', 'name');
    const sipDomain = input.sipDomain.trim().toLowerCase();
    if (!DOMAIN_RE.test(sipDomain)) throw new RuleError('invalid_sip_domain', `"${input.sipDomain}" is not a DNS domain name`, 'sip_domain');
    const timezone = input.timezone ?? 'UTC';
    if (!isValidTimezone(timezone)) throw new RuleError('invalid_timezone', `"${timezone}" is not an IANA time zone`, 'timezone');
    if (input.ownerPassword.length < 10) throw new RuleError('weak_password', 'The owner password needs at least 10 characters', 'owner_password');
    const email = input.ownerEmail.trim().toLowerCase();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw new RuleError('invalid_email', `"${input.ownerEmail}" is not an email address`, 'owner_email');
    const username =
      input.ownerUsername ??
      email
        .split('@')[0]!
        .toLowerCase()
        .replace(/[^a-z0-9._-]/g, '-')
        .replace(/^[^a-z0-9]+/, '') +
        '.' +
        sipDomain.split('.')[0];
    const extension = input.ownerExtension ?? '1'.padEnd(this.d.extensionMinLength, '0');
    const sipPassword = generateSipPassword();
    const [passwordHash, pinHash] = await Promise.all([bcrypt.hash(input.ownerPassword, this.d.bcryptRounds), bcrypt.hash(generatePin(), this.d.bcryptRounds)]);

    return this.d.sequelize.transaction(async (tx) => {
      if (await this.d.models.Account.findOne({ where: { sip_domain: sipDomain }, transaction: tx })) {
        throw new ConflictError('sip_domain_taken', `Another account already uses SIP domain ${sipDomain}`, 'sip_domain');
      }
      if (await this.d.models.User.findOne({ where: { username }, transaction: tx })) {
        throw new ConflictError('username_taken', `Username ${username} is already taken; pass --owner-username`, 'owner_username');
      }
      const account = await this.d.models.Account.create(
        {
          name,
          sip_domain: sipDomain,
          website: null,
          timezone,
          default_caller_id_number: null,
          extension_min_length: this.d.extensionMinLength,
          extension_max_length: this.d.extensionMaxLength,
        },
        { transaction: tx },
      );
      const owner = await this.d.models.User.create(
        {
          account_id: account.id,
          name: input.ownerName ?? email,
          extension,
          username,
          email,
          password_hash: passwordHash,
          role: 'owner',
          ...sipSecretColumns(this.d.secrets, username, sipDomain, sipPassword),
          oncall_pin_hash: pinHash,
          ...unsetUserFields(),
        },
        { transaction: tx },
      );
      await this.d.audit.record(tx, systemActor(account.id), {
        action: 'account.created',
        targetType: 'account',
        targetId: account.id,
        after: { name, sip_domain: sipDomain, timezone, owner_user_id: owner.id },
      });
      return { account_id: account.id, owner_user_id: owner.id, owner_username: username, owner_extension: extension, sip_domain: sipDomain };
    });
  }
}
