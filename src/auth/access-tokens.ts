import { Op, QueryTypes } from 'sequelize';
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

  async issue(user: { id: number; account_id: number }, grantType: string): Promise<IssuedToken> {
    const token = randomToken('sbat');
    await this.models.AccessToken.create({
      account_id: user.account_id,
      user_id: user.id,
      token_hash: sha256Hex(token),
      grant_type: grantType,
      expires_at: new Date(Date.now() + this.ttlSeconds * 1000),
    });
    return { access_token: token, token_type: 'Bearer', expires_in: this.ttlSeconds };
  }

  /** One indexed query per request: the token joined with its live owner. */
  async resolve(token: string, sourceIp: string | null): Promise<Actor | null> {
    if (!token.startsWith('sbat_') || token.length > 100) return null;
    const [row] = await this.models.AccessToken.sequelize!.query<{ id: number; account_id: number; role: Role }>(
      `SELECT u.id, u.account_id, u.role FROM access_tokens t JOIN users u ON u.id = t.user_id AND u.account_id = t.account_id
        WHERE t.token_hash = :hash AND t.expires_at > :now AND u.status = 'active'`,
      { replacements: { hash: sha256Hex(token), now: new Date() }, type: QueryTypes.SELECT },
    );
    if (!row) return null;
    return { accountId: row.account_id, userId: row.id, role: row.role, kind: 'user', actorId: `user:${row.id}`, sourceIp };
  }

  async revokeAllFor(userId: number): Promise<void> {
    await this.models.AccessToken.destroy({ where: { user_id: userId } });
  }

  async purgeExpired(): Promise<number> {
    return this.models.AccessToken.destroy({ where: { expires_at: { [Op.lte]: new Date() } } });
  }
}
