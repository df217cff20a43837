/** One number as a carrier lists it, already in our terms. */
export interface CarrierNumber {
  e164: string;
  label: string | null;
  voice: boolean;
  sms: boolean;
  mms: boolean;
  fax: boolean;
}

/** A carrier's REST API, bound to one set of credentials. */
export interface Carrier {
  /** Throws 422 provider_auth_failed or 502 provider_unavailable. */
  verify(): Promise<void>;
  /** Every number of the account, page by page, to the last page. */
  numbers(): AsyncGenerator<CarrierNumber[]>;
  /** One SMS, tried once; throws CarrierSendError (the messaging outbox retries). */
  sendSms(sms: OutboundSms): Promise<{ providerMessageId: string }>;
}

export interface OutboundSms {
  from: string;
  to: string;
  body: string;
  /** Where the carrier reports delivered/failed. */
  statusCallbackUrl: string;
}

/** Carriers write numbers with or without "+"; we store E.164. */
export function toE164(raw: string): string | null {
  const digits = raw.replace(/[\s\-().]/g, '');
  const e = digits.startsWith('+') ? digits : `+${digits}`;
  return /^\+[1-9]\d{6,14}$/.test(e) ? e : null;
}
