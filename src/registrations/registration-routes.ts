import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { PageOnlyQuery } from '../shared/pagination.js';
import { BindingParams, RegistrationListQuery, RegistrationPage, UserIdParams } from './registration-schemas.js';

const tag = 'Registrations';

export function registerRegistrationRoutes({ router, registry, services }: RouteContext): void {
  const registrations = services.registrations;

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/users/{id}/registrations',
    tag,
    auth: true,
    summary: 'List the SIP devices registered for a user (live bindings)',
    params: UserIdParams,
    query: PageOnlyQuery,
    responses: { 200: { description: 'A page of bindings', schema: RegistrationPage } },
    handler: async ({ actor, params, query }) => ({ status: 200, body: await registrations.listForUser(actor, params.id, query) }),
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/users/{id}/registrations/{bindingId}',
    tag,
    auth: true,
    summary: 'Remove one binding (the device must register again)',
    params: BindingParams,
    responses: { 204: { description: 'Removed' } },
    handler: async ({ actor, params }) => {
      await registrations.removeOne(actor, params.id, params.bindingId);
      return { status: 204 };
    },
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/users/{id}/registrations',
    tag,
    auth: true,
    summary: 'Remove every binding of a user',
    params: UserIdParams,
    responses: { 204: { description: 'Removed' } },
    handler: async ({ actor, params }) => {
      await registrations.removeAll(actor, params.id);
      return { status: 204 };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/registrations',
    tag,
    auth: true,
    summary: 'List every live binding of the account (admins and viewers)',
    query: RegistrationListQuery,
    responses: { 200: { description: 'A page of bindings', schema: RegistrationPage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await registrations.listForAccount(actor, query) }),
  });
}
