import crypto from 'node:crypto';
import { parse as parseCookieHeader } from 'cookie';
import type { CookieOptions, Request, Response } from 'express';

/**
 * The web console's session: the access token lives in an HttpOnly cookie
 * (script on the page, even injected script, cannot read it), SameSite=Strict
 * (a request started by another site does not carry it). Because a cookie is
 * sent by the browser on its own, every unsafe request that authenticates
 * with it must also carry X-CSRF-Token: a value derived from the session
 * token, readable by the console from the non-HttpOnly companion cookie. A
 * page on another origin can read neither cookie, and sending a custom header
 * cross-origin needs a CORS preflight this API never grants.
 */
export const SESSION_COOKIE = 'sb_session';
export const CSRF_COOKIE = 'sb_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** One-way: knowing the CSRF value does not give the session token. */
export function csrfTokenFor(sessionToken: string): string {
  return crypto.createHash('sha256').update(`csrf:${sessionToken}`).digest('base64url');
}

export function csrfMatches(sessionToken: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const given = Buffer.from(header);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

export function sessionTokenOf(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  try {
    return parseCookieHeader(header)[SESSION_COOKIE] || undefined;
  } catch {
    return undefined;
  }
}

function options(req: Request, httpOnly: boolean, maxAgeSeconds?: number): CookieOptions {
  // Secure whenever the request came over HTTPS (directly or, with trustProxy, through the proxy).
  return { httpOnly, secure: req.secure, sameSite: 'strict', path: '/', ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds * 1000 } : {}) };
}

export function setSessionCookies(req: Request, res: Response, token: string, ttlSeconds: number): string {
  const csrf = csrfTokenFor(token);
  res.cookie(SESSION_COOKIE, token, options(req, true, ttlSeconds));
  res.cookie(CSRF_COOKIE, csrf, options(req, false, ttlSeconds));
  return csrf;
}

export function clearSessionCookies(req: Request, res: Response): void {
  res.clearCookie(SESSION_COOKIE, options(req, true));
  res.clearCookie(CSRF_COOKIE, options(req, false));
}
