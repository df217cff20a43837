import crypto from 'node:crypto';
import { Op, type Sequelize } from 'sequelize';
import type { ApiKey, Models, User } from '../db/models/index.js';
import { NotFoundError, RuleError, UnauthenticatedError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import type { AuditLog } from '../audit/audit-log.js';
import { constantTimeEqualHex, sha256Hex } from '../crypto/tokens.js';
import { isAdmin, requireReader } from '../shared/policy.js';
import { keysetPage, type Page, type PageRequest } from '../shared/pagination.js';
import type { WebhookOutbox } from '../webhooks/webhook-outbox.js';
import type { Clock } from '../shared/clock.js';

export interface ApiKeyView {
  token: string;
  name: string;
  user_id: number;
  created: string;
  last_used: string | null;
}

export const API_KEY_TOKEN_RE = /^sbk_[A-Za-z0-9_-]{22}$/;
/** last_used_at is written at most this often per key, so busy keys do not turn every exchange into a write. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function presentApiKey(k: ApiKey): ApiKeyView {
  return {
    token: k.token,
    name: k.name,
    user_id: k.user_id,
    created: k.created_at.toISOString(),
    last_used: k.last_used_at ? k.last_used_at.toISOString() : null,
  };
}

/**
 * Per-user API keys: a public token (sbk_…, 128 random bits, shown in lists)
 * and a 256-bit secret (sbks_…) shown once. Only SHA-256 of the secret is
 * stored; the key inherits its user's current role on every use.
 */
export class ApiKeyService {
  constructor(private readonly d: { sequelize: Sequelize; models: Models; audit: AuditLog; outbox: WebhookOutbox; now: Clock }) {}

  async list(actor: Actor, q: PageRequest): Promise<Page<ApiKeyView>> {
    const userId = this.ownUser(actor);
    const page = await keysetPage(this.d.models.ApiKey, { account_id: actor.accountId, user_id: userId, revoked_at: null }, { sort: 'id', ...q });
    return { data: page.data.map(presentApiKey), next_cursor: page.next_cursor };
  }

  async create(actor: Actor, name: string): Promise<{ view: ApiKeyView; secret: string }> {
    const userId = this.ownUser(actor);
    const token = `sbk_${crypto.randomBytes(16).toString('base64url')}`;
    const secret = `sbks_${crypto.randomBytes(32).toString('base64url')}`;
    const key = await this.d.sequelize.transaction(async (tx) => {
      const k = await this.d.models.ApiKey.create(
        { account_id: actor.accountId, user_id: userId, token, secret_hash: sha256Hex(secret), name, last_used_at: null, revoked_at: null },
        { transaction: tx },
      );
      const view = presentApiKey(k);
      await this.d.audit.record(tx, actor, { action: 'api_key.created', targetType: 'api_key', targetId: token, after: { name, user_id: userId } });
      await this.d.outbox.enqueue(tx, actor.accountId, 'api_key.created', view);
      return k;
    });
    return { view: presentApiKey(key), secret };
  }

  /** The key's owner revokes it; an admin may revoke any key of the account. Effective on the next request. */
  async revoke(actor: Actor, token: string): Promise<void> {
    requireReader(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const where: Record<string, unknown> = { token, account_id: actor.accountId, revoked_at: null };
      if (!isAdmin(actor)) where.user_id = actor.userId ?? -1;
      const k = await this.d.models.ApiKey.findOne({ where, transaction: tx });
      if (!k) throw new NotFoundError('api_key', token);
      await k.update({ revoked_at: this.d.now() }, { transaction: tx });
      // Access tokens obtained with the key die with it.
      await this.d.models.AccessToken.destroy({ where: { api_key_id: k.id }, transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'api_key.revoked', targetType: 'api_key', targetId: token, before: { name: k.name, user_id: k.user_id } });
      await this.d.outbox.enqueue(tx, actor.accountId, 'api_key.revoked', presentApiKey(k));
    });
  }

  /** grant_type=api_key: the same 401 for an unknown token, a wrong secret, a revoked key and an inactive user. */
  async verify(token: string, secret: string): Promise<{ user: User; key: ApiKey }> {
    const refuse = () => new UnauthenticatedError('invalid_api_key', 'The API key token or secret is wrong, or the key was revoked');
    if (!API_KEY_TOKEN_RE.test(token)) throw refuse();
    const key = await this.d.models.ApiKey.findOne({ where: { token, revoked_at: null } });
    const digest = sha256Hex(secret);
    // Compare even when the key is unknown so both paths cost the same.
    const ok = constantTimeEqualHex(digest, key?.secret_hash ?? '0'.repeat(64));
    if (!key || !ok) throw refuse();
    const user = await this.d.models.User.findOne({ where: { id: key.user_id, account_id: key.account_id, status: 'active', member_removed_at: null } });
    if (!user) throw refuse();
    const now = this.d.now();
    // A key an engine sends on every call was marked used moments ago: no write (on SQLite, a turn of the one writer) per request.
    if (key.last_used_at && key.last_used_at.getTime() >= now.getTime() - LAST_USED_RESOLUTION_MS) return { user, key };
    await this.d.models.ApiKey.update(
      { last_used_at: now },
      { where: { id: key.id, [Op.or]: [{ last_used_at: null }, { last_used_at: { [Op.lt]: new Date(now.getTime() - LAST_USED_RESOLUTION_MS) } }] } },
    );
    return { user, key };
  }

  private ownUser(actor: Actor): number {
    requireReader(actor);
    if (actor.userId === null) {
      throw new RuleError('user_credential_required', "API keys belong to a user; call this with a user's access token, not the workspace key");
    }
    return actor.userId;
  }
}
