import type { RequestHandler } from 'express';
import { ForbiddenError, UnauthenticatedError, ValidationError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import type { AccessTokens } from './access-tokens.js';
import { CSRF_HEADER, csrfMatches, sessionTokenOf } from './session-cookie.js';

export interface WorkspaceKeyResolver {
  resolve(key: string, sourceIp: string | null): Promise<Actor | null>;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Per-user API keys checked directly (HTTP Basic), as the api_key grant does. */
export interface ApiKeyVerifier {
  verify(token: string, secret: string): Promise<{ user: { id: number; account_id: number; role: Actor['role'] }; key: { token: string } }>;
}

/**
 * Resolves the credential into res.locals.actor. A credential that is
 * present but wrong is a 401 at once (never silently anonymous); routes that
 * need an actor refuse a request without one. The one exception is the
 * console's session cookie, which the browser sends by itself: a stale one
 * is ignored so that signing in again works, and a live one needs the CSRF
 * header on unsafe methods (see session-cookie.ts). Nothing is cached: each
 * request reads the database, so a revocation or key regeneration is seen on
 * the very next request by every process sharing the database. A credential
 * in the query string was already refused by credentialQueryGuard.
 */
export function authenticate(tokens: AccessTokens, workspaceKeys?: WorkspaceKeyResolver, apiKeys?: ApiKeyVerifier): RequestHandler {
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
    if (!header) {
      const session = sessionTokenOf(req);
      if (!session) return next();
      // A stale console cookie is no credential at all: the request goes on anonymous (so signing in again works).
      const actor = await tokens.resolve(session, req.ip ?? null);
      if (!actor) return next();
      if (!SAFE_METHODS.has(req.method) && !csrfMatches(session, req.get(CSRF_HEADER))) {
        throw new ForbiddenError('csrf_token_invalid', 'A request authenticated by the session cookie must carry the X-CSRF-Token header of that session');
      }
      res.locals.actor = actor;
      res.locals.sessionToken = session;
      return next();
    }
    // Call engines (FreeSWITCH mod_xml_curl, jambonz webhooks) can send only HTTP Basic (RFC 7617):
    // an API key as token:secret, or the workspace key as the password.
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon < 0 ? decoded : decoded.slice(0, colon);
      const pass = colon < 0 ? '' : decoded.slice(colon + 1);
      let actor: Actor | null = null;
      if (pass.startsWith('sbwk_') && workspaceKeys) {
        actor = await workspaceKeys.resolve(pass, req.ip ?? null);
        if (!actor) throw new UnauthenticatedError('invalid_api_key', 'The workspace key is unknown or was regenerated');
      } else if (user.startsWith('sbk_') && apiKeys) {
        const { user: owner, key } = await apiKeys.verify(user, pass);
        actor = { accountId: owner.account_id, userId: owner.id, role: owner.role, kind: 'api_key', actorId: `api_key:${key.token}`, sourceIp: req.ip ?? null };
      }
      if (!actor) {
        throw new UnauthenticatedError(
          'invalid_authorization',
          'Use "Authorization: Bearer <access token>", or Basic with an API key (token:secret) or the workspace key as the password',
        );
      }
      res.locals.actor = actor;
      return next();
    }
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new UnauthenticatedError('invalid_authorization', 'Use "Authorization: Bearer <access token>"');
    const actor = await tokens.resolve(m[1]!, req.ip ?? null);
    if (!actor) throw new UnauthenticatedError('invalid_token', 'The access token is unknown, expired or revoked; request a new one at POST /v1/auth/token');
    res.locals.actor = actor;
    next();
  };
}
