import { z } from 'zod';

export const CallPlanUserParams = z.object({ id: z.coerce.number().int().positive() });
export const CallPlanUserQuery = z
  .object({
    direction: z
      .enum(['inbound', 'outbound'])
      .default('inbound')
      .describe('inbound: a call reaching the user; outbound: what applies to calls the user places'),
  })
  .strict();

export const ResolveCallPlanBody = z
  .object({
    to: z
      .string()
      .trim()
      .min(1)
      .max(256)
      .describe("What was dialled: extension, username, E.164 number (the account's, an OnCall schedule's, or outside), 911, or a sip:/tel: URI"),
    from: z
      .string()
      .trim()
      .min(1)
      .max(256)
      .describe("The caller: a user's extension or username (or a SIP URI with one) for calls from inside, else the outside number"),
  })
  .strict()
  .meta({ id: 'ResolveCallPlan' });

const on = z
  .array(z.enum(['no_answer', 'busy']))
  .optional()
  .describe('Runs only after a ring that ended so; the first matching step runs; an answered call ends the plan');
const reason = z.enum(['forward_always', 'voicemail_mode', 'no_answer', 'busy', 'not_registered', 'nobody_on_call']);

const RingTargetSchema = z.object({
  binding_id: z.number(),
  contact: z.string().describe('Contact URI the device registered'),
  transport: z.string(),
  path: z.array(z.string()).describe('Path (RFC 3327): route requests to the contact through these'),
  instance_id: z.string().nullable().describe('+sip.instance (RFC 5626)'),
  q: z.number().nullable(),
  received: z.string().describe('Source of the REGISTER as a SIP URI (reaches a device behind NAT when path is empty)'),
});

export const PlanStepSchema = z
  .discriminatedUnion('action', [
    z.object({ action: z.literal('ring'), targets: z.array(RingTargetSchema).min(1), timeout: z.number().describe("Seconds: the user's call_timeout") }),
    z.object({ action: z.literal('forward'), destination: z.string(), reason, on }),
    z.object({ action: z.literal('voicemail'), mailbox_id: z.number(), mailbox_number: z.string(), reason, on }),
    z.object({ action: z.literal('busy'), sip_status: z.literal(486), reason, on }),
    z.object({ action: z.literal('hangup'), sip_status: z.literal(480), reason, on }),
    z.object({ action: z.literal('dial_out'), number: z.string() }),
    z.object({ action: z.literal('emergency'), number: z.string(), location_missing: z.boolean() }),
  ])
  .meta({ id: 'CallPlanStep' });

const LocationSchema = z.object({
  location_id: z.number(),
  name: z.string(),
  address_line1: z.string(),
  address_line2: z.string().nullable(),
  city: z.string(),
  region: z.string(),
  postal_code: z.string(),
  country: z.string(),
  callback_number: z.string(),
  dispatchable_address: z.string(),
});

export const CallPlanSchema = z
  .object({
    direction: z.enum(['inbound', 'outbound']),
    user: z
      .object({ id: z.number(), name: z.string(), extension: z.string(), username: z.string(), domain: z.string() })
      .nullable()
      .describe('Whose plan this is (null: an OnCall number with nobody on call)'),
    destination: z.object({ kind: z.enum(['user', 'oncall', 'external', 'emergency']), input: z.string() }).nullable(),
    availability: z.enum(['registered', 'not_registered']).nullable().describe('inbound: whether any live, reachable device exists'),
    steps: z.array(PlanStepSchema),
    recording: z.object({ record: z.boolean(), announce: z.boolean() }),
    caller_id: z.object({ name: z.string().nullable(), number: z.string().nullable() }),
    oncall: z.object({ schedule_id: z.number(), shift_id: z.number().nullable(), user_id: z.number().nullable() }).nullable(),
    emergency: z.object({ number: z.string(), location: LocationSchema.nullable(), location_missing: z.boolean() }).nullable(),
  })
  .meta({ id: 'CallPlan' });
