/**
 * The messaging rules that need no database: who an inbound SMS is for,
 * whether it earns an auto-response, what an outbound one may be.
 */

export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;

export function isE164(s: string): boolean {
  return E164_PATTERN.test(s);
}

/** The user fields routing and the auto-responder look at. */
export interface SmsUser {
  id: number;
  status: string;
  role: string;
  sms_enabled: boolean;
  sms_auto_responder_enabled: boolean;
  sms_auto_response_text: string | null;
  created_at: Date;
}

export type RouteDecision = { kind: 'user'; user: SmsUser } | { kind: 'unrouted'; reason: 'no_user' | 'sms_disabled' };

/**
 * The rule when several users share one outbound SMS number: the SMS goes to
 * ONE of them, the oldest user (lowest id) among those that are active and
 * have sms_enabled. A shared number is usually a team line whose first user
 * is its owner; picking one keeps one conversation per number and one
 * auto-response, where fanning out would answer a sender once per user.
 * Machine accounts (role fax) never receive SMS. Nobody eligible: kept
 * unrouted for the account's admins, with the reason.
 */
export function routeInbound(candidates: readonly SmsUser[]): RouteDecision {
  const people = candidates.filter((u) => u.role !== 'fax' && u.status === 'active');
  if (!people.length) return { kind: 'unrouted', reason: 'no_user' };
  const enabled = people.filter((u) => u.sms_enabled).sort((a, b) => a.id - b.id);
  if (!enabled.length) return { kind: 'unrouted', reason: 'sms_disabled' };
  return { kind: 'user', user: enabled[0]! };
}

export type AutoReplyDecision = { reply: true; text: string } | { reply: false; reason: 'off' | 'group' | 'internal' | 'auto' | 'not_routed' };

/**
 * Seed 001: auto-responses go "ONLY … back to direct SMS messages. Group
 * messages and internal messages will not receive an auto-response". A
 * group message names more than one recipient; an internal one comes from a
 * number of the same account. The 30-second limit per (our number, sender)
 * is the store's atomic claim, not decided here.
 */
export function autoReplyDecision(input: {
  user: SmsUser | null;
  recipients: readonly string[];
  senderIsAccountNumber: boolean;
  /** The inbound message is itself an auto-response we can recognise (never answer a robot with a robot). */
  fromAutoResponder?: boolean;
}): AutoReplyDecision {
  const u = input.user;
  if (!u) return { reply: false, reason: 'not_routed' };
  if (!u.sms_auto_responder_enabled || !u.sms_auto_response_text) return { reply: false, reason: 'off' };
  if (new Set(input.recipients).size > 1) return { reply: false, reason: 'group' };
  if (input.senderIsAccountNumber) return { reply: false, reason: 'internal' };
  if (input.fromAutoResponder) return { reply: false, reason: 'auto' };
  return { reply: true, text: u.sms_auto_response_text };
}

/** The auto-responder's window: at most one reply per (our number, sender) in it. */
export const AUTO_REPLY_WINDOW_MS = 30_000;

/** Outbox backoff after a 429 or 5xx: exponential with full jitter, Retry-After honoured when longer. */
export function outboxDelayMs(attempt: number, o: { baseMs: number; maxMs: number; retryAfterMs?: number | null; random?: () => number }): number {
  const base = Math.min(o.maxMs, o.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(base / 2 + (o.random ?? Math.random)() * (base / 2));
  return Math.min(o.maxMs, Math.max(jittered, o.retryAfterMs ?? 0));
}
