import { z } from 'zod';
import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { PageOnlyQuery } from '../shared/pagination.js';
import { pageOf } from '../shared/schemas.js';

const tag = 'Members';
const MemberSchema = z
  .object({
    id: z.number().nullable().describe('User id; null while invited'),
    invitation_id: z.number().nullable(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    role: z.string(),
    owner: z.boolean(),
    status: z.enum(['invited', 'active', 'disabled']),
    expires_at: z.string().nullable().describe('When a pending invitation expires'),
  })
  .meta({ id: 'Member' });
const InvitationSent = MemberSchema.extend({ email_sent: z.boolean().describe('false when SMTP is not configured or refused the message; resend later') }).meta(
  { id: 'InvitationSent' },
);
const IdParams = z.object({ id: z.coerce.number().int().positive() });

export function registerMemberRoutes({ router, registry, services }: RouteContext): void {
  const members = services.members;

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/members',
    tag,
    auth: true,
    summary: "List members (the account's users); pending invitations lead the first page",
    query: PageOnlyQuery,
    responses: { 200: { description: 'A page of members', schema: pageOf(MemberSchema, 'MemberPage') } },
    handler: async ({ actor, query }) => ({ status: 200, body: await members.list(actor, query) }),
  });
  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/members/invitations',
    tag,
    auth: true,
    summary: 'Pending invitations',
    query: PageOnlyQuery,
    responses: { 200: { description: 'A page of invitations', schema: pageOf(MemberSchema, 'InvitationPage') } },
    handler: async ({ actor, query }) => ({ status: 200, body: await members.listInvitations(actor, query) }),
  });
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/members/invitations',
    tag,
    auth: true,
    summary: 'Invite an email with a role; the single-use link is emailed',
    body: z
      .object({ email: z.string().trim().email().max(254), role: z.enum(['admin', 'viewer', 'user']) })
      .strict()
      .meta({ id: 'InviteMember' }),
    responses: { 201: { description: 'Invited', schema: InvitationSent }, 409: { description: 'Already a member or already invited' } },
    handler: async ({ actor, body }) => {
      const r = await members.invite(actor, body);
      return { status: 201, headers: { Location: `/v1/members/invitations/${r.view.invitation_id}` }, body: { ...r.view, email_sent: r.emailSent } };
    },
  });
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/members/invitations/{id}/resend',
    tag,
    auth: true,
    summary: 'Mail a new link (the old one stops working) with a new expiry',
    params: IdParams,
    responses: { 200: { description: 'Resent', schema: InvitationSent } },
    handler: async ({ actor, params }) => {
      const r = await members.resend(actor, params.id);
      return { status: 200, body: { ...r.view, email_sent: r.emailSent } };
    },
  });
  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/members/invitations/{id}',
    tag,
    auth: true,
    summary: 'Revoke a pending invitation',
    params: IdParams,
    responses: { 204: { description: 'Revoked' } },
    handler: async ({ actor, params }) => {
      await members.revokeInvitation(actor, params.id);
      return { status: 204 };
    },
  });
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/invitations/{token}/accept',
    tag,
    auth: false,
    summary: 'Accept an invitation: set name and password; the member is active and signed in',
    params: z.object({ token: z.string().min(10).max(100) }),
    body: z
      .object({ name: z.string().trim().min(1).max(120), password: z.string().min(1).max(200) })
      .strict()
      .meta({ id: 'AcceptInvitation' }),
    responses: {
      201: {
        description: 'Joined',
        schema: z.object({
          member: MemberSchema,
          username: z.string(),
          extension: z.string(),
          access_token: z.string(),
          token_type: z.literal('Bearer'),
          expires_in: z.number(),
        }),
      },
      422: { description: 'Expired or weak password' },
    },
    handler: async ({ params, body }) => {
      const r = await members.accept(params.token, body);
      return { status: 201, headers: { 'Cache-Control': 'no-store' }, body: { member: r.member, username: r.username, extension: r.extension, ...r.token } };
    },
  });
  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/members/{id}',
    tag,
    auth: true,
    summary: 'Remove a member (not the owner): sign-in, tokens and API keys stop at once; the PBX user stays unless delete_user=true',
    params: IdParams,
    query: z.object({
      delete_user: z
        .enum(['true', 'false'])
        .optional()
        .transform((v) => v === 'true')
        .describe('Also delete their PBX user (extension, mailbox link, registrations)'),
    }),
    responses: { 204: { description: 'Removed' }, 422: { description: 'The owner cannot be removed' } },
    handler: async ({ actor, params, query }) => {
      await members.remove(actor, params.id, { deleteUser: query.delete_user });
      return { status: 204 };
    },
  });
  const RoleBody = z
    .object({ role: z.enum(['admin', 'viewer', 'user']).describe('owner moves only by transfer-ownership') })
    .strict()
    .meta({ id: 'MemberRole' });
  defineRoute(router, registry, {
    method: 'patch',
    path: '/v1/members/{id}',
    tag,
    auth: true,
    summary: "Change a member's role (not the owner's); their access tokens end",
    params: IdParams,
    body: RoleBody,
    responses: { 200: { description: 'The member', schema: MemberSchema }, 422: { description: 'The owner cannot be demoted' } },
    handler: async ({ actor, params, body }) => ({ status: 200, body: await members.changeRole(actor, params.id, body.role) }),
  });
  defineRoute(router, registry, {
    method: 'patch',
    path: '/v1/members/invitations/{id}',
    tag,
    auth: true,
    summary: 'Change the role a pending invitation grants',
    params: IdParams,
    body: RoleBody,
    responses: { 200: { description: 'The invitation', schema: MemberSchema }, 409: { description: 'No longer pending' } },
    handler: async ({ actor, params, body }) => ({ status: 200, body: await members.changeInvitationRole(actor, params.id, body.role) }),
  });
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/account/transfer-ownership',
    tag,
    auth: true,
    summary: 'Owner only: make an active admin the owner (the old owner becomes an admin)',
    body: z.object({ user_id: z.number().int().positive() }).strict().meta({ id: 'TransferOwnership' }),
    responses: { 200: { description: 'Transferred', schema: z.object({ previous_owner_id: z.number(), owner_id: z.number() }) } },
    handler: async ({ actor, body }) => ({ status: 200, body: await members.transferOwnership(actor, body.user_id) }),
  });
  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/account/leave',
    tag,
    auth: true,
    summary: 'Leave the workspace (not the owner): sign-in, tokens and API keys end; the PBX user stays for the admins',
    responses: { 204: { description: 'Left' } },
    handler: async ({ actor }) => {
      await members.leave(actor);
      return { status: 204 };
    },
  });
}
