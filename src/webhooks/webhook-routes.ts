import { z } from 'zod';
import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { WEBHOOK_EVENTS } from './webhook-events.js';
import { PageOnlyQuery } from '../shared/pagination.js';
import { pageOf } from '../shared/schemas.js';

const tag = 'Webhooks';
const WebhookSchema = z
  .object({
    id: z.number(),
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    active: z.boolean(),
    disabled_reason: z.string().nullable().describe('Why delivery stopped, when it was disabled automatically'),
    failing_since: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Webhook' });
const DeliverySchema = z
  .object({
    id: z.number(),
    webhook_id: z.number(),
    event_id: z.string(),
    event_type: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed', 'skipped']),
    attempts: z.number(),
    next_attempt_at: z.string().nullable(),
    last_attempt_at: z.string().nullable(),
    last_status_code: z.number().nullable(),
    last_error: z.string().nullable(),
    last_duration_ms: z.number().nullable(),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
    payload: z.unknown().describe('The exact JSON body that is (re)sent'),
  })
  .meta({ id: 'WebhookDelivery' });
const Events = z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length);
const Url = z.string().trim().max(2048);
const CreateBody = z
  .object({ url: Url, events: Events, description: z.string().max(500).nullable().optional(), active: z.boolean().optional() })
  .strict()
  .meta({ id: 'CreateWebhook' });
const UpdateBody = z
  .object({ url: Url.optional(), events: Events.optional(), description: z.string().max(500).nullable().optional(), active: z.boolean().optional() })
  .strict()
  .meta({ id: 'UpdateWebhook' });
const IdParams = z.object({ id: z.coerce.number().int().positive() });

export function registerWebhookRoutes({ router, registry, services }: RouteContext): void {
  const hooks = services.webhooks;
  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/webhooks',
    tag,
    auth: true,
    summary: 'List webhooks',
    query: PageOnlyQuery,
    responses: { 200: { description: 'A page of webhooks', schema: pageOf(WebhookSchema, 'WebhookPage') } },
    handler: async ({ actor, query }) => ({ status: 200, body: await hooks.list(actor, query) }),
  });
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/webhooks',
    tag,
    auth: true,
    summary: 'Create a webhook; the signing secret is in this response only',
    description: 'Targets resolving to loopback, private, link-local, CGNAT or metadata addresses are refused (422 webhook_target_forbidden).',
    body: CreateBody,
    responses: {
      201: { description: 'Created', schema: WebhookSchema.extend({ secret: z.string() }) },
      422: { description: 'Forbidden or unresolvable target' },
    },
    handler: async ({ actor, body }) => {
      const r = await hooks.create(actor, body);
      return { status: 201, headers: { Location: `/v1/webhooks/${r.view.id}`, 'Cache-Control': 'no-store' }, body: { ...r.view, secret: r.secret } };
    },
  });
  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/webhooks/{id}',
    tag,
    auth: true,
    summary: 'Read a webhook',
    params: IdParams,
    responses: { 200: { description: 'The webhook', schema: WebhookSchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await hooks.get(actor, params.id) }),
  });
  defineRoute(router, registry, {
    method: 'patch',
    path: '/v1/webhooks/{id}',
    tag,
    auth: true,
    summary: 'Change a webhook (active=true re-enables a disabled one)',
    params: IdParams,
    body: UpdateBody,
    responses: { 200: { description: 'Updated', schema: WebhookSchema } },
    handler: async ({ actor, params, body }) => ({ status: 200, body: await hooks.update(actor, params.id, body) }),
  });
  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/webhooks/{id}',
    tag,
    auth: true,
    summary: 'Delete a webhook and its delivery log',
    params: IdParams,
    responses: { 204: { description: 'Deleted' } },
    handler: async ({ actor, params }) => {
      await hooks.remove(actor, params.id);
      return { status: 204 };
    },
  });
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/webhooks/{id}/rotate-secret',
    tag,
    auth: true,
    summary: 'Replace the signing secret; returned once',
    params: IdParams,
    responses: { 200: { description: 'The new secret', schema: z.object({ secret: z.string() }) } },
    handler: async ({ actor, params }) => ({
      status: 200,
      headers: { 'Cache-Control': 'no-store' },
      body: { secret: await hooks.rotateSecret(actor, params.id) },
    }),
  });
  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/webhooks/{id}/deliveries',
    tag,
    auth: true,
    summary: 'Delivery log, newest first',
    params: IdParams,
    query: PageOnlyQuery,
    responses: { 200: { description: 'A page of deliveries', schema: pageOf(DeliverySchema, 'WebhookDeliveryPage') } },
    handler: async ({ actor, params, query }) => ({ status: 200, body: await hooks.deliveries(actor, params.id, query) }),
  });
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver',
    tag,
    auth: true,
    summary: 'Queue the same event again',
    params: z.object({ id: z.coerce.number().int().positive(), deliveryId: z.coerce.number().int().positive() }),
    responses: { 202: { description: 'Queued', schema: DeliverySchema } },
    handler: async ({ actor, params }) => ({ status: 202, body: await hooks.redeliver(actor, params.id, params.deliveryId) }),
  });
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/webhooks/{id}/test',
    tag,
    auth: true,
    summary: 'Send a webhook.ping now and return the outcome',
    params: IdParams,
    responses: { 200: { description: 'The ping delivery', schema: DeliverySchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await hooks.ping(actor, params.id) }),
  });
}
