/**
 * When a shift's reminder is due. Kept in one place because the API (create,
 * reschedule, user settings change), the rotation materialiser and the job
 * (its claim-time re-check) must agree to the millisecond.
 */
export function remindAt(startsAt: Date, remindMinutes: number): Date {
  return new Date(startsAt.getTime() - remindMinutes * 60_000);
}

/** Column values that (re-)arm a reminder: pending again, due at remind_at. */
export function armedReminder(startsAt: Date, remindMinutes: number) {
  const at = remindAt(startsAt, remindMinutes);
  return {
    remind_at: at,
    next_attempt_at: at,
    attempts: 0,
    last_error: null,
    reminded_at: null,
    message_id: null,
    late: false,
    skipped_reason: null,
  };
}

/** Exponential backoff for SMTP failures: base, 2×base, 4×base … capped. */
export function retryDelaySeconds(attempt: number, baseSeconds: number, maxSeconds: number): number {
  return Math.min(maxSeconds, baseSeconds * 2 ** Math.max(0, attempt - 1));
}
