import type { Models } from '../../src/db/models/index.js';
import { DomainError } from '../../src/errors.js';
import type { MessageService } from '../../src/messaging/message-service.js';
import { isE164 } from '../../src/messaging/sms-rules.js';
import type { SipRequest, SipRequestContext, SipResponseSpec } from '../message/types.js';
import { parseSipUri } from '../message/sip-uri.js';
import type { SipLogger } from '../sip-logger.js';
import type { Registrar } from '../registrar/registrar.js';

export interface PhoneMessageHandlerOptions {
  registrar: Registrar;
  messages: MessageService;
  models: Models;
  logger: SipLogger;
}

/** RFC 3261 §20.43 warn-text, so the phone's user reads why. */
function warning(text: string): [string, string] {
  return ['Warning', `399 switchboard "${text.replace(/["\\]/g, "'").slice(0, 200)}"`];
}

/** Why a send was refused, as the SIP status a phone shows. */
function refusal(err: DomainError): SipResponseSpec {
  const said = warning(err.message);
  switch (err.code) {
    case 'invalid_destination':
      return { status: 484, reason: 'Address Incomplete', headers: [said] };
    case 'empty_body':
    case 'body_too_long':
      return { status: 413, reason: 'Request Entity Too Large', headers: [said] };
    case 'sms_destination_refused':
      return { status: 404, reason: 'Not Found', headers: [said] };
    default:
      if (err.kind === 'upstream') return { status: 503, reason: 'Service Unavailable', headers: [said] };
      // sms_disabled, sms_number_missing, number_not_sms_capable, sms_provider_missing, provider_disabled, user_disabled
      return { status: 403, reason: 'Forbidden', headers: [said] };
  }
}

/**
 * A registered phone sending an SMS: MESSAGE (RFC 3428) to
 * sip:+E164@<account SIP domain>, digest-authenticated exactly as a
 * REGISTER is, sent through the SMS service with the same rules as POST
 * /v1/messages (sms_enabled, an SMS-capable outbound number). RFC 3428 §7:
 * 202 Accepted, since the text is handed on and not yet delivered.
 */
export function createPhoneMessageHandler(o: PhoneMessageHandlerOptions): (req: SipRequest, ctx: SipRequestContext) => Promise<SipResponseSpec | null> {
  return async (req, ctx) => {
    const target = parseSipUri(req.uri);
    if (!target?.user) return { status: 404, reason: 'Not Found', headers: [warning('MESSAGE goes to sip:+E164@domain')] };
    let to: string;
    try {
      to = decodeURIComponent(target.user);
    } catch {
      to = target.user;
    }
    // RFC 3428 §8: a UAS that does not understand the body's type answers 415 with Accept.
    const type = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'text/plain') return { status: 415, reason: 'Unsupported Media Type', headers: [['Accept', 'text/plain']] };
    const auth = await o.registrar.authenticateRequest(req, ctx, target.host.toLowerCase());
    if (!auth.ok) return auth.response;
    if (!isE164(to)) return refusal({ code: 'invalid_destination', kind: 'rule', message: `${to} is not an E.164 number` } as DomainError);
    const user = await o.models.User.findOne({ where: { id: auth.userId, account_id: auth.accountId } });
    if (!user) return { status: 403, reason: 'Forbidden', headers: [] };
    try {
      const { view, result } = await o.messages.sendAs(user, to, req.body, 'sip', {
        accountId: user.account_id,
        userId: user.id,
        role: user.role,
        kind: 'user',
        actorId: `user:${user.id}`,
        sourceIp: ctx.source.address,
      });
      o.logger.info({ event: 'sms_from_phone', userId: user.id, messageId: view.id, result }, 'SMS sent from a phone');
      return { status: 202, reason: 'Accepted', headers: [] };
    } catch (err) {
      if (err instanceof DomainError) return refusal(err);
      throw err;
    }
  };
}
