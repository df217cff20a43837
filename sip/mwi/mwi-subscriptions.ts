import crypto from 'node:crypto';
import type { SipRequest, SipRequestContext, SipResponseSpec } from '../message/types.js';
import { decodeUserPart, parseSipUri } from '../message/sip-uri.js';
import type { DeviceRequest, DeviceRequestPort, DeviceResponse } from '../registrar/device-request-port.js';
import type { SipLogger } from '../sip-logger.js';
import { MESSAGE_SUMMARY_TYPE, messageSummaryBody } from './message-summary.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import {
  MESSAGE_SUMMARY_EVENT,
  acceptsMessageSummary,
  eventId,
  eventPackage,
  matchesDialog,
  notifyAnswerEndsSubscription,
  notifyEventHeader,
  secondsLeft,
  subscriptionExpires,
  subscriptionStateText,
  type ExpiresBounds,
  type SubscriptionState,
} from './subscription-rules.js';
import type { MwiSubscriptionStore, StoredSubscription, SubscriberCounts, SubscriberOrigin } from './subscription-store.js';

/** Digest authentication of a SUBSCRIBE exactly as of a REGISTER (the registrar's challenge, nonces, failure counters, bans). */
export type SubscribeAuthenticator = (
  req: SipRequest,
  ctx: SipRequestContext,
  realm: string,
) => Promise<{ ok: true; userId: number; accountId: number; username: string; extension: string } | { ok: false; response: SipResponseSpec | null }>;

export interface MwiSubscriptionsOptions {
  store: MwiSubscriptionStore;
  authenticate: SubscribeAuthenticator;
  port: DeviceRequestPort;
  nodeId: string;
  bounds: ExpiresBounds;
  concurrency: number;
  logger: SipLogger;
  /** How often subscriptions past their expiry are ended; default 1 s. */
  sweepMs?: number;
  now?: () => number;
}

/** A NOTIFY's dialog: a stored subscription, or the one-off dialog of a fetch (SUBSCRIBE with Expires: 0). */
type NotifyDialog = Pick<
  StoredSubscription,
  'aor' | 'callId' | 'localTag' | 'remoteTag' | 'remoteUri' | 'contactUri' | 'transport' | 'nodeId' | 'eventId' | 'routeSet'
> &
  Pick<SubscriberOrigin, 'sourceAddress' | 'sourcePort' | 'connectionId'>;

const reply = (status: number, reason: string, headers: Array<[string, string]> = [], toTag?: string): SipResponseSpec => ({
  status,
  reason,
  headers,
  ...(toTag ? { toTag } : {}),
});

/**
 * SUBSCRIBE to `message-summary` (RFC 6665 with RFC 3842): the notifier
 * side of each dialog, kept in mwi_subscriptions so another process on the
 * same database carries on with it after a restart.
 *
 * The edge answers with the spec returned here; the NOTIFYs go out after
 * it, through the edge's DeviceRequestPort (a non-INVITE client
 * transaction each). A subscription is tied to the subscriber's binding
 * when one matches, so that binding gets these in-dialog NOTIFYs and not
 * the unsolicited ones as well (MwiNotifier skips bindings with a live
 * subscription).
 */
export class MwiSubscriptions {
  private readonly now: () => number;
  private readonly limit: ConcurrencyLimit;
  /** NOTIFYs of one dialog go out one after the other: CSeq order is send order, and a 481 is seen before the next. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly inflight = new Set<Promise<unknown>>();
  /**
   * Stream connections of this process that carried a subscription. A
   * restart drops every connection-bound row (start()), so this process
   * made every one there is; a connection that never subscribed (most of
   * them) closes without a query.
   */
  private readonly subscribedConnections = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: MwiSubscriptionsOptions) {
    this.now = o.now ?? Date.now;
    this.limit = new ConcurrencyLimit(o.concurrency);
  }

  /** Drops what a previous run of this node held on stream connections (they are gone), then ends expired subscriptions on an interval. */
  async start(): Promise<void> {
    const n = await this.o.store.removeConnection(this.o.nodeId, null);
    if (n) this.o.logger.info({ removed: n, nodeId: this.o.nodeId }, 'MWI subscriptions of connections from a previous run removed');
    this.timer = setInterval(() => void this.sweep(), this.o.sweepMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([this.sweeping, ...this.inflight]);
  }

  /** Every NOTIFY queued so far has been answered (or given up on). */
  async settled(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  readonly handle = async (req: SipRequest, ctx: SipRequestContext): Promise<SipResponseSpec | null> => {
    // RFC 6665 §4.2.1.1: an event package we do not know → 489 listing the ones we do (§8.2.2).
    if (eventPackage(req.header('event')) !== MESSAGE_SUMMARY_EVENT) return reply(489, 'Bad Event', [['Allow-Events', MESSAGE_SUMMARY_EVENT]]);
    const to = parseSipUri(req.to.uri);
    if (!to?.user) return reply(400, 'Bad Request (To must be a sip: address with a user part)');
    const realm = to.host.toLowerCase();
    const auth = await this.o.authenticate(req, ctx, realm);
    if (!auth.ok) return auth.response;
    const expires = subscriptionExpires(req.header('expires'), this.o.bounds);
    if (expires.kind === 'malformed') return reply(400, 'Bad Request (malformed Expires)');
    const toTag = req.to.params['tag'];
    if (toTag !== undefined) return this.inDialog(req, ctx, auth.userId, expires, toTag ?? '');

    // Only the user's own message summary: the resource (Request-URI) and the To AOR both name the authenticated user.
    const own = (user: string | undefined, host: string | undefined) =>
      user !== undefined && host?.toLowerCase() === realm && [auth.username, auth.extension].includes(decodeUserPart(user));
    const target = parseSipUri(req.uri);
    if (!own(to.user, to.host) || !own(target?.user, target?.host)) {
      this.o.logger.warn({ sourceIp: ctx.source.address, user: auth.username, aor: req.to.uri, uri: req.uri }, 'SIP SUBSCRIBE for the AOR of another user');
      return reply(403, 'Forbidden');
    }
    if (!acceptsMessageSummary(req.headerValues('accept'))) return reply(406, 'Not Acceptable', [['Accept', MESSAGE_SUMMARY_TYPE]]);
    const fromTag = req.from.params['tag'];
    if (!fromTag) return reply(400, 'Bad Request (From tag missing)');
    const contacts = req.contacts();
    // RFC 6665 §4.1.2: a SUBSCRIBE carries exactly one Contact, the target of our NOTIFYs.
    if (contacts === '*' || contacts.length !== 1) return reply(400, 'Bad Request (SUBSCRIBE needs one Contact)');
    const contactUri = contacts[0]!.uri;
    if (req.callId.length > 255 || fromTag.length > 255 || contactUri.length > 1024 || req.from.uri.length > 1024 || req.to.uri.length > 255)
      return reply(400, 'Bad Request (Call-ID, tag or URI too long)');
    if (expires.kind === 'too_brief') return reply(423, 'Interval Too Brief', [['Min-Expires', String(expires.minExpires)]]);

    const routeSet = req.headerValues('record-route').map((r) => r.trim());
    const id = eventId(req.header('event'));
    if ((id?.length ?? 0) > 255 || routeSet.join('\n').length > 4096) return reply(400, 'Bad Request (Event id or Record-Route too long)');
    const localTag = crypto.randomBytes(8).toString('hex');
    const origin = this.origin(ctx);
    const dialog: NotifyDialog = {
      eventId: id,
      routeSet,
      aor: req.to.uri,
      callId: req.callId,
      localTag,
      remoteTag: fromTag,
      remoteUri: req.from.uri,
      contactUri,
      ...origin,
    };
    if (expires.kind === 'end') {
      // RFC 6665 §4.4.3: Expires 0 outside a dialog is a fetch (a poll) — the state once, in a NOTIFY that ends it.
      this.after(async () => void (await this.sendOnce(dialog, 1, { state: 'terminated', reason: 'timeout' }, auth.userId)));
      return reply(200, 'OK', [['Expires', '0'], this.contact(ctx)], localTag);
    }
    const nowMs = this.now();
    const registrationId = await this.o.store.bindingOf(auth.userId, origin, contactUri, new Date(nowMs));
    if (origin.connectionId) this.subscribedConnections.add(origin.connectionId);
    const sub = await this.o.store.create(
      { ...dialog, accountId: auth.accountId, userId: auth.userId, registrationId, expiresAt: new Date(nowMs + expires.expires * 1000) },
      new Date(nowMs),
    );
    this.o.logger.debug({ subscriptionId: sub.id, userId: auth.userId, bindingId: registrationId, expires: expires.expires }, 'MWI subscription created');
    // RFC 6665 §4.2.2: on accepting or refreshing a subscription the notifier MUST send a NOTIFY with the current state at once.
    this.after(() => this.notify(sub));
    return reply(200, 'OK', [['Expires', String(expires.expires)], this.contact(ctx)], localTag);
  };

  private async inDialog(
    req: SipRequest,
    ctx: SipRequestContext,
    userId: number,
    expires: Exclude<ReturnType<typeof subscriptionExpires>, { kind: 'malformed' }>,
    toTag: string,
  ): Promise<SipResponseSpec> {
    const sub = await this.o.store.findDialog(req.callId, toTag);
    // RFC 6665 §4.1.2.2 / RFC 3261 §12.2.2: no such dialog → 481.
    // One subscription per dialog here: another Event id in it would be a second one (RFC 6665 §4.5.2), which we do not keep.
    if (
      !sub ||
      !matchesDialog(sub, { callId: req.callId, toTag, fromTag: req.from.params['tag'] ?? undefined }) ||
      eventId(req.header('event')) !== sub.eventId
    )
      return reply(481, 'Subscription Does Not Exist');
    if (sub.userId !== userId) return reply(403, 'Forbidden');
    if (expires.kind === 'too_brief') return reply(423, 'Interval Too Brief', [['Min-Expires', String(expires.minExpires)]]);
    if (expires.kind === 'end') {
      // RFC 6665 §4.2.1.4: an unsubscribe is answered, then a final NOTIFY says the subscription is over.
      this.after(() => this.end(sub, 'timeout'));
      return reply(200, 'OK', [['Expires', '0'], this.contact(ctx)]);
    }
    const contacts = req.contacts();
    const contactUri = contacts !== '*' && contacts.length === 1 ? contacts[0]!.uri : sub.contactUri;
    const origin = this.origin(ctx);
    const nowMs = this.now();
    const registrationId = sub.registrationId ?? (await this.o.store.bindingOf(userId, origin, contactUri, new Date(nowMs)));
    const refreshed: StoredSubscription = { ...sub, ...origin, contactUri, registrationId, expiresAt: new Date(nowMs + expires.expires * 1000) };
    if (origin.connectionId) this.subscribedConnections.add(origin.connectionId);
    await this.o.store.refresh(sub.id, refreshed);
    this.after(() => this.notify(refreshed));
    return reply(200, 'OK', [['Expires', String(expires.expires)], this.contact(ctx)]);
  }

  /** Counts changed for these mailboxes: a NOTIFY in each live subscription of their primary users that this node holds. */
  async notifyMailboxes(mailboxIds: number[]): Promise<void> {
    if (this.stopped || !mailboxIds.length) return;
    const subs = await this.o.store.forMailboxes(mailboxIds, this.o.nodeId, new Date(this.now()));
    await Promise.all(subs.map((s) => this.notify(s)));
  }

  /** Ends the subscriptions past their expiry with a final NOTIFY (RFC 6665 §4.2.2: terminated;reason=timeout). */
  sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return this.sweeping ?? Promise.resolve();
    this.sweeping = (async () => {
      const due = await this.o.store.expired(this.o.nodeId, new Date(this.now()), 500);
      await Promise.all(due.map((s) => this.end(s, 'timeout')));
    })()
      .catch((err: unknown) => this.o.logger.error({ err }, 'MWI subscription sweep failed'))
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }

  /** A stream connection closed: its subscriptions go with it (no NOTIFY can reach them any more). */
  async connectionClosed(connectionId: string): Promise<number> {
    if (!this.subscribedConnections.delete(connectionId)) return 0;
    return this.o.store.removeConnection(this.o.nodeId, connectionId);
  }

  // --- NOTIFYs -----------------------------------------------------------------

  /** Runs once the edge has had the chance to send the answer: the NOTIFY must not overtake the 200 that creates the dialog. */
  private after(fn: () => Promise<void>): void {
    setImmediate(() => void this.track(fn()));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** One after the other within a dialog. */
  private serial(key: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn).catch((err: unknown) => this.o.logger.error({ err }, 'MWI subscription NOTIFY failed'));
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return this.track(next);
  }

  private notify(sub: StoredSubscription): Promise<void> {
    return this.serial(`${sub.callId}\n${sub.localTag}`, async () => {
      const cseq = await this.o.store.nextCseq(sub.id);
      if (cseq === null) return; // ended meanwhile (unsubscribed, binding gone)
      const left = secondsLeft(sub.expiresAt, this.now());
      const res = await this.sendOnce(sub, cseq, { state: 'active', expires: left }, sub.userId);
      // A NOTIFY cut off by our own shutdown (the edge closed its sockets) says nothing about the subscriber.
      if (notifyAnswerEndsSubscription(res.status, res.origin) && !this.stopped) {
        await this.o.store.remove(sub.id);
        this.o.logger.info(
          { subscriptionId: sub.id, userId: sub.userId, status: res.status, origin: res.origin },
          'MWI subscription ended by the NOTIFY answer',
        );
      }
    });
  }

  /** Unsubscribe or expiry: the row goes first (no change NOTIFY may follow), then the final NOTIFY. */
  private end(sub: StoredSubscription, reason: 'timeout'): Promise<void> {
    return this.serial(`${sub.callId}\n${sub.localTag}`, async () => {
      const cseq = await this.o.store.nextCseq(sub.id);
      if (cseq === null || !(await this.o.store.remove(sub.id))) return;
      await this.sendOnce(sub, cseq, { state: 'terminated', reason }, sub.userId);
    });
  }

  private async sendOnce(d: NotifyDialog, cseq: number, state: SubscriptionState, userId: number): Promise<DeviceResponse> {
    const counts = await this.o.store.counts(userId);
    return this.limit.run(() => this.o.port.send(this.notifyRequest(d, cseq, state, counts)));
  }

  /**
   * RFC 3261 §12.2.1.1 in our side of the dialog: Request-URI the
   * subscriber's Contact, From our URI (its To) with our tag, To its From
   * with its tag, the dialog's Call-ID, our own increasing CSeq.
   */
  private notifyRequest(d: NotifyDialog, cseq: number, state: SubscriptionState, counts: SubscriberCounts): DeviceRequest {
    return {
      method: 'NOTIFY',
      uri: d.contactUri,
      target: {
        contactUri: d.contactUri,
        transport: d.transport,
        source: { address: d.sourceAddress, port: d.sourcePort },
        nodeId: d.nodeId,
        ...(d.connectionId ? { connectionId: d.connectionId } : {}),
      },
      headers: [
        // RFC 3261 §12.2.1.1: the route set as Route, in order (loose routing: the Request-URI stays the remote target).
        ...d.routeSet.map((r) => `Route: ${r}`),
        `From: <${d.aor}>;tag=${d.localTag}`,
        `To: <${d.remoteUri}>;tag=${d.remoteTag}`,
        `Call-ID: ${d.callId}`,
        `CSeq: ${cseq} NOTIFY`,
        `Contact: ${this.ourContact(d.transport)}`,
        `Event: ${notifyEventHeader(d.eventId)}`,
        `Subscription-State: ${subscriptionStateText(state)}`,
        `Content-Type: ${MESSAGE_SUMMARY_TYPE}`,
      ],
      body: messageSummaryBody({ account: d.aor, ...counts }),
    };
  }

  private origin(ctx: SipRequestContext): SubscriberOrigin {
    return {
      transport: ctx.transport,
      sourceAddress: ctx.source.address,
      sourcePort: ctx.source.port,
      connectionId: ctx.connectionId ?? null,
      nodeId: this.o.nodeId,
    };
  }

  /** RFC 6665 §4.2.1.1: the 200 carries a Contact, the subscriber's target for the dialog. */
  private contact(ctx: SipRequestContext): [string, string] {
    return ['Contact', this.ourContact(ctx.transport)];
  }

  private ourContact(transport: SipRequestContext['transport']): string {
    const local = this.o.port.local(transport);
    const host = local.host.includes(':') ? `[${local.host}]` : local.host;
    return `<sip:switchboard@${host}:${local.port}${transport === 'udp' ? '' : `;transport=${transport}`}>`;
  }
}
