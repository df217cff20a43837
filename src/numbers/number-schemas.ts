import { z } from 'zod';
import { PageQuery } from '../shared/pagination.js';
import { E164, timestamps } from '../shared/schemas.js';

const PROVIDER = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1–40 of a-z 0-9 _ -')
  .describe('"default" or the name of a bring-your-own carrier');

export const CapabilitiesSchema = z
  .object({
    voice: z.boolean().describe('Calls can be placed from and received on this number'),
    sms: z.boolean().describe("SMS can be sent and received; needed for a user's outbound_sms_number"),
    fax: z.boolean().describe("Faxes can be received; needed for a fax service's number"),
    mms: z.boolean().describe('MMS can be sent and received (as the carrier reports it)'),
  })
  .meta({ id: 'NumberCapabilities' });

const CapabilitiesInput = z
  .object({ voice: z.boolean().optional(), sms: z.boolean().optional(), fax: z.boolean().optional(), mms: z.boolean().optional() })
  .strict()
  .describe('Members left out keep their value (on create: voice true, sms false, fax false, mms false)');

export const CreateNumberBody = z
  .object({
    e164: E164.describe('The number in E.164; unique across all accounts'),
    label: z.string().trim().max(120).nullable().optional(),
    capabilities: CapabilitiesInput.optional(),
    provider: PROVIDER.optional(),
    provider_id: z
      .number()
      .int()
      .positive()
      .nullable()
      .optional()
      .describe("The account's telephony provider (a SIP trunk's numbers are entered this way); null = default telephony"),
  })
  .strict()
  .meta({ id: 'CreateNumber' });

export const UpdateNumberBody = CreateNumberBody.partial().strict().meta({ id: 'UpdateNumber' });

export type CreateNumberInput = z.infer<typeof CreateNumberBody>;
export type UpdateNumberInput = z.infer<typeof UpdateNumberBody>;

export const NumberSchema = z
  .object({
    id: z.number(),
    account_id: z.number(),
    e164: z.string(),
    label: z.string().nullable(),
    capabilities: CapabilitiesSchema,
    provider: z.string().describe('"default", the type of its provider (twilio, telnyx, plivo, sip_trunk) or a free label'),
    provider_id: z.number().nullable().describe('The telephony provider the number belongs to; null = the platform default'),
    provider_missing: z.boolean().describe('The provider no longer lists the number, but something still uses it'),
    ...timestamps,
  })
  .meta({ id: 'PhoneNumber' });

export const NumberListQuery = z
  .object({
    ...PageQuery,
    e164: z.string().max(16).optional().describe('Exact number'),
    capability: z.enum(['voice', 'sms', 'fax']).optional().describe('Only numbers with this capability'),
    provider: z.string().max(40).optional(),
    provider_id: z.coerce.number().int().positive().optional(),
  })
  .strict();
export type NumberListInput = z.infer<typeof NumberListQuery>;
