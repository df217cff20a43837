import type { RequestHandler } from 'express';
import { UnauthenticatedError, ValidationError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import type { AccessTokens } from './access-tokens.js';

export interface WorkspaceKeyResolver {
  resolve(key: string, sourceIp: string | null): Promise<Actor | null>;
}

/**
 * Resolves the credential into res.locals.actor. A credential that is
 * present but wrong is a 401 at once (never silently anonymous); routes that
 * need an actor refuse a request without one. Nothing is cached: each
 * request reads the database, so a revocation or key regeneration is seen on
 * the very next request by every process sharing the database. A credential
 * in the query string was already refused by credentialQueryGuard.
 */
export function authenticate(tokens: AccessTokens, workspaceKeys?: WorkspaceKeyResolver): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    const apiKey = req.headers['x-api-key'];
    if (header && apiKey !== undefined) {
      throw ValidationError.of({ field: 'X-API-KEY', code: 'ambiguous_credentials', message: 'Send either Authorization or X-API-KEY, not both' });
    }
    if (apiKey !== undefined) {
      const key = Array.isArray(apiKey) ? '' : apiKey.trim();
      const actor = workspaceKeys && key ? await workspaceKeys.resolve(key, req.ip ?? null) : null;
      if (!actor)
        throw new UnauthenticatedError(
          'invalid_api_key',
          'The X-API-KEY is unknown or was regenerated; an admin can reveal the current key at GET /v1/account/api-key',
        );
      res.locals.actor = actor;
      return next();
    }
    if (!header) return next();
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new UnauthenticatedError('invalid_authorization', 'Use "Authorization: Bearer <access token>"');
    const actor = await tokens.resolve(m[1]!, req.ip ?? null);
    if (!actor) throw new UnauthenticatedError('invalid_token', 'The access token is unknown, expired or revoked; request a new one at POST /v1/auth/token');
    res.locals.actor = actor;
    next();
  };
}
