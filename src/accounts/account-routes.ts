import { z } from 'zod';
import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { AccountSchema, UpdateAccountBody } from './account-schemas.js';

const tag = 'Account';
const WorkspaceKey = z
  .object({ api_key: z.string().describe('Send as the X-API-KEY header'), last4: z.string(), created_at: z.string() })
  .meta({ id: 'WorkspaceApiKey' });

export function registerAccountRoutes({ router, registry, services }: RouteContext): void {
  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/account',
    tag,
    auth: true,
    summary: "The caller's workspace settings (includes the account id)",
    responses: { 200: { description: 'The account', schema: AccountSchema } },
    handler: async ({ actor }) => ({ status: 200, body: await services.accountSettings.get(actor) }),
  });
  defineRoute(router, registry, {
    method: 'patch',
    path: '/v1/account',
    tag,
    auth: true,
    summary: 'Change workspace settings (owner and admins)',
    body: UpdateAccountBody,
    responses: {
      200: { description: 'The updated account', schema: AccountSchema },
      409: { description: 'SIP domain taken' },
      422: { description: 'A rule refused the change' },
    },
    handler: async ({ actor, body }) => ({ status: 200, body: await services.accountSettings.update(actor, body) }),
  });
  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/account',
    tag,
    auth: true,
    summary: 'Owner only: delete the workspace and everything in it, at once and for good (send the account name as confirmation)',
    body: z
      .object({ confirm: z.string().max(200).describe('The account name, exactly') })
      .strict()
      .meta({ id: 'DeleteAccount' }),
    responses: {
      200: {
        description: 'Deleted; the counts are what went',
        schema: z.object({ account_id: z.number(), deleted_at: z.string(), counts: z.record(z.string(), z.number()) }).meta({ id: 'AccountDeleted' }),
      },
      403: { description: 'Not the owner' },
      422: { description: 'The confirmation is not the account name' },
    },
    handler: async ({ actor, body }) => ({ status: 200, body: await services.workspaceDeletion.delete(actor, body.confirm) }),
  });
  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/account/api-key',
    tag,
    auth: true,
    summary: 'Reveal the workspace X-API-KEY (admins; audited; created on first reveal)',
    responses: { 200: { description: 'The key', schema: WorkspaceKey } },
    handler: async ({ actor }) => ({ status: 200, headers: { 'Cache-Control': 'no-store' }, body: await services.workspaceKey.reveal(actor) }),
  });
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/account/api-key/regenerate',
    tag,
    auth: true,
    summary: 'Replace the workspace X-API-KEY; the old key is refused at once on every process',
    responses: { 200: { description: 'The new key', schema: WorkspaceKey } },
    handler: async ({ actor }) => ({ status: 200, headers: { 'Cache-Control': 'no-store' }, body: await services.workspaceKey.regenerate(actor) }),
  });
}
