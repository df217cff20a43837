import crypto from 'node:crypto';
import type { Sequelize } from 'sequelize';
import { readStatement, type SqlReader } from '../db/sql-reader.js';
import type { Models } from '../db/models/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { NotFoundError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { sha256Hex } from '../crypto/tokens.js';
import { requireAccountAdmin } from './account-policy.js';
import type { Clock } from '../shared/clock.js';

export interface WorkspaceKeyView {
  api_key: string;
  last4: string;
  created_at: string;
}

const KEY_RE = /^sbwk_[A-Za-z0-9_-]{43}$/;
const KEY_SQL = readStatement('SELECT id, workspace_key_last4 FROM accounts WHERE workspace_key_hash = :hash');

/**
 * The workspace key sent as X-API-KEY. Stored three ways: SHA-256 (every
 * request looks it up by digest, in the database, so a regeneration is seen
 * by every process on its next request), AES-GCM ciphertext (admins can
 * reveal it), and its last four characters (a hint in the UI and the audit log).
 */
export class WorkspaceKeyService {
  constructor(private readonly d: { sequelize: Sequelize; reader: SqlReader; models: Models; audit: AuditLog; secrets: SecretBox; now: Clock }) {}

  /** Reveals the key (creating it on first use); every reveal is audited. */
  async reveal(actor: Actor): Promise<WorkspaceKeyView> {
    requireAccountAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const account = await this.d.models.Account.findByPk(actor.accountId, { transaction: tx, lock: tx.LOCK.UPDATE });
      if (!account) throw new NotFoundError('account', actor.accountId);
      if (!account.workspace_key_enc) return this.rotate(actor, account.id, tx, 'account.api_key_created');
      await this.d.audit.record(tx, actor, {
        action: 'account.api_key_revealed',
        targetType: 'account',
        targetId: account.id,
        after: { last4: account.workspace_key_last4 },
      });
      return {
        api_key: this.d.secrets.decrypt(account.workspace_key_enc),
        last4: account.workspace_key_last4 ?? '',
        created_at: (account.workspace_key_created_at ?? account.created_at).toISOString(),
      };
    });
  }

  /** Replaces the key: the old one is refused from the moment this commits. */
  async regenerate(actor: Actor): Promise<WorkspaceKeyView> {
    requireAccountAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const account = await this.d.models.Account.findByPk(actor.accountId, { transaction: tx, lock: tx.LOCK.UPDATE });
      if (!account) throw new NotFoundError('account', actor.accountId);
      return this.rotate(actor, account.id, tx, 'account.api_key_regenerated', account.workspace_key_last4);
    });
  }

  async resolve(key: string, sourceIp: string | null): Promise<Actor | null> {
    if (!KEY_RE.test(key)) return null;
    // Every request a call engine makes with the key reads this row: straight through the driver (db/sql-reader.ts).
    const [account] = await this.d.reader.select(KEY_SQL, { hash: sha256Hex(key) });
    if (!account) return null;
    return {
      accountId: Number(account.id),
      userId: null,
      role: 'admin',
      kind: 'workspace_key',
      actorId: `workspace_key:…${(account.workspace_key_last4 as string | null) ?? ''}`,
      sourceIp,
    };
  }

  private async rotate(
    actor: Actor,
    accountId: number,
    tx: import('sequelize').Transaction,
    action: string,
    previousLast4?: string | null,
  ): Promise<WorkspaceKeyView> {
    const key = `sbwk_${crypto.randomBytes(32).toString('base64url')}`;
    const last4 = key.slice(-4);
    const at = this.d.now();
    await this.d.models.Account.update(
      { workspace_key_hash: sha256Hex(key), workspace_key_enc: this.d.secrets.encrypt(key), workspace_key_last4: last4, workspace_key_created_at: at },
      { where: { id: accountId }, transaction: tx },
    );
    await this.d.audit.record(tx, actor, {
      action,
      targetType: 'account',
      targetId: accountId,
      before: previousLast4 ? { last4: previousLast4 } : null,
      after: { last4 },
    });
    return { api_key: key, last4, created_at: at.toISOString() };
  }
}
