import { Op } from 'sequelize';
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
  constructor(private readonly models: Models, private readonly ttlSeconds: number) {}

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

  async resolve(token: string, sourceIp: string | null): Promise<Actor | null> {
    if (!token.startsWith('sbat_') || token.length > 100) return null;
    const row = await this.models.AccessToken.findOne({
      where: { token_hash: sha256Hex(token), expires_at: { [Op.gt]: new Date() } },
      attributes: ['user_id', 'account_id', 'api_key_id'],
    });
    if (!row) return null;
    const user = await this.models.User.findOne({
      where: { id: row.user_id, account_id: row.account_id, status: 'active' },
      attributes: ['id', 'account_id', 'role'],
    });
    if (!user) return null;
    if (row.api_key_id) {
      // The audit log names the key by its public token.
      const key = await this.models.ApiKey.findOne({ where: { id: row.api_key_id, revoked_at: null }, attributes: ['token'] });
      if (!key) return null;
      return { accountId: user.account_id, userId: user.id, role: user.role as Role, kind: 'api_key', actorId: `api_key:${key.token}`, sourceIp };
    }
    return { accountId: user.account_id, userId: user.id, role: user.role as Role, kind: 'user', actorId: `user:${user.id}`, sourceIp };
  }

  async revokeAllFor(userId: number): Promise<void> {
    await this.models.AccessToken.destroy({ where: { user_id: userId } });
  }

  async purgeExpired(): Promise<number> {
    return this.models.AccessToken.destroy({ where: { expires_at: { [Op.lte]: new Date() } } });
  }
}
