import { z } from 'zod';
import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { PageOnlyQuery } from '../shared/pagination.js';
import { pageOf } from '../shared/schemas.js';

const tag = 'API keys';
const ApiKeySchema = z
  .object({
    token: z.string().describe('Public identifier (sbk_…); safe to show'),
    name: z.string(),
    user_id: z.number(),
    created: z.string(),
    last_used: z.string().nullable().describe('Last exchange for an access token (minute resolution)'),
  })
  .meta({ id: 'ApiKey' });
const CreatedApiKey = z
  .object({ token: z.string(), secret: z.string().describe('Shown in this response only'), name: z.string(), created: z.string() })
  .meta({ id: 'CreatedApiKey' });
const CreateBody = z
  .object({ name: z.string().trim().min(1).max(120).describe('What the key is for') })
  .strict()
  .meta({ id: 'CreateApiKey' });
const TokenParams = z.object({ token: z.string().min(1).max(64) });
const ApiKeyPage = pageOf(ApiKeySchema, 'ApiKeyPage');

/**
 * The caller's own API keys, at /v1/api-keys and, for RingRx-style clients,
 * at /myphones/api_key (same services). The RingRx list is a bare array, as
 * those clients expect; its next page is in the Link header (RFC 8288 §3,
 * rel="next") since an array has no room for next_cursor.
 */
export function registerApiKeyRoutes({ router, registry, services }: RouteContext): void {
  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/api-keys',
    tag,
    auth: true,
    summary: "List the caller's API keys (never their secrets)",
    query: PageOnlyQuery,
    responses: { 200: { description: 'A page of keys', schema: ApiKeyPage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await services.apiKeys.list(actor, query) }),
  });
  defineRoute(router, registry, {
    method: 'get',
    path: '/myphones/api_key',
    tag,
    auth: true,
    summary: "List the caller's API keys as an array (RingRx style; never their secrets)",
    description: 'When there are more keys than `limit`, the `Link` header holds the URL of the next page (rel="next").',
    query: PageOnlyQuery,
    responses: { 200: { description: 'The keys', schema: z.array(ApiKeySchema) } },
    handler: async ({ actor, query }) => {
      const page = await services.apiKeys.list(actor, query);
      const next = page.next_cursor && `</myphones/api_key?limit=${query.limit}&cursor=${page.next_cursor}>; rel="next"`;
      return { status: 200, body: page.data, ...(next ? { headers: { Link: next } } : {}) };
    },
  });
  for (const base of ['/v1/api-keys', '/myphones/api_key']) {
    defineRoute(router, registry, {
      method: 'post',
      path: base,
      tag,
      auth: true,
      summary: 'Create an API key; the secret is in this response only',
      body: CreateBody,
      responses: { 201: { description: 'Created', schema: CreatedApiKey } },
      handler: async ({ actor, body }) => {
        const r = await services.apiKeys.create(actor, body.name);
        return {
          status: 201,
          headers: { 'Cache-Control': 'no-store', Location: `${base}/${r.view.token}` },
          body: { token: r.view.token, secret: r.secret, name: r.view.name, created: r.view.created },
        };
      },
    });
    defineRoute(router, registry, {
      method: 'delete',
      path: `${base}/{token}`,
      tag,
      auth: true,
      summary: 'Revoke an API key at once (admins: any key of the account)',
      params: TokenParams,
      responses: { 204: { description: 'Revoked' } },
      handler: async ({ actor, params }) => {
        await services.apiKeys.revoke(actor, params.token);
        return { status: 204 };
      },
    });
  }
}
