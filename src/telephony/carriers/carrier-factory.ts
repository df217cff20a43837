import type { AppConfig } from '../../config.js';
import type { ProviderType } from '../../db/models/telephony-provider.js';
import type { Carrier } from './carrier.js';
import type { CarrierHttpSettings } from './carrier-http.js';
import { PlivoCarrier, type PlivoCredentials } from './plivo-carrier.js';
import { TelnyxCarrier, type TelnyxCredentials } from './telnyx-carrier.js';
import { TwilioCarrier, type TwilioCredentials } from './twilio-carrier.js';

export type CarrierFactory = (type: ProviderType, credentials: Record<string, string>) => Carrier | null;

/** The REST carrier behind a provider; null for a SIP trunk (it has no API, its numbers are entered by hand). */
export function carrierFactory(t: AppConfig['telephony']): CarrierFactory {
  const http: CarrierHttpSettings = { timeoutMs: t.requestTimeoutMs, maxRetries: t.maxRetries, retryBaseMs: t.retryBaseMs, retryMaxMs: t.retryMaxMs };
  return (type, credentials) => {
    switch (type) {
      case 'twilio':
        return new TwilioCarrier(t.twilioApiBaseUrl, credentials as unknown as TwilioCredentials, http);
      case 'telnyx':
        return new TelnyxCarrier(t.telnyxApiBaseUrl, credentials as unknown as TelnyxCredentials, http);
      case 'plivo':
        return new PlivoCarrier(t.plivoApiBaseUrl, credentials as unknown as PlivoCredentials, http);
      default:
        return null;
    }
  };
}
