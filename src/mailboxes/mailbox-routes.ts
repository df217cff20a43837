import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { IdParams, pageOf } from '../shared/schemas.js';
import { MessageCountsBody } from './mailbox-schemas.js';
import { CreateMailboxBody, DelegationParams, MailboxListQuery, MailboxSchema, UpdateMailboxBody } from './mailbox-schemas.js';

const tag = 'Mailboxes';
const MailboxPage = pageOf(MailboxSchema, 'MailboxPage');

export function registerMailboxRoutes({ router, registry, services }: RouteContext): void {
  const mailboxes = services.mailboxes;

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/mailboxes',
    tag,
    auth: true,
    summary: 'List mailboxes (cursor-paginated, filterable)',
    query: MailboxListQuery,
    responses: { 200: { description: 'A page of mailboxes', schema: MailboxPage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await mailboxes.list(actor, query) }),
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/mailboxes',
    tag,
    auth: true,
    summary: 'Create a mailbox',
    body: CreateMailboxBody,
    responses: {
      201: { description: 'Created', schema: MailboxSchema },
      409: { description: 'mailbox_number_taken' },
      422: { description: 'unknown_user in owner_user_id or delegates' },
    },
    handler: async ({ actor, body }) => {
      const view = await mailboxes.create(actor, body);
      return { status: 201, headers: { Location: `/v1/mailboxes/${view.id}` }, body: view };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/mailboxes/{id}',
    tag,
    auth: true,
    summary: 'Read a mailbox',
    params: IdParams,
    responses: { 200: { description: 'The mailbox', schema: MailboxSchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await mailboxes.get(actor, params.id) }),
  });

  defineRoute(router, registry, {
    method: 'patch',
    path: '/v1/mailboxes/{id}',
    tag,
    auth: true,
    summary: 'Change a mailbox (pin: set or null to remove)',
    params: IdParams,
    body: UpdateMailboxBody,
    responses: { 200: { description: 'The updated mailbox', schema: MailboxSchema }, 409: { description: 'mailbox_number_taken' } },
    handler: async ({ actor, params, body }) => ({ status: 200, body: await mailboxes.update(actor, params.id, body) }),
  });

  defineRoute(router, registry, {
    method: 'put',
    path: '/v1/mailboxes/{id}/message-counts',
    tag,
    auth: true,
    summary: 'Set the message counts (from the voicemail system; idempotent; drives MWI NOTIFYs)',
    description:
      'Admins or the workspace key. Send `sequence` (increasing) or `If-Match` with the ETag of the last answer so an older update never overwrites a newer one. A change is a `mailbox.message_counts_changed` webhook event and a message-summary NOTIFY to the devices of the users whose primary mailbox this is.',
    params: IdParams,
    body: MessageCountsBody,
    responses: {
      200: { description: 'The mailbox with its counts; ETag of the counts', schema: MailboxSchema },
      409: { description: 'stale_sequence (older than the last applied update) or sequence_reused' },
      412: { description: 'etag_mismatch: If-Match is not the current counts ETag' },
      422: { description: 'urgent_exceeds_total' },
    },
    handler: async ({ actor, params, body, req }) => {
      const r = await services.messageCounts.set(actor, params.id, body, req.get('if-match') ?? undefined);
      return { status: 200, headers: { ETag: r.etag }, body: r.view };
    },
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/mailboxes/{id}',
    tag,
    auth: true,
    summary: "Delete a mailbox (409 in_use while it is a user's primary mailbox or delegated)",
    params: IdParams,
    responses: { 204: { description: 'Deleted' }, 409: { description: 'in_use, with referenced_by.users (primary) and referenced_by.delegated_users' } },
    handler: async ({ actor, params }) => {
      await mailboxes.remove(actor, params.id);
      return { status: 204 };
    },
  });

  defineRoute(router, registry, {
    method: 'put',
    path: '/v1/users/{id}/mailbox-delegations/{mailboxId}',
    tag,
    auth: true,
    summary: 'Delegate a mailbox to a user (idempotent)',
    params: DelegationParams,
    responses: { 204: { description: 'The mailbox is delegated to the user' } },
    handler: async ({ actor, params }) => {
      await mailboxes.delegate(actor, params.id, params.mailboxId);
      return { status: 204 };
    },
  });

  defineRoute(router, registry, {
    method: 'delete',
    path: '/v1/users/{id}/mailbox-delegations/{mailboxId}',
    tag,
    auth: true,
    summary: 'Stop delegating a mailbox to a user',
    params: DelegationParams,
    responses: { 204: { description: 'Removed' } },
    handler: async ({ actor, params }) => {
      await mailboxes.undelegate(actor, params.id, params.mailboxId);
      return { status: 204 };
    },
  });
}
