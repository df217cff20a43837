import { z } from 'zod';
import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';

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

/**
 * The caller's own API keys, at /v1/api-keys and, for RingRx-style clients,
 * at /myphones/api_key (same handlers).
 */
export function registerApiKeyRoutes({ router, registry, services }: RouteContext): void {
  for (const base of ['/v1/api-keys', '/myphones/api_key']) {
    defineRoute(router, registry, {
      method: 'get',
      path: base,
      tag,
      auth: true,
      summary: "List the caller's API keys (never their secrets)",
      responses: { 200: { description: 'The keys', schema: z.object({ data: z.array(ApiKeySchema) }) } },
      handler: async ({ actor }) => ({ status: 200, body: { data: await services.apiKeys.list(actor) } }),
    });
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
