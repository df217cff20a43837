import type { SipResponseSpec } from '../message/types.js';

/**
 * Every way a REGISTER can end, mapped through one table to status, reason
 * and the headers that go with it (the Kamailio registrar's approach: the
 * code decides an outcome, the table decides the wire form).
 */
export const REGISTER_OUTCOMES = {
  ok: { status: 200, reason: 'OK' },
  auth_required: { status: 401, reason: 'Unauthorized' },
  /** Wrong password and unknown user share this outcome (no user enumeration). */
  not_authorized: { status: 401, reason: 'Unauthorized' },
  stale_nonce: { status: 401, reason: 'Unauthorized' },
  /** RFC 3261 §10.3 step 3: the authenticated user may not change this AOR's bindings. */
  forbidden_aor: { status: 403, reason: 'Forbidden' },
  user_disabled: { status: 403, reason: 'Forbidden' },
  username_blocked: { status: 403, reason: 'Forbidden' },
  /** max_bindings = 0: this user may not register any device. */
  registration_disabled: { status: 403, reason: 'Registration Not Allowed' },
  too_many_bindings: { status: 403, reason: 'Too Many Bindings' },
  /** RFC 3261 §10.3 step 7: 423 with Min-Expires. */
  interval_too_brief: { status: 423, reason: 'Interval Too Brief' },
  invalid_request: { status: 400, reason: 'Bad Request' },
  /** RFC 3261 §8.2.2.3: Require names an option we do not support. */
  bad_extension: { status: 420, reason: 'Bad Extension' },
  /**
   * RFC 3261 §10.3 step 7: an older CSeq for the same Call-ID aborts the update. 500 as §12.2.2 answers a lower
   * CSeq; the reason phrase (and a Warning with the numbers) says it is not a crash.
   */
  out_of_order: { status: 500, reason: 'CSeq Out Of Order' },
  server_error: { status: 500, reason: 'Server Internal Error' },
} as const satisfies Record<string, { status: number; reason: string }>;

export type RegisterOutcome = keyof typeof REGISTER_OUTCOMES;

export function outcomeResponse(outcome: RegisterOutcome, headers: Array<[string, string]> = [], reasonDetail?: string): SipResponseSpec {
  const row = REGISTER_OUTCOMES[outcome];
  return { status: row.status, reason: reasonDetail ? `${row.reason} (${reasonDetail})` : row.reason, headers };
}
