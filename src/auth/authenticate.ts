import type { RequestHandler } from 'express';
import { UnauthenticatedError } from '../errors.js';
import type { AccessTokens } from './access-tokens.js';

/**
 * Resolves the credential into res.locals.actor. A credential that is
 * present but wrong is a 401 at once (never silently anonymous); routes that
 * need an actor refuse a request without one.
 */
export function authenticate(tokens: AccessTokens): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    if (!header) return next();
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new UnauthenticatedError('invalid_authorization', 'Use "Authorization: Bearer <access token>"');
    const actor = await tokens.resolve(m[1]!, req.ip ?? null);
    if (!actor) throw new UnauthenticatedError('invalid_token', 'The access token is unknown, expired or revoked; request a new one at POST /v1/auth/token');
    res.locals.actor = actor;
    next();
  };
}
