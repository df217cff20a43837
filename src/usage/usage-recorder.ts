/**
 * What an account consumed, by type (seed 002: "credit consumption by type
 * and agent"). Producers (the SMS service, the registrar, the HTTP layer)
 * report events here; the usage store keeps them as daily rows per account,
 * user and type, so a report reads a year without scanning events.
 */
export type UsageType = 'sms_inbound' | 'sms_outbound' | 'sms_auto_responses' | 'sms_segments' | 'api_requests' | 'registrations' | 'active_devices_peak';

export interface UsageEvent {
  accountId: number;
  /** The user ("agent") it belongs to; null for account-level usage (an unrouted SMS, an API key without a user). */
  userId: number | null;
  type: UsageType;
  /** Counted types add it (default 1); `active_devices_peak` keeps the day's maximum. */
  amount?: number;
  at?: Date;
}

/** Never throws and never blocks the caller: usage is recorded after the fact and batched. */
export interface UsageRecorder {
  record(event: UsageEvent): void;
}
