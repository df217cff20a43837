/** The one event package we notify for (RFC 3842 §3). */
export const MESSAGE_SUMMARY_EVENT = 'message-summary';

export interface ExpiresBounds {
  minExpires: number;
  defaultExpires: number;
  maxExpires: number;
}

export type ExpiresDecision =
  | { kind: 'ok'; expires: number }
  /** Expires: 0 — an unsubscribe in a dialog, a fetch outside one (RFC 6665 §4.2.1.1 / §4.2.1.4). */
  | { kind: 'end' }
  | { kind: 'too_brief'; minExpires: number }
  | { kind: 'malformed' };

/**
 * The subscription duration for a SUBSCRIBE's Expires header.
 *
 * RFC 6665 §4.2.1.1: the notifier "MAY shorten" an interval (clamped to
 * max here) but "MUST NOT lengthen" it, so one that is too short is
 * refused with 423 and Min-Expires; without the header the package default
 * applies (RFC 3842 §4.3 suggests an hour).
 */
export function subscriptionExpires(header: string | undefined, b: ExpiresBounds): ExpiresDecision {
  if (header === undefined) return { kind: 'ok', expires: Math.min(Math.max(b.defaultExpires, b.minExpires), b.maxExpires) };
  const text = header.trim();
  if (!/^\d{1,10}$/.test(text)) return { kind: 'malformed' };
  const n = Number(text);
  if (n === 0) return { kind: 'end' };
  if (n < b.minExpires) return { kind: 'too_brief', minExpires: b.minExpires };
  return { kind: 'ok', expires: Math.min(n, b.maxExpires) };
}

/** The event package of an Event header (RFC 6665 §8.2.1: the token before any parameter, case-insensitive). */
export function eventPackage(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const pkg = header.split(';')[0]!.trim().toLowerCase();
  return pkg || undefined;
}

/** The Event header's `id` parameter (RFC 6665 §8.2.1): it tells subscriptions in one dialog apart, and every NOTIFY echoes it. */
export function eventId(header: string | undefined): string | null {
  for (const param of (header ?? '').split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq > 0 && param.slice(0, eq).trim().toLowerCase() === 'id') return param.slice(eq + 1).trim() || null;
  }
  return null;
}

/** The Event header of our NOTIFYs: the package, and the subscription's id when the SUBSCRIBE had one. */
export function notifyEventHeader(id: string | null): string {
  return id === null ? MESSAGE_SUMMARY_EVENT : `${MESSAGE_SUMMARY_EVENT};id=${id}`;
}

/**
 * RFC 3842 §4.1: the subscriber MAY send Accept; when it does and names
 * neither our body type nor a wildcard covering it, we cannot notify it
 * (RFC 6665 §4.2.1.1: 406).
 */
export function acceptsMessageSummary(acceptValues: string[]): boolean {
  if (!acceptValues.length) return true;
  return acceptValues.some((v) => {
    const type = v.split(';')[0]!.trim().toLowerCase();
    return type === 'application/simple-message-summary' || type === 'application/*' || type === '*/*';
  });
}

export type SubscriptionState = { state: 'active'; expires: number } | { state: 'terminated'; reason: 'timeout' | 'noresource' | 'deactivated' };

/** The Subscription-State header value (RFC 6665 §8.2.3; an active one says the seconds left). */
export function subscriptionStateText(s: SubscriptionState): string {
  return s.state === 'active' ? `active;expires=${Math.max(0, Math.floor(s.expires))}` : `terminated;reason=${s.reason}`;
}

/** Seconds left of a subscription at `nowMs`, never below 0. */
export function secondsLeft(expiresAt: Date, nowMs: number): number {
  return Math.max(0, Math.round((expiresAt.getTime() - nowMs) / 1000));
}

/**
 * Whether a NOTIFY's answer ends the subscription.
 *
 * RFC 6665 §4.2.2: a 481 means the subscriber knows no such subscription,
 * and a transaction timeout (Timer F) or 408 SHOULD remove it; RFC 5057
 * §5.1 lists the other answers that destroy the dialog usage (404, 410,
 * 416, 482–485, 489, 502, 604). A 5xx or anything else is left for the
 * next change or the expiry to try again; "unreachable" (no path from this
 * node at the moment) too.
 */
export function notifyAnswerEndsSubscription(status: number, origin: 'device' | 'timeout' | 'unreachable' | undefined): boolean {
  if (origin === 'timeout') return true;
  if (origin === 'unreachable') return false;
  return [404, 408, 410, 416, 481, 482, 483, 484, 485, 489, 502, 604].includes(status);
}

export interface DialogIds {
  callId: string;
  localTag: string;
  remoteTag: string;
}

/**
 * RFC 3261 §12.2.2: a request inside a dialog matches it by Call-ID, our tag
 * (the request's To tag) and the peer's tag (its From tag); tags compare
 * case-sensitively as tokens.
 */
export function matchesDialog(d: DialogIds, req: { callId: string; toTag: string | undefined; fromTag: string | undefined }): boolean {
  return d.callId === req.callId && d.localTag === req.toTag && d.remoteTag === req.fromTag;
}
