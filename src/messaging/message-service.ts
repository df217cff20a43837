import { Op, UniqueConstraintError, type Sequelize, type WhereOptions } from 'sequelize';
import type { Models, Message, TelephonyProvider, User } from '../db/models/index.js';
import type { Actor } from '../http/actor.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Logger } from '../logger.js';
import type { WebhookOutbox } from '../webhooks/webhook-outbox.js';
import type { CarrierFactory } from '../telephony/carriers/carrier-factory.js';
import { CarrierSendError } from '../telephony/carriers/carrier-http.js';
import { smsWebhookUrl } from '../telephony/provider-presenter.js';
import type { UsageRecorder, UsageType } from '../usage/usage-recorder.js';
import { ForbiddenError, NotFoundError, RuleError, UpstreamError } from '../errors.js';
import { isAdmin, requireReader } from '../shared/policy.js';
import { keysetPage, type Page } from '../shared/pagination.js';
import type { Clock } from '../shared/clock.js';
import { countSegments } from './sms-segments.js';
import { AUTO_REPLY_WINDOW_MS, autoReplyDecision, isE164, outboxDelayMs, routeInbound, type SmsUser } from './sms-rules.js';
import { parsePlivo, parseTelnyx, parseTwilio, verifyPlivo, verifyTelnyx, verifyTwilio, type CarrierEvent, type SignedRequest } from './carrier-webhooks.js';
import { presentMessage, type MessageView } from './message-presenter.js';
import type { MessageListInput } from './message-schemas.js';

/** One registered device of the recipient and what its SIP MESSAGE got. */
export interface DeviceOutcome {
  registrationId: number;
  contact: string;
  userAgent: string | null;
  status: 'delivered' | 'failed';
  sipStatus: number;
  reason: string | null;
}

export interface DeviceMessage {
  accountId: number;
  userId: number;
  /** The account's SIP domain: the MESSAGE's From is sip:<sender E.164>@domain. */
  domain: string;
  username: string;
  from: string;
  body: string;
  messageId: number;
}

/**
 * How an inbound SMS reaches the recipient's phones: implemented by the SIP
 * layer (a SIP MESSAGE to each live binding) and attached when the SIP
 * edge starts, since src/ never imports sip/. Without one (SIP_EDGE=none)
 * messages are kept and listed, and no device is tried.
 */
export interface DeviceMessenger {
  deliver(message: DeviceMessage): Promise<DeviceOutcome[]>;
}

export interface MessageServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
  secrets: SecretBox;
  carriers: CarrierFactory;
  outbox: WebhookOutbox;
  logger: Logger;
  publicUrl: string;
  settings: {
    maxBodyLength: number;
    telnyxToleranceSeconds: number;
    outbox: { batchSize: number; leaseSeconds: number; retryBaseMs: number; retryMaxMs: number; maxAttempts: number };
  };
  usage?: UsageRecorder | undefined;
  now?: Clock;
}

export type WebhookKind = 'message' | 'status';

/** What the carrier gets back: Twilio and Plivo read XML (an empty response sends nothing), Telnyx any 2xx. */
export interface CarrierAnswer {
  contentType: string;
  body: string;
}

export type SendOutcome = { view: MessageView; result: 'sent' | 'queued' };

const SMS_PROVIDERS = new Set(['twilio', 'telnyx', 'plivo']);

/**
 * SMS in and out through the account's carriers. Inbound: verified, kept
 * once per carrier message id, routed to one user, pushed to their phones
 * and to webhooks, answered by the auto-responder at most once per 30 s per
 * (our number, sender) across every node. Outbound: every send is first a
 * `queued` row (the outbox) and then tried; a 429/5xx leaves it queued for
 * the sender job, so nothing is lost and one node sends each.
 */
export class MessageService {
  private messenger: DeviceMessenger | null = null;
  private readonly now: Clock;
  private readonly background = new Set<Promise<unknown>>();

  constructor(private readonly d: MessageServiceDeps) {
    this.now = d.now ?? (() => new Date());
  }

  attachDeviceMessenger(m: DeviceMessenger): void {
    this.messenger = m;
  }

  /** The edge is stopping: later SMS are kept without trying devices. */
  detachDeviceMessenger(m: DeviceMessenger): void {
    if (this.messenger === m) this.messenger = null;
  }

  /** Resolves when the device deliveries and auto-responses started by earlier calls are done (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.background.size) await Promise.allSettled([...this.background]);
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((err: unknown) => this.d.logger.error({ err }, 'SMS background work failed'));
    this.background.add(q);
    void q.finally(() => this.background.delete(q));
  }

  // --- carrier webhooks ---

  /**
   * A carrier's POST to sms_webhook_url (kind message) or its /status
   * (kind status). A signature that does not verify is 403 and changes
   * nothing; an event we do not act on is still a 200, so the carrier does
   * not retry it for ever.
   */
  async carrierWebhook(providerId: number, kind: WebhookKind, req: SignedRequest): Promise<CarrierAnswer> {
    const p = await this.d.models.TelephonyProvider.findOne({ where: { id: providerId, deleted_at: null } });
    if (!p || !SMS_PROVIDERS.has(p.type)) throw new NotFoundError('telephony_provider', providerId);
    const creds = JSON.parse(this.d.secrets.decrypt(p.credentials_enc)) as Record<string, string>;
    const settings = JSON.parse(p.settings) as { public_key?: string };
    let ok: boolean;
    if (p.type === 'twilio') ok = verifyTwilio(req, creds.auth_token ?? '');
    else if (p.type === 'plivo') ok = verifyPlivo(req, creds.auth_token ?? '');
    else ok = verifyTelnyx(req, settings.public_key, this.now().getTime(), this.d.settings.telnyxToleranceSeconds);
    if (!ok) {
      this.d.logger.warn({ event: 'sms_webhook_signature_invalid', provider_id: p.id, type: p.type }, 'carrier webhook refused: signature does not verify');
      throw new ForbiddenError(
        'invalid_signature',
        p.type === 'telnyx' && !settings.public_key
          ? 'Set the Telnyx public key (settings.public_key) on the provider: webhooks cannot be verified without it'
          : `The ${p.type} signature does not verify for this URL and body`,
      );
    }
    let ev: CarrierEvent;
    if (p.type === 'telnyx') {
      let json: unknown;
      try {
        json = JSON.parse(req.raw.toString('utf8'));
      } catch {
        json = undefined;
      }
      ev = parseTelnyx(json);
    } else ev = p.type === 'twilio' ? parseTwilio(req.form, kind === 'status') : parsePlivo(req.form, kind === 'status');
    if (ev.kind === 'message') await this.receive(p, ev);
    else if (ev.kind === 'status') await this.statusUpdate(p, ev);
    else this.d.logger.info({ provider_id: p.id, reason: ev.reason }, 'carrier webhook ignored');
    return p.type === 'telnyx'
      ? { contentType: 'application/json', body: '{"received":true}' }
      : { contentType: 'text/xml', body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>' };
  }

  /** Stores the SMS once, routes it, then (after the commit) delivers it to the phones and runs the auto-responder. */
  async receive(p: TelephonyProvider, ev: Extract<CarrierEvent, { kind: 'message' }>): Promise<{ message: Message; duplicate: boolean }> {
    const m = this.d.models;
    const accountId = p.account_id;
    const ours = await m.PhoneNumber.findAll({ where: { account_id: accountId, e164: { [Op.in]: ev.recipients } }, attributes: ['e164'] });
    const ourNumber = ours[0]?.e164 ?? ev.recipients[0]!;
    const seg = countSegments(ev.body);
    let user: User | null = null;
    let created: Message;
    try {
      created = await this.d.sequelize.transaction(async (tx) => {
        const candidates = ours.length
          ? await m.User.findAll({ where: { account_id: accountId, outbound_sms_number: ourNumber }, order: [['id', 'ASC']], transaction: tx })
          : [];
        const route = routeInbound(candidates.map(smsUser));
        user = route.kind === 'user' ? candidates.find((u) => u.id === route.user.id)! : null;
        const row = await m.Message.create(
          {
            account_id: accountId,
            user_id: user?.id ?? null,
            direction: 'inbound',
            our_number: ourNumber,
            peer_number: ev.from,
            recipients: JSON.stringify(ev.recipients),
            body: ev.body,
            encoding: seg.encoding,
            segments: seg.segments,
            source: 'carrier',
            status: user ? 'received' : 'unrouted',
            unrouted_reason: route.kind === 'unrouted' ? (ours.length ? route.reason : 'unknown_number') : null,
            provider_id: p.id,
            provider_message_id: ev.providerMessageId,
          },
          { transaction: tx },
        );
        await this.d.outbox.enqueue(tx, accountId, 'sms.received', {
          message_id: row.id,
          user_id: row.user_id,
          from: ev.from,
          to: ourNumber,
          recipients: ev.recipients,
          body: ev.body,
          segments: seg.segments,
          routed: Boolean(user),
          unrouted_reason: row.unrouted_reason,
        });
        return row;
      });
    } catch (err) {
      // The carrier delivered this message before (a retried webhook): handled once, answered the same.
      if (err instanceof UniqueConstraintError) {
        const existing = await m.Message.findOne({ where: { provider_id: p.id, direction: 'inbound', provider_message_id: ev.providerMessageId } });
        if (existing) return { message: existing, duplicate: true };
      }
      throw err;
    }
    this.use(accountId, created.user_id, 'sms_inbound', 1);
    this.use(accountId, created.user_id, 'sms_segments', seg.segments);
    const routed = user as User | null;
    if (routed) {
      this.track(this.deliverToDevices(created, routed));
      this.track(this.autoRespond(created, routed, ev.recipients));
    }
    return { message: created, duplicate: false };
  }

  private async deliverToDevices(msg: Message, user: User): Promise<void> {
    const messenger = this.messenger;
    if (!messenger) return;
    const account = await this.d.models.Account.findByPk(msg.account_id, { attributes: ['sip_domain'] });
    if (!account) return;
    const outcomes = await messenger.deliver({
      accountId: msg.account_id,
      userId: user.id,
      domain: account.sip_domain,
      username: user.username,
      from: msg.peer_number,
      body: msg.body,
      messageId: msg.id,
    });
    if (!outcomes.length) return;
    const at = this.now();
    await this.d.models.MessageDelivery.bulkCreate(
      outcomes.map((o) => ({
        message_id: msg.id,
        registration_id: o.registrationId,
        contact: o.contact,
        user_agent: o.userAgent?.slice(0, 255) ?? null,
        status: o.status,
        sip_status: o.sipStatus,
        reason: o.reason?.slice(0, 255) ?? null,
        created_at: at,
      })),
    );
  }

  private async autoRespond(msg: Message, user: User, recipients: string[]): Promise<void> {
    const internal = (await this.d.models.PhoneNumber.count({ where: { account_id: msg.account_id, e164: msg.peer_number } })) > 0;
    const decision = autoReplyDecision({ user: smsUser(user), recipients, senderIsAccountNumber: internal });
    if (!decision.reply) {
      this.d.logger.debug({ message_id: msg.id, reason: decision.reason }, 'no auto-response');
      return;
    }
    if (!(await this.claimAutoReply(msg.our_number, msg.peer_number))) {
      this.d.logger.info({ message_id: msg.id, our_number: msg.our_number }, 'auto-response skipped: one was sent to this number in the last 30 s');
      return;
    }
    const number = await this.d.models.PhoneNumber.findOne({ where: { account_id: msg.account_id, e164: msg.our_number } });
    const row = await this.queue({
      accountId: msg.account_id,
      userId: user.id,
      from: msg.our_number,
      to: msg.peer_number,
      body: decision.text,
      source: 'auto',
      providerId: number?.provider_id ?? msg.provider_id,
      inReplyTo: msg.id,
    });
    await this.attempt(row.id, true);
  }

  /**
   * The 30-second rule, atomic across nodes: the (our number, sender) row is
   * taken by a conditional UPDATE when its last claim is older than the
   * window, or created by an INSERT the primary key admits once. Of two
   * nodes racing, exactly one changes the row or inserts it.
   */
  async claimAutoReply(ourNumber: string, peerNumber: string): Promise<boolean> {
    const now = this.now();
    const cutoff = new Date(now.getTime() - AUTO_REPLY_WINDOW_MS);
    const C = this.d.models.SmsReplyClaim;
    const [changed] = await C.update({ claimed_at: now }, { where: { our_number: ourNumber, peer_number: peerNumber, claimed_at: { [Op.lte]: cutoff } } });
    if (changed === 1) return true;
    try {
      await C.create({ our_number: ourNumber, peer_number: peerNumber, claimed_at: now });
      return true;
    } catch (err) {
      if (err instanceof UniqueConstraintError) return false;
      throw err;
    }
  }

  private async statusUpdate(p: TelephonyProvider, ev: Extract<CarrierEvent, { kind: 'status' }>): Promise<void> {
    const msg = await this.d.models.Message.findOne({ where: { provider_id: p.id, direction: 'outbound', provider_message_id: ev.providerMessageId } });
    if (!msg) {
      this.d.logger.info({ provider_id: p.id, provider_message_id: ev.providerMessageId }, 'status callback for an unknown message');
      return;
    }
    // Callbacks may arrive out of order: a final state is never overwritten by "sent".
    if (ev.status === 'sent' || msg.status === 'delivered' || msg.status === 'failed') return;
    const at = this.now();
    await msg.update(
      ev.status === 'delivered'
        ? { status: 'delivered', delivered_at: at }
        : {
            status: 'failed',
            error_code: 'carrier_undelivered',
            error_message: `The carrier could not deliver it${ev.errorCode ? ` (error ${ev.errorCode})` : ''}`,
          },
    );
  }

  // --- outbound ---

  /**
   * POST /v1/messages and MESSAGE from a phone: from the user's outbound SMS
   * number. The row is committed as `queued` before the carrier is asked, so
   * a crash or a 429/5xx leaves it for the sender job. Answers `sent`, or
   * `queued` when the carrier asked us to come back later; a refused
   * destination is 422, a carrier that will not take it for another reason 502.
   */
  async send(actor: Actor, input: { to: string; body: string; user_id?: number | undefined }): Promise<SendOutcome> {
    requireReader(actor);
    let userId = actor.userId;
    if (input.user_id !== undefined && input.user_id !== actor.userId) {
      if (!isAdmin(actor)) throw new ForbiddenError('admin_required', 'Only the owner or an admin can send on behalf of another user');
      userId = input.user_id;
    }
    if (userId === null) throw new RuleError('user_required', 'This credential belongs to no user: name the sender with user_id', 'user_id');
    const user = await this.d.models.User.findOne({ where: { id: userId, account_id: actor.accountId } });
    if (!user) throw new NotFoundError('user', userId);
    return this.sendAs(user, input.to, input.body, 'api', actor);
  }

  async sendAs(user: User, to: string, body: string, source: 'api' | 'sip', actor: Actor | null): Promise<SendOutcome> {
    if (!isE164(to)) throw new RuleError('invalid_destination', `${to} is not an E.164 number such as +14155550123`, 'to');
    if (!body.length) throw new RuleError('empty_body', 'An SMS needs a text', 'body');
    if (body.length > this.d.settings.maxBodyLength) throw new RuleError('body_too_long', `At most ${this.d.settings.maxBodyLength} characters`, 'body');
    if (user.status !== 'active') throw new RuleError('user_disabled', `User ${user.id} is disabled`, 'user_id');
    if (!user.sms_enabled) throw new RuleError('sms_disabled', `SMS is not enabled for user ${user.id} (sms_enabled)`, 'user_id');
    if (!user.outbound_sms_number) throw new RuleError('sms_number_missing', `User ${user.id} has no outbound_sms_number`, 'user_id');
    const number = await this.d.models.PhoneNumber.findOne({ where: { account_id: user.account_id, e164: user.outbound_sms_number } });
    if (!number || !number.sms)
      throw new RuleError('number_not_sms_capable', `${user.outbound_sms_number} is not an SMS-capable number of this account`, 'user_id');
    const provider = number.provider_id ? await this.d.models.TelephonyProvider.findOne({ where: { id: number.provider_id, deleted_at: null } }) : null;
    if (!provider || !SMS_PROVIDERS.has(provider.type))
      throw new RuleError(
        'sms_provider_missing',
        `${number.e164} is not on a carrier that sends SMS (Twilio, Telnyx or Plivo): connect one under /v1/telephony/providers`,
        'user_id',
      );
    if (!provider.enabled) throw new RuleError('provider_disabled', `Provider ${provider.id} is disabled`, 'user_id');
    const row = await this.queue({
      accountId: user.account_id,
      userId: user.id,
      from: number.e164,
      to,
      body,
      source,
      providerId: provider.id,
      inReplyTo: null,
      actor,
    });
    const after = await this.attempt(row.id, true);
    if (after.status === 'failed') {
      const said = after.error_message ?? 'the carrier did not take the message';
      if (after.error_code === 'sms_destination_refused') throw new RuleError('sms_destination_refused', said, 'to', { message_id: after.id });
      throw new UpstreamError(after.error_code ?? 'provider_unavailable', said, undefined, { message_id: after.id });
    }
    return { view: presentMessage(after), result: after.status === 'queued' ? 'queued' : 'sent' };
  }

  private async queue(q: {
    accountId: number;
    userId: number;
    from: string;
    to: string;
    body: string;
    source: 'api' | 'sip' | 'auto';
    providerId: number | null;
    inReplyTo: number | null;
    actor?: Actor | null;
  }): Promise<Message> {
    const seg = countSegments(q.body);
    const now = this.now();
    return this.d.sequelize.transaction(async (tx) => {
      const row = await this.d.models.Message.create(
        {
          account_id: q.accountId,
          user_id: q.userId,
          direction: 'outbound',
          our_number: q.from,
          peer_number: q.to,
          recipients: null,
          body: q.body,
          encoding: seg.encoding,
          segments: seg.segments,
          source: q.source,
          auto: q.source === 'auto',
          in_reply_to: q.inReplyTo,
          status: 'queued',
          provider_id: q.providerId,
          next_attempt_at: now,
          // Held by the caller, which tries it at once; the sender job takes it only if that caller dies.
          lease_until: new Date(now.getTime() + this.d.settings.outbox.leaseSeconds * 1000),
        },
        { transaction: tx },
      );
      if (q.actor)
        await this.d.audit.record(tx, q.actor, {
          action: 'message.sent',
          targetType: 'message',
          targetId: row.id,
          // The text stays out of the audit log: the message list holds it for those allowed to read it.
          after: { user_id: q.userId, from: q.from, to: q.to, segments: seg.segments, source: q.source },
        });
      return row;
    });
  }

  /** One send to the carrier of a claimed outbox row; records what happened and returns the row. */
  private async attempt(id: number, claimed: boolean): Promise<Message> {
    const m = this.d.models;
    const msg = await m.Message.findByPk(id);
    if (!msg) throw new NotFoundError('message', id);
    if (!claimed || msg.status !== 'queued') return msg;
    const settings = this.d.settings.outbox;
    const provider = msg.provider_id ? await m.TelephonyProvider.findOne({ where: { id: msg.provider_id, deleted_at: null } }) : null;
    const carrier = provider ? this.d.carriers(provider.type, JSON.parse(this.d.secrets.decrypt(provider.credentials_enc)) as Record<string, string>) : null;
    const attempts = msg.attempts + 1;
    if (!provider || !carrier || !provider.enabled) {
      await msg.update({
        status: 'failed',
        attempts,
        lease_until: null,
        error_code: 'sms_provider_missing',
        error_message: 'The number has no enabled carrier',
      });
      return msg;
    }
    try {
      const { providerMessageId } = await carrier.sendSms({
        from: msg.our_number,
        to: msg.peer_number,
        body: msg.body,
        statusCallbackUrl: `${smsWebhookUrl(this.d.publicUrl, provider)}/status`,
      });
      await msg.update({ status: 'sent', attempts, provider_message_id: providerMessageId, sent_at: this.now(), lease_until: null, next_attempt_at: null });
      this.use(msg.account_id, msg.user_id, msg.auto ? 'sms_auto_responses' : 'sms_outbound', 1);
      this.use(msg.account_id, msg.user_id, 'sms_segments', msg.segments);
    } catch (err) {
      if (!(err instanceof CarrierSendError)) throw err;
      if (err.kind === 'retry' && attempts < settings.maxAttempts) {
        const delay = outboxDelayMs(attempts, { baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs, retryAfterMs: err.retryAfterMs });
        await msg.update({
          attempts,
          lease_until: null,
          next_attempt_at: new Date(this.now().getTime() + delay),
          error_code: 'provider_unavailable',
          error_message: err.message.slice(0, 500),
        });
        this.d.logger.warn(
          { message_id: msg.id, attempts, retry_in_ms: delay, provider_status: err.providerStatus },
          'SMS send deferred: the carrier asked us to retry',
        );
      } else {
        const code = err.kind === 'refused' ? 'sms_destination_refused' : err.kind === 'auth' ? 'provider_auth_failed' : 'provider_unavailable';
        await msg.update({ status: 'failed', attempts, lease_until: null, next_attempt_at: null, error_code: code, error_message: err.message.slice(0, 500) });
        this.d.logger.warn({ message_id: msg.id, attempts, code, provider_status: err.providerStatus }, 'SMS send failed');
      }
    }
    return msg;
  }

  /**
   * The sender job: claims due `queued` rows one by one with a conditional
   * UPDATE of the lease (one node wins each) and tries them. Returns how
   * many it tried.
   */
  async runOutbox(): Promise<number> {
    const m = this.d.models;
    const s = this.d.settings.outbox;
    const now = this.now();
    const due = await m.Message.findAll({
      where: {
        status: 'queued',
        next_attempt_at: { [Op.lte]: now },
        [Op.or]: [{ lease_until: null }, { lease_until: { [Op.lt]: now } }],
      },
      attributes: ['id'],
      order: [['next_attempt_at', 'ASC']],
      limit: s.batchSize,
    });
    let tried = 0;
    for (const row of due) {
      const lease = new Date(this.now().getTime() + s.leaseSeconds * 1000);
      const [claimed] = await m.Message.update(
        { lease_until: lease },
        { where: { id: row.id, status: 'queued', [Op.or]: [{ lease_until: null }, { lease_until: { [Op.lt]: this.now() } }] } },
      );
      if (claimed !== 1) continue;
      tried += 1;
      await this.attempt(row.id, true);
    }
    return tried;
  }

  // --- reads ---

  async list(actor: Actor, q: MessageListInput): Promise<Page<MessageView>> {
    requireReader(actor);
    const where: Record<string | symbol, unknown> = { account_id: actor.accountId };
    if (!isAdmin(actor) && actor.role !== 'viewer') {
      // A plain user reads their own messages only.
      if (q.user_id !== undefined && q.user_id !== actor.userId) throw new ForbiddenError('not_own_messages', 'Users can list only their own messages');
      where.user_id = actor.userId ?? -1;
    } else if (q.user_id !== undefined) where.user_id = q.user_id;
    if (q.direction) where.direction = q.direction;
    if (q.number) where[Op.or] = [{ our_number: q.number }, { peer_number: q.number }];
    if (q.since) where.created_at = { [Op.gte]: new Date(q.since) };
    const page = await keysetPage(this.d.models.Message, where as WhereOptions, { sort: 'id', limit: q.limit, cursor: q.cursor, descending: true });
    return { data: page.data.map((r) => presentMessage(r)), next_cursor: page.next_cursor };
  }

  async get(actor: Actor, id: number): Promise<MessageView> {
    requireReader(actor);
    const msg = await this.d.models.Message.findOne({ where: { id, account_id: actor.accountId } });
    if (!msg || (!isAdmin(actor) && actor.role !== 'viewer' && msg.user_id !== actor.userId)) throw new NotFoundError('message', id);
    const deliveries = await this.d.models.MessageDelivery.findAll({ where: { message_id: msg.id }, order: [['id', 'ASC']] });
    return presentMessage(msg, deliveries);
  }

  private use(accountId: number, userId: number | null, type: UsageType, amount: number): void {
    this.d.usage?.record({ accountId, userId, type, amount, at: this.now() });
  }
}

function smsUser(u: User): SmsUser {
  return {
    id: u.id,
    status: u.status,
    role: u.role,
    sms_enabled: Boolean(u.sms_enabled),
    sms_auto_responder_enabled: Boolean(u.sms_auto_responder_enabled),
    sms_auto_response_text: u.sms_auto_response_text,
    created_at: u.created_at,
  };
}
