import { z } from 'zod';
import { PageQuery } from '../shared/pagination.js';
import { timestamps } from '../shared/schemas.js';

const secret = (what: string) => z.string().min(1).max(256).describe(what);

export const TwilioCredentialsInput = z
  .object({ account_sid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits'), auth_token: secret('Auth token') })
  .strict();
export const TelnyxCredentialsInput = z.object({ api_key: secret('API key (v2)') }).strict();
export const PlivoCredentialsInput = z
  .object({ auth_id: z.string().regex(/^[A-Z0-9]{10,40}$/, 'must be the Auth ID (upper-case letters and digits)'), auth_token: secret('Auth token') })
  .strict();
export const TrunkCredentialsInput = z.object({ username: z.string().min(1).max(128), password: secret('Digest password') }).strict();

const HOST = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/, 'must be a host name or an IP address');

export const TrunkSettingsInput = z
  .object({
    host: HOST.describe("The carrier's registrar / proxy"),
    port: z.number().int().min(1).max(65535).default(5060),
    transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
    realm: z.string().min(1).max(253).optional().describe('Digest realm to expect; any when left out'),
    from_domain: HOST.optional().describe('Domain of the AOR (From/To); the host when left out'),
    register: z.boolean().default(false).describe('Keep a registration at the carrier (RFC 3261 §10.2)'),
    expires: z.number().int().min(60).max(86_400).default(3600),
  })
  .strict();
export type TrunkSettings = z.infer<typeof TrunkSettingsInput>;

export const TelnyxSettingsInput = z
  .object({
    public_key: z
      .string()
      .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be the base64 Ed25519 public key from the Telnyx portal (Keys & Credentials → Public Key)')
      .optional()
      .describe('Verifies inbound SMS webhooks (telnyx-signature-ed25519); without it every Telnyx webhook is refused'),
  })
  .strict();

const NAME = z.string().trim().min(1).max(120);
const NoSettings = z.object({}).strict().default({});

export const CreateProviderBody = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('twilio'), name: NAME, credentials: TwilioCredentialsInput, settings: NoSettings }).strict(),
    z.object({ type: z.literal('telnyx'), name: NAME, credentials: TelnyxCredentialsInput, settings: TelnyxSettingsInput.default({}) }).strict(),
    z.object({ type: z.literal('plivo'), name: NAME, credentials: PlivoCredentialsInput, settings: NoSettings }).strict(),
    z.object({ type: z.literal('sip_trunk'), name: NAME, credentials: TrunkCredentialsInput, settings: TrunkSettingsInput }).strict(),
  ])
  .meta({ id: 'CreateTelephonyProvider' });
export type CreateProviderInput = z.infer<typeof CreateProviderBody>;

export const UpdateProviderBody = z
  .object({
    name: NAME.optional(),
    enabled: z.boolean().optional().describe('false stops syncing and unregisters a trunk'),
    credentials: z.record(z.string(), z.string()).optional().describe('The whole credentials object of the type, checked with the carrier again'),
    settings: z.record(z.string(), z.unknown()).optional().describe('SIP trunk and Telnyx (public_key) only: members given replace those stored'),
  })
  .strict()
  .meta({ id: 'UpdateTelephonyProvider' });
export type UpdateProviderInput = z.infer<typeof UpdateProviderBody>;

export const SyncResultSchema = z
  .object({
    added: z.array(z.string()).describe('Numbers created'),
    updated: z.array(z.string()).describe('Numbers whose label or capabilities changed, or that were attached to this provider'),
    missing: z
      .array(z.object({ e164: z.string(), action: z.enum(['removed', 'flagged']) }))
      .describe('Gone at the carrier: removed, or flagged provider_missing while referenced'),
    conflicts: z.array(z.object({ e164: z.string(), reason: z.enum(['held_by_another_account', 'held_by_another_provider']) })),
  })
  .meta({ id: 'NumberSyncResult' });

export const RegistrationSchema = z
  .object({
    state: z.enum(['registering', 'registered', 'failed', 'disabled']),
    last_status: z.number().nullable().describe('Status of the last final response from the carrier'),
    last_error: z.string().nullable(),
    expires_at: z.string().nullable(),
    since: z.string().nullable().describe('When the state last changed'),
  })
  .meta({ id: 'TrunkRegistration' });

export const ProviderSchema = z
  .object({
    id: z.number(),
    account_id: z.number(),
    type: z.enum(['twilio', 'telnyx', 'plivo', 'sip_trunk']),
    name: z.string(),
    enabled: z.boolean(),
    credentials_hint: z.string().describe('Last four characters of the secret; the credentials are never returned'),
    settings: z.record(z.string(), z.unknown()),
    sms_webhook_url: z
      .string()
      .nullable()
      .describe(
        'Give this URL to the carrier as the inbound message webhook (built from PUBLIC_URL); status callbacks go to it + /status. null for SIP trunks',
      ),
    last_synced_at: z.string().nullable(),
    last_sync_error: z.string().nullable(),
    registration: RegistrationSchema.nullable().describe('SIP trunks only'),
    sync: SyncResultSchema.optional().describe('On create: the first import'),
    ...timestamps,
  })
  .meta({ id: 'TelephonyProvider' });

export const ProviderListQuery = z.object({ ...PageQuery, type: z.enum(['twilio', 'telnyx', 'plivo', 'sip_trunk']).optional() }).strict();
export type ProviderListInput = z.infer<typeof ProviderListQuery>;
