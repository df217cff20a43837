import { Op, QueryTypes, type Transaction } from 'sequelize';
import type { Models } from '../db/models/index.js';
import { randomToken, sha256Hex } from '../crypto/tokens.js';
import type { Actor } from '../http/actor.js';
import type { Role } from '../db/models/user.js';

export interface IssuedToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/**
 * Opaque bearer tokens: 256 random bits, stored only as a SHA-256 digest
 * (bcrypt would add nothing for such entropy and cap throughput). Every
 * request re-reads the owner, so disabling or deleting a user kills its
 * tokens at once, on every process.
 */
export class AccessTokens {
  constructor(
    private readonly models: Models,
    private readonly ttlSeconds: number,
  ) {}

  /** `apiKey`: the key the token was obtained with; revoking the key deletes the token. */
  async issue(user: { id: number; account_id: number }, grantType: string, apiKey?: { id: number; token: string }): Promise<IssuedToken> {
    const token = randomToken('sbat');
    await this.models.AccessToken.create({
      account_id: user.account_id,
      user_id: user.id,
      token_hash: sha256Hex(token),
      grant_type: grantType,
      api_key_id: apiKey?.id ?? null,
      expires_at: new Date(Date.now() + this.ttlSeconds * 1000),
    });
    return { access_token: token, token_type: 'Bearer', expires_in: this.ttlSeconds };
  }

  /** One indexed query per request: the token joined with its live owner. */
  async resolve(token: string, sourceIp: string | null): Promise<Actor | null> {
    if (!token.startsWith('sbat_') || token.length > 100) return null;
    const [row] = await this.models.AccessToken.sequelize!.query<{
      token_id: number;
      id: number;
      account_id: number;
      role: Role;
      api_key_id: number | null;
      key_token: string | null;
      key_revoked_at: Date | null;
    }>(
      `SELECT t.id AS token_id, u.id, u.account_id, u.role, t.api_key_id, k.token AS key_token, k.revoked_at AS key_revoked_at
         FROM access_tokens t JOIN users u ON u.id = t.user_id AND u.account_id = t.account_id
         LEFT JOIN api_keys k ON k.id = t.api_key_id
        WHERE t.token_hash = :hash AND t.expires_at > :now AND u.status = 'active' AND u.member_removed_at IS NULL`,
      { replacements: { hash: sha256Hex(token), now: new Date() }, type: QueryTypes.SELECT },
    );
    if (!row) return null;
    if (row.api_key_id) {
      // Obtained with an API key: dies with the key; the audit log names the key by its public token.
      if (!row.key_token || row.key_revoked_at) return null;
      const tokenId = Number(row.token_id);
      return { accountId: row.account_id, userId: row.id, role: row.role, kind: 'api_key', actorId: `api_key:${row.key_token}`, sourceIp, tokenId };
    }
    return { accountId: row.account_id, userId: row.id, role: row.role, kind: 'user', actorId: `user:${row.id}`, sourceIp, tokenId: Number(row.token_id) };
  }

  /** Signing out: the token is gone for every process at once. */
  async revoke(token: string): Promise<void> {
    await this.models.AccessToken.destroy({ where: { token_hash: sha256Hex(token) } });
  }

  async revokeAllFor(userId: number): Promise<void> {
    await this.models.AccessToken.destroy({ where: { user_id: userId } });
  }

  /**
   * Ends every access token of the user but `keepTokenId` (the one making the
   * change), inside the caller's transaction: a password, OTP or status change
   * commits together with the end of the sessions it is meant to end.
   */
  static async endOthers(models: Models, tx: Transaction, userId: number, keepTokenId?: number): Promise<number> {
    const where: Record<string | symbol, unknown> = { user_id: userId };
    if (keepTokenId !== undefined) where.id = { [Op.ne]: keepTokenId };
    return models.AccessToken.destroy({ where, transaction: tx });
  }

  async purgeExpired(): Promise<number> {
    return this.models.AccessToken.destroy({ where: { expires_at: { [Op.lte]: new Date() } } });
  }
}
