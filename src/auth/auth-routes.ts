import { z } from 'zod';
import { Secret } from 'otpauth';
import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { buildTotp } from './password-login.js';
import { IdParams } from '../users/user-schemas.js';
import { clearSessionCookies, sessionTokenOf, setSessionCookies } from './session-cookie.js';

const tag = 'Authentication';

const TokenRequest = z
  .discriminatedUnion('grant_type', [
    z
      .object({
        grant_type: z.literal('password'),
        username: z.string().min(1).max(64),
        password: z.string().min(1).max(200),
        otp: z.string().max(10).optional().describe('Six-digit code when the user has otp_required'),
      })
      .strict(),
    z
      .object({
        grant_type: z.literal('api_key'),
        token: z.string().min(1).max(64).describe("The key's public token (sbk_…)"),
        secret: z.string().min(1).max(128).describe('The secret shown once when the key was created (sbks_…)'),
      })
      .strict(),
  ])
  .meta({ id: 'TokenRequest' });

const SessionRequest = z
  .object({
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(200),
    otp: z.string().max(10).optional().describe('Six-digit code when the user has otp_required'),
  })
  .strict()
  .meta({ id: 'SessionRequest' });

const SessionResponse = z
  .object({ csrf_token: z.string().describe('Send as X-CSRF-Token on unsafe requests'), expires_in: z.number() })
  .meta({ id: 'SessionResponse' });

const TokenResponse = z.object({ access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.number() }).meta({ id: 'TokenResponse' });

export function registerAuthRoutes({ router, registry, services }: RouteContext): void {
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/auth/token',
    tag,
    auth: false,
    summary: 'Exchange credentials for a bearer access token',
    body: TokenRequest,
    responses: { 200: { description: 'A new access token', schema: TokenResponse }, 429: { description: 'Too many failures for this username or source' } },
    handler: async ({ body, req }) => {
      if (body.grant_type === 'api_key') {
        const { user, key } = await services.apiKeys.verify(body.token, body.secret);
        return { status: 200, headers: { 'Cache-Control': 'no-store' }, body: await services.accessTokens.issue(user, 'api_key', key) };
      }
      const user = await services.passwordLogin.verify(body, req.ip ?? 'unknown');
      return { status: 200, headers: { 'Cache-Control': 'no-store' }, body: await services.accessTokens.issue(user, body.grant_type) };
    },
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/auth/session',
    tag,
    auth: false,
    summary: 'Sign the web console in: the access token is set as an HttpOnly, SameSite=Strict cookie',
    description:
      'Answers the CSRF token (also in the readable sb_csrf cookie) that every POST/PUT/PATCH/DELETE authenticated by the cookie must send as X-CSRF-Token. Same rules as the password grant (OTP, throttling).',
    body: SessionRequest,
    responses: {
      200: { description: 'Signed in', schema: SessionResponse },
      429: { description: 'Too many failures for this username or source' },
    },
    handler: async ({ body, req }) => {
      const user = await services.passwordLogin.verify(body, req.ip ?? 'unknown');
      const issued = await services.accessTokens.issue(user, 'password');
      const csrf = setSessionCookies(req, req.res!, issued.access_token, issued.expires_in);
      return { status: 200, headers: { 'Cache-Control': 'no-store' }, body: { csrf_token: csrf, expires_in: issued.expires_in } };
    },
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/auth/session',
    tag,
    auth: false,
    summary: 'Sign the web console out: the session token is revoked and its cookies cleared',
    responses: { 204: { description: 'Signed out (also when there was no session)' } },
    handler: async ({ req }) => {
      const token = sessionTokenOf(req);
      if (token) await services.accessTokens.revoke(token);
      clearSessionCookies(req, req.res!);
      return { status: 204 };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/me',
    tag,
    auth: true,
    summary: 'Who the credential acts as',
    responses: {
      200: {
        description: 'The caller (Developer section: user id, role, account)',
        schema: z
          .object({
            user_id: z.number().nullable().describe('null for the workspace key'),
            account_id: z.number(),
            role: z.string(),
            credential: z.string().describe('user, api_key or workspace_key'),
            name: z.string().nullable(),
            email: z.string().nullable(),
            account: z
              .object({ id: z.number(), name: z.string(), sip_domain: z.string(), logo_url: z.string().nullable() })
              .describe('What every member needs of the workspace (the settings themselves are admin-only)'),
          })
          .meta({ id: 'Me' }),
      },
    },
    handler: async ({ actor }) => {
      const [account, user] = await Promise.all([
        services.accountSettings.summary(actor.accountId),
        actor.userId ? services.db.models.User.findByPk(actor.userId, { attributes: ['name', 'email'] }) : Promise.resolve(null),
      ]);
      return {
        status: 200,
        body: {
          user_id: actor.userId,
          account_id: actor.accountId,
          role: actor.role,
          credential: actor.kind,
          name: user?.name ?? null,
          email: user?.email ?? null,
          account,
        },
      };
    },
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/users/{id}/otp',
    tag,
    auth: true,
    summary: 'Enrol a new TOTP authenticator for the user; the seed is returned once',
    params: IdParams,
    responses: { 200: { description: 'Seed and otpauth:// URI for the authenticator app', schema: z.object({ secret: z.string(), otpauth_url: z.string() }) } },
    handler: async ({ actor, params }) => {
      const seed = new Secret({ size: 20 }).base32;
      const user = await services.users.enrollOtp(actor, params.id, seed);
      return { status: 200, headers: { 'Cache-Control': 'no-store' }, body: { secret: seed, otpauth_url: buildTotp(seed, user.username).toString() } };
    },
  });
}
