import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { IdParams, pageOf } from '../shared/schemas.js';
import { CreateNumberBody, NumberListQuery, NumberSchema, UpdateNumberBody } from './number-schemas.js';

const tag = 'Numbers';
const NumberPage = pageOf(NumberSchema, 'PhoneNumberPage');

export function registerNumberRoutes({ router, registry, services }: RouteContext): void {
  const numbers = services.numbers;

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/numbers',
    tag,
    auth: true,
    summary: 'List phone numbers (cursor-paginated, filterable)',
    query: NumberListQuery,
    responses: { 200: { description: 'A page of numbers', schema: NumberPage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await numbers.list(actor, query) }),
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/numbers',
    tag,
    auth: true,
    summary: 'Add a phone number to the account',
    body: CreateNumberBody,
    responses: { 201: { description: 'Created', schema: NumberSchema }, 409: { description: 'number_taken: the number is registered already' } },
    handler: async ({ actor, body }) => {
      const view = await numbers.create(actor, body);
      return { status: 201, headers: { Location: `/v1/numbers/${view.id}` }, body: view };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/numbers/{id}',
    tag,
    auth: true,
    summary: 'Read a phone number',
    params: IdParams,
    responses: { 200: { description: 'The number', schema: NumberSchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await numbers.get(actor, params.id) }),
  });

  defineRoute(router, registry, {
    method: 'patch',
    path: '/v1/numbers/{id}',
    tag,
    auth: true,
    summary: 'Change a phone number (capabilities merge member by member)',
    description:
      '409 in_use when the e164 changes while users, fax services or the account refer to the number, when sms is turned off while users send SMS from it, or fax is turned off while a fax service uses it.',
    params: IdParams,
    body: UpdateNumberBody,
    responses: { 200: { description: 'The updated number', schema: NumberSchema }, 409: { description: 'number_taken or in_use' } },
    handler: async ({ actor, params, body }) => ({ status: 200, body: await numbers.update(actor, params.id, body) }),
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/numbers/{id}',
    tag,
    auth: true,
    summary: 'Remove a phone number (409 in_use while referenced)',
    params: IdParams,
    responses: { 204: { description: 'Deleted' }, 409: { description: 'in_use, with referenced_by' } },
    handler: async ({ actor, params }) => {
      await numbers.remove(actor, params.id);
      return { status: 204 };
    },
  });
}
