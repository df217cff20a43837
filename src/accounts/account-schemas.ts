import { z } from 'zod';
import { E164 } from '../users/user-schemas.js';
import { BINDING_POLICIES } from '../db/models/account.js';
import { DOMAIN_RE, isValidTimezone } from './account-service.js';
import { MAX_SMS_THRESHOLD } from '../usage/usage-rules.js';

export const AccountSchema = z
  .object({
    id: z.number().describe('Account id (Developer section)'),
    name: z.string(),
    website: z.string().nullable(),
    timezone: z.string(),
    sip_domain: z.string().describe('Also the SIP digest realm'),
    default_caller_id_number: z.string().nullable(),
    binding_policy: z.enum(BINDING_POLICIES).describe("What a REGISTER at a user's max_bindings does, unless the user has its own binding_policy"),
    mwi_enabled: z.boolean().describe('Send voicemail message-waiting NOTIFYs (RFC 3842) to the devices of this account'),
    sms_monthly_threshold: z
      .number()
      .int()
      .nullable()
      .describe("SMS (received + sent) per UTC month past which the billing contacts get one email; null = the server's default, 0 = no email"),
    sms_monthly_threshold_effective: z.number().int().describe('The threshold that applies: sms_monthly_threshold, or the default when that is null; 0 = off'),
    logo_url: z.string().nullable().describe('Stable URL of the uploaded logo; changes only when the logo does'),
    owner_user_id: z.number().nullable(),
    workspace_api_key_last4: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Account' });

const website = z
  .string()
  .trim()
  .max(2048)
  .url({ message: 'must be a URL such as https://example.com', abort: true })
  .refine((u) => /^https?:\/\//i.test(u), 'must start with http:// or https://');

export const UpdateAccountBody = z
  .object({
    name: z.string().trim().min(3, 'must be at least 3 characters').max(120).optional(),
    website: website.nullable().optional(),
    // A format check like website's, in the schema, so both are reported in one answer.
    timezone: z
      .string()
      .max(64)
      .refine(isValidTimezone, { message: 'is not an IANA time zone (e.g. America/New_York)', params: { code: 'invalid_timezone' } })
      .optional()
      .describe('IANA time zone, e.g. Europe/Paris'),
    sip_domain: z
      .string()
      .trim()
      .toLowerCase()
      .max(253)
      .refine((d) => DOMAIN_RE.test(d), { message: 'is not a DNS domain name', params: { code: 'invalid_sip_domain' } })
      .optional()
      .describe("Changing it re-derives every user's digest HA1 from the stored SIP passwords"),
    default_caller_id_number: E164.nullable().optional().describe('Must be a number of this account'),
    binding_policy: z
      .enum(BINDING_POLICIES)
      .optional()
      .describe('reject (default), evict_oldest or evict_unreachable: what a new device at the limit does; a user binding_policy overrides it'),
    mwi_enabled: z.boolean().optional().describe('false: no message-waiting NOTIFY goes to any device of the account (SUBSCRIBEs are still accepted)'),
    sms_monthly_threshold: z
      .number()
      .int()
      .min(0)
      .max(MAX_SMS_THRESHOLD)
      .nullable()
      .optional()
      .describe("This workspace's monthly SMS threshold for the billing email; null = back to the server's default, 0 = no email"),
  })
  .strict()
  .meta({ id: 'UpdateAccount' });
export type UpdateAccountInput = z.infer<typeof UpdateAccountBody>;
