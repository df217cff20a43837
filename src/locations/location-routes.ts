import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { IdParams, pageOf } from '../shared/schemas.js';
import { CreateLocationBody, LocationListQuery, LocationSchema, UpdateLocationBody } from './location-schemas.js';

const tag = 'Locations';
const LocationPage = pageOf(LocationSchema, 'LocationPage');

export function registerLocationRoutes({ router, registry, services }: RouteContext): void {
  const locations = services.locations;

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/locations',
    tag,
    auth: true,
    summary: 'List E911 locations (cursor-paginated, filterable)',
    query: LocationListQuery,
    responses: { 200: { description: 'A page of locations', schema: LocationPage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await locations.list(actor, query) }),
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/locations',
    tag,
    auth: true,
    summary: 'Create an E911 location',
    body: CreateLocationBody,
    responses: { 201: { description: 'Created', schema: LocationSchema }, 422: { description: 'unknown_country' } },
    handler: async ({ actor, body }) => {
      const view = await locations.create(actor, body);
      return { status: 201, headers: { Location: `/v1/locations/${view.id}` }, body: view };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/locations/{id}',
    tag,
    auth: true,
    summary: 'Read an E911 location',
    params: IdParams,
    responses: { 200: { description: 'The location', schema: LocationSchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await locations.get(actor, params.id) }),
  });

  defineRoute(router, registry, {
    method: 'patch',
    path: '/v1/locations/{id}',
    tag,
    auth: true,
    summary: 'Change an E911 location',
    params: IdParams,
    body: UpdateLocationBody,
    responses: { 200: { description: 'The updated location', schema: LocationSchema }, 422: { description: 'unknown_country' } },
    handler: async ({ actor, params, body }) => ({ status: 200, body: await locations.update(actor, params.id, body) }),
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/locations/{id}',
    tag,
    auth: true,
    summary: 'Delete an E911 location (409 in_use while users are there)',
    params: IdParams,
    responses: { 204: { description: 'Deleted' }, 409: { description: 'in_use, with referenced_by.users' } },
    handler: async ({ actor, params }) => {
      await locations.remove(actor, params.id);
      return { status: 204 };
    },
  });
}
