import { z } from 'zod';
import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { CreateUserBody, CreatedUserSchema, IdParams, UpdateUserBody, UserListQuery, UserSchema } from './user-schemas.js';
import { userEtag } from './user-presenter.js';

const tag = 'Users';
const UserPage = z.object({ data: z.array(UserSchema), next_cursor: z.string().nullable() }).meta({ id: 'UserPage' });

export function registerUserRoutes({ router, registry, services }: RouteContext): void {
  const users = services.users;

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/users',
    tag,
    auth: true,
    summary: 'List users (cursor-paginated, filterable)',
    query: UserListQuery,
    responses: { 200: { description: 'A page of users', schema: UserPage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await users.list(actor, query) }),
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/users',
    tag,
    auth: true,
    summary: 'Create a user; the SIP password and OnCall PIN are in this response only',
    body: CreateUserBody,
    responses: {
      201: { description: 'Created', schema: CreatedUserSchema },
      409: { description: 'Extension or username taken' },
      422: { description: 'A rule refused the user' },
    },
    handler: async ({ actor, body }) => {
      const r = await users.create(actor, body);
      return {
        status: 201,
        headers: { Location: `/v1/users/${r.view.id}`, ETag: userEtag(r.user), 'Cache-Control': 'no-store' },
        body: { ...r.view, sip_password: r.sipPassword, oncall_pin: r.oncallPin },
      };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/users/{id}',
    tag,
    auth: true,
    summary: 'Read a user',
    params: IdParams,
    responses: { 200: { description: 'The user', schema: UserSchema } },
    handler: async ({ actor, params }) => {
      const r = await users.get(actor, params.id);
      return { status: 200, headers: { ETag: userEtag(r.user) }, body: r.view };
    },
  });

  defineRoute(router, registry, {
    method: 'patch',
    path: '/v1/users/{id}',
    tag,
    auth: true,
    summary: 'Change fields of a user (send If-Match with the ETag to avoid lost updates)',
    params: IdParams,
    body: UpdateUserBody,
    responses: { 200: { description: 'The updated user', schema: UserSchema }, 412: { description: 'If-Match did not match' } },
    handler: async ({ actor, params, body, req }) => {
      const r = await users.update(actor, params.id, body, req.get('if-match') ?? undefined);
      return { status: 200, headers: { ETag: userEtag(r.user) }, body: r.view };
    },
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/users/{id}',
    tag,
    auth: true,
    summary: 'Delete a user (not the owner)',
    params: IdParams,
    responses: { 204: { description: 'Deleted' } },
    handler: async ({ actor, params }) => {
      await users.remove(actor, params.id);
      return { status: 204 };
    },
  });

  const SipPasswordBody = z.object({ password: z.string().max(128).optional().describe('Set this password instead of generating one') }).strict();
  const SipPasswordOut = z
    .object({
      sip_password: z.string(),
      previous_password_valid_until: z.string().nullable().describe('Until when the previous password still registers devices'),
    })
    .meta({ id: 'SipPassword' });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/users/{id}/sip-password',
    tag,
    auth: true,
    summary: 'Rotate (or set) the SIP password; returned once',
    params: IdParams,
    body: SipPasswordBody,
    responses: { 200: { description: 'The new password', schema: SipPasswordOut } },
    handler: async ({ actor, params, body }) => {
      const r = await users.setSipPassword(actor, params.id, body.password);
      return {
        status: 200,
        headers: { 'Cache-Control': 'no-store' },
        body: { sip_password: r.password, previous_password_valid_until: r.previousValidUntil?.toISOString() ?? null },
      };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/users/{id}/sip-password',
    tag,
    auth: true,
    summary: 'Reveal the SIP password for device set-up (admins; audited)',
    params: IdParams,
    responses: { 200: { description: 'The password', schema: z.object({ sip_password: z.string() }) } },
    handler: async ({ actor, params }) => ({
      status: 200,
      headers: { 'Cache-Control': 'no-store' },
      body: { sip_password: await users.revealSipPassword(actor, params.id) },
    }),
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/users/{id}/oncall-pin',
    tag,
    auth: true,
    summary: 'Reset the OnCall PIN; the new PIN is returned once',
    params: IdParams,
    responses: { 200: { description: 'The new PIN', schema: z.object({ oncall_pin: z.string() }) } },
    handler: async ({ actor, params }) => ({
      status: 200,
      headers: { 'Cache-Control': 'no-store' },
      body: { oncall_pin: await users.resetOncallPin(actor, params.id) },
    }),
  });
}
