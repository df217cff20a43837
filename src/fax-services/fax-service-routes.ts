import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { IdParams, pageOf } from '../shared/schemas.js';
import { CreateFaxServiceBody, FaxServiceListQuery, FaxServiceSchema, UpdateFaxServiceBody } from './fax-service-schemas.js';

const tag = 'Fax services';
const FaxServicePage = pageOf(FaxServiceSchema, 'FaxServicePage');

export function registerFaxServiceRoutes({ router, registry, services }: RouteContext): void {
  const faxServices = services.faxServices;

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/fax-services',
    tag,
    auth: true,
    summary: 'List fax services (cursor-paginated, filterable)',
    query: FaxServiceListQuery,
    responses: { 200: { description: 'A page of fax services', schema: FaxServicePage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await faxServices.list(actor, query) }),
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/fax-services',
    tag,
    auth: true,
    summary: 'Create a fax service',
    body: CreateFaxServiceBody,
    responses: { 201: { description: 'Created', schema: FaxServiceSchema }, 422: { description: 'unknown_number or number_not_fax_capable' } },
    handler: async ({ actor, body }) => {
      const view = await faxServices.create(actor, body);
      return { status: 201, headers: { Location: `/v1/fax-services/${view.id}` }, body: view };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/fax-services/{id}',
    tag,
    auth: true,
    summary: 'Read a fax service',
    params: IdParams,
    responses: { 200: { description: 'The fax service', schema: FaxServiceSchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await faxServices.get(actor, params.id) }),
  });

  defineRoute(router, registry, {
    method: 'patch',
    path: '/v1/fax-services/{id}',
    tag,
    auth: true,
    summary: 'Change a fax service',
    params: IdParams,
    body: UpdateFaxServiceBody,
    responses: { 200: { description: 'The updated fax service', schema: FaxServiceSchema }, 422: { description: 'unknown_number or number_not_fax_capable' } },
    handler: async ({ actor, params, body }) => ({ status: 200, body: await faxServices.update(actor, params.id, body) }),
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/fax-services/{id}',
    tag,
    auth: true,
    summary: 'Delete a fax service (409 in_use while users use it)',
    params: IdParams,
    responses: { 204: { description: 'Deleted' }, 409: { description: 'in_use, with referenced_by.users' } },
    handler: async ({ actor, params }) => {
      await faxServices.remove(actor, params.id);
      return { status: 204 };
    },
  });
}
