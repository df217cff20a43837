import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { IdParams, pageOf } from '../shared/schemas.js';
import { CreateProviderBody, ProviderListQuery, ProviderSchema, SyncResultSchema, UpdateProviderBody } from './provider-schemas.js';

const tag = 'Telephony providers';
const ProviderPage = pageOf(ProviderSchema, 'TelephonyProviderPage');
const CARRIER_ERRORS = {
  422: { description: 'provider_auth_failed: the carrier refused the credentials (its message is included)' },
  502: { description: 'provider_unavailable: the carrier is down, timed out or answered 5xx; nothing was saved' },
};

export function registerProviderRoutes({ router, registry, services }: RouteContext): void {
  const providers = services.providers;

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/telephony/providers',
    tag,
    auth: true,
    summary: "List the account's telephony providers (admins)",
    query: ProviderListQuery,
    responses: { 200: { description: 'A page of providers', schema: ProviderPage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await providers.list(actor, query) }),
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/telephony/providers',
    tag,
    auth: true,
    summary: 'Connect a carrier (Twilio, Telnyx, Plivo) or a SIP trunk',
    description: "Credentials are checked with the carrier first. A carrier's numbers are imported at once (the result is in `sync`).",
    body: CreateProviderBody,
    responses: { 201: { description: 'Created', schema: ProviderSchema }, 409: { description: 'name_taken' }, ...CARRIER_ERRORS },
    handler: async ({ actor, body }) => {
      const view = await providers.create(actor, body);
      return { status: 201, headers: { Location: `/v1/telephony/providers/${view.id}` }, body: view };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/telephony/providers/{id}',
    tag,
    auth: true,
    summary: 'Read a provider (with its trunk registration state)',
    params: IdParams,
    responses: { 200: { description: 'The provider', schema: ProviderSchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await providers.get(actor, params.id) }),
  });

  defineRoute(router, registry, {
    method: 'patch',
    path: '/v1/telephony/providers/{id}',
    tag,
    auth: true,
    summary: 'Rename, enable/disable, rotate credentials or change trunk settings',
    params: IdParams,
    body: UpdateProviderBody,
    responses: { 200: { description: 'The updated provider', schema: ProviderSchema }, ...CARRIER_ERRORS },
    handler: async ({ actor, params, body }) => ({ status: 200, body: await providers.update(actor, params.id, body) }),
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/telephony/providers/{id}',
    tag,
    auth: true,
    summary: 'Remove a provider and its numbers (409 in_use while its numbers are used)',
    params: IdParams,
    responses: { 204: { description: 'Deleted' }, 409: { description: 'in_use, with referenced_by' } },
    handler: async ({ actor, params }) => {
      await providers.remove(actor, params.id);
      return { status: 204 };
    },
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/telephony/providers/{id}/sync',
    tag,
    auth: true,
    summary: "Import the carrier's numbers now",
    params: IdParams,
    responses: { 200: { description: 'What changed', schema: SyncResultSchema }, ...CARRIER_ERRORS },
    handler: async ({ actor, params }) => ({ status: 200, body: await providers.sync(actor, params.id) }),
  });
}
