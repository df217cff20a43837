import express, { Router, type Request } from 'express';
import { z } from 'zod';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { IdParams, pageOf } from '../shared/schemas.js';
import type { Services } from '../services.js';
import { NotFoundError } from '../errors.js';
import { MessageListQuery, MessageSchema, SendMessageBody } from './message-schemas.js';
import type { SignedRequest } from './carrier-webhooks.js';

const tag = 'Messages';
const MessagePage = pageOf(MessageSchema, 'MessagePage');

export function registerMessageRoutes({ router, registry, services }: RouteContext): void {
  const messages = services.messages;

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/messages',
    tag,
    auth: true,
    summary: 'List SMS, newest first (a plain user sees their own; admins and viewers the whole account, unrouted ones too)',
    query: MessageListQuery,
    responses: { 200: { description: 'A page of messages', schema: MessagePage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await messages.list(actor, query) }),
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/messages/{id}',
    tag,
    auth: true,
    summary: 'Read one SMS with its per-device SIP deliveries',
    params: IdParams,
    responses: { 200: { description: 'The message', schema: MessageSchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await messages.get(actor, params.id) }),
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/messages',
    tag,
    auth: true,
    summary: "Send an SMS from the user's outbound SMS number",
    description:
      'The user (or an admin naming user_id) must have sms_enabled and an SMS-capable outbound_sms_number on a Twilio, Telnyx or Plivo provider. The message is queued first and sent at once: 201 when the carrier took it, 202 when it asked us to retry (429/5xx/no answer): the outbox sends it later, so do not send it again.',
    body: SendMessageBody,
    responses: {
      201: { description: 'Sent: the carrier took it', schema: MessageSchema },
      202: { description: 'Queued: the carrier is throttling or unavailable; retried by the outbox', schema: MessageSchema },
      422: { description: 'sms_disabled, sms_number_missing, number_not_sms_capable, sms_provider_missing, body_too_long, sms_destination_refused' },
      502: { description: 'provider_auth_failed or provider_unavailable: the carrier will not take it; the message is failed' },
    },
    handler: async ({ actor, body }) => {
      const { view, result } = await messages.send(actor, body);
      return { status: result === 'sent' ? 201 : 202, headers: { Location: `/v1/messages/${view.id}` }, body: view };
    },
  });
}

const PATHS = ['/v1/telephony/providers/:id/sms', '/v1/telephony/providers/:id/sms/status'];

/**
 * The carriers' webhooks. Mounted before the JSON parser and the
 * credential check: carriers authenticate by signing, and Telnyx signs the
 * exact bytes, so the body is read raw and parsed here.
 */
export function carrierWebhookRouter(services: Services): Router {
  const r = Router();
  const raw = express.raw({ type: () => true, limit: '128kb' });
  const base = services.config.publicUrl.replace(/\/+$/, '');
  r.post(PATHS, raw, async (req: Request, res) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new NotFoundError('telephony_provider', String(req.params.id));
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const form = (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')
      ? [...new URLSearchParams(body.toString('utf8'))]
      : [];
    const signed: SignedRequest = { url: base + req.originalUrl, headers: req.headers, raw: body, form };
    const answer = await services.messages.carrierWebhook(id, req.path.endsWith('/status') ? 'status' : 'message', signed);
    res.status(200).type(answer.contentType).send(answer.body);
  });
  return r;
}

/** The carrier webhooks in the OpenAPI document (they take the carrier's own form or JSON, so no schema validates them). */
export function registerCarrierWebhookDocs(registry: OpenAPIRegistry): void {
  for (const [path, what] of [
    ['/v1/telephony/providers/{id}/sms', 'Inbound SMS from the carrier (Twilio/Plivo form, Telnyx JSON event)'],
    ['/v1/telephony/providers/{id}/sms/status', 'Delivery status callbacks of sent SMS'],
  ] as const) {
    registry.registerPath({
      method: 'post',
      path,
      summary: what,
      description:
        'Called by the carrier, not by API clients: verified by X-Twilio-Signature (HMAC-SHA1 over the URL and sorted form), telnyx-signature-ed25519 with telnyx-timestamp (the public key in the provider settings) or X-Plivo-Signature-V3 with its nonce. The same carrier message id twice is handled once.',
      tags: ['Telephony providers'],
      security: [],
      request: { params: IdParams },
      responses: {
        200: { description: 'Accepted (TwiML/Plivo XML empty response, or JSON for Telnyx)' },
        403: {
          description: 'invalid_signature',
          content: { 'application/json': { schema: z.object({ error: z.object({ code: z.string(), message: z.string() }) }) } },
        },
        404: { description: 'telephony_provider_not_found' },
      },
    });
  }
}
