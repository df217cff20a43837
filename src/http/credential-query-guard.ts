import type { RequestHandler } from 'express';
import { ValidationError } from '../errors.js';

/**
 * Query parameter names that would carry a credential, compared lowercase
 * with every character other than a letter or a digit removed, so that
 * `X-API-KEY`, `x_api_key`, `apiKey` and `api_key[]` are all the same name.
 * No endpoint of this API takes any of them in the query.
 */
const CREDENTIAL_NAMES = new Set([
  'accesstoken',
  'token',
  'idtoken',
  'refreshtoken',
  'key',
  'apikey',
  'xapikey',
  'bearer',
  'secret',
  'clientsecret',
  'password',
  'passwd',
  'pwd',
  'pin',
  'auth',
  'authorization',
  'jwt',
  'session',
  'sessionid',
]);

export function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAMES.has(name.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/**
 * Refuses a credential in the URL with 400 credential_in_query, before
 * authentication and before any schema: URLs end up in access logs, proxy
 * logs and browser history, so the caller must learn at once (and rotate the
 * credential) rather than get a 401 that hides why it was ignored.
 */
export const credentialQueryGuard: RequestHandler = (req, _res, next) => {
  const leaked = Object.keys(req.query as Record<string, unknown>).find(isCredentialName);
  if (leaked === undefined) return next();
  throw ValidationError.of({
    field: leaked,
    code: 'credential_in_query',
    message: 'Credentials are never accepted in the URL; send them in the Authorization or X-API-KEY header (and rotate this one if it was real)',
  });
};
