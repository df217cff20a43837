import { z } from 'zod';
import { CALL_RECORDING, FORWARD_MODES, MOBILE_SIGNALING } from '../db/models/user.js';
import { PageQuery } from '../shared/pagination.js';

export const E164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +14155550123');
const email = z.string().email().max(254);
const nullable = <T extends z.ZodType>(t: T) => t.nullable().optional();

export const ForwardBehaviorSchema = z
  .object({
    mode: z
      .enum(FORWARD_MODES)
      .describe(
        'ring_devices: ring registered devices; forward_always: send every call to destination; forward_on_no_answer: ring devices for call_timeout seconds, then destination; forward_on_busy: destination when busy; voicemail: straight to the primary mailbox',
      ),
    destination: z
      .string()
      .max(64)
      .regex(/^(\+?[0-9*#]{1,32}|[0-9]{1,15})$/, 'must be an E.164 number or an extension')
      .nullable()
      .optional()
      .describe('Number or extension to forward to; required by the forward_* modes'),
  })
  .strict()
  .meta({ id: 'ForwardBehavior' });

export const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{1,63}$/;

/** Fields an admin may set on create and update. Secrets have their own endpoints. */
const editable = {
  name: z.string().trim().min(1).max(120).describe('Long name; also the internal caller ID'),
  email: nullable(email).describe('Login and contact email'),
  max_bindings: z.number().int().min(0).max(100).optional().describe('Most devices registered at once; 0 forbids registration (never "unlimited")'),
  binding_policy: nullable(z.enum(['reject', 'evict_oldest', 'evict_unreachable'])).describe(
    'What a new device gets when max_bindings is reached; null = the account policy',
  ),
  external_caller_id_name: nullable(z.string().max(64)).describe('Outbound caller-ID name'),
  external_caller_id_number: nullable(E164).describe('Outbound caller-ID number; must be a number of this account; null = account default'),
  mobile: nullable(E164).describe('Mobile number'),
  call_timeout: z.number().int().min(5).max(600).optional().describe('Seconds to ring devices before the no-answer behaviour'),
  forward_behavior: ForwardBehaviorSchema.optional(),
  location_id: nullable(z.number().int().positive()).describe('E911 location this user dials 911 from'),
  mailbox: z
    .union([z.literal('self'), z.literal('none'), z.number().int().positive()])
    .optional()
    .describe('"self" creates (if missing) and assigns the user\'s own mailbox, "none" removes voicemail, or a mailbox id'),
  notification_email: nullable(email),
  voicemail_email: nullable(email).describe('Where voicemail messages are emailed'),
  fax_service_id: nullable(z.number().int().positive()),
  oncall_remind_minutes: z.number().int().min(0).max(10080).optional().describe('Minutes before an OnCall shift to send a reminder'),
  oncall_remind_email: nullable(email),
  outbound_sms_number: nullable(E164).describe('SMS-capable number of this account that SMS are sent from'),
  mobile_signaling: z.enum(MOBILE_SIGNALING).optional().describe('Transport the mobile app uses'),
  sms_enabled: z.boolean().optional(),
  sms_auto_responder_enabled: z.boolean().optional(),
  sms_auto_response_text: nullable(z.string().trim().min(1).max(480)).describe('Reply to direct inbound SMS (at most one per 30 s per peer)'),
  call_recording: z.enum(CALL_RECORDING).optional(),
  play_recording_announcement: z.boolean().optional(),
  role: z.enum(['admin', 'viewer', 'user']).optional().describe('owner moves only by transfer; fax is reserved for fax machines'),
  mailbox_delegations: z.array(z.number().int().positive()).max(100).optional().describe('Mailbox ids delegated to this user'),
  otp_required: z.boolean().optional(),
  billing_contact: z.boolean().optional(),
  password: z.string().min(10).max(200).optional().describe('Portal/API login password (bcrypt); omit for a SIP-only user'),
};

export const CreateUserBody = z
  .object({
    ...editable,
    extension: z.string().regex(/^\d+$/, 'must be digits only').describe('Dialable extension, unique in the account'),
    username: z.string().regex(USERNAME_RE, 'must be 2–64 of a-z 0-9 . _ - starting with a letter or digit').describe('Unique everywhere; the SIP user part'),
  })
  .strict()
  .meta({ id: 'CreateUser' });

export const UpdateUserBody = z
  .object({
    ...editable,
    current_password: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('Required with password when users change their own; an admin resetting another user password does not send it'),
    status: z
      .enum(['active', 'disabled'])
      .optional()
      .describe('disabled: sign-in, tokens, API keys and phones stop at once (bindings removed); active restores them. Admins only'),
    name: editable.name.optional(),
    extension: z.string().regex(/^\d+$/, 'must be digits only').optional(),
    username: z.string().regex(USERNAME_RE, 'must be 2–64 of a-z 0-9 . _ - starting with a letter or digit').optional(),
  })
  .strict()
  .meta({ id: 'UpdateUser' });

export type CreateUserInput = z.infer<typeof CreateUserBody>;
export type UpdateUserInput = z.infer<typeof UpdateUserBody>;

export const MailboxRef = z.object({ id: z.number(), number: z.string(), name: z.string() }).nullable();

export const UserSchema = z
  .object({
    id: z.number(),
    account_id: z.number(),
    name: z.string(),
    extension: z.string(),
    username: z.string(),
    email: z.string().nullable(),
    status: z.enum(['active', 'invited', 'disabled']),
    role: z.enum(['owner', 'admin', 'viewer', 'user', 'fax']),
    max_bindings: z.number(),
    binding_policy: z.enum(['reject', 'evict_oldest', 'evict_unreachable']).nullable(),
    external_caller_id_name: z.string().nullable(),
    external_caller_id_number: z.string().nullable(),
    mobile: z.string().nullable(),
    call_timeout: z.number(),
    forward_behavior: ForwardBehaviorSchema,
    location_id: z.number().nullable(),
    mailbox: MailboxRef.describe('The primary mailbox (only it is checked by *86 and drives MWI)'),
    notification_email: z.string().nullable(),
    voicemail_email: z.string().nullable(),
    fax_service_id: z.number().nullable(),
    oncall_remind_minutes: z.number(),
    oncall_remind_email: z.string().nullable(),
    outbound_sms_number: z.string().nullable(),
    mobile_signaling: z.string(),
    sms_enabled: z.boolean(),
    sms_auto_responder_enabled: z.boolean(),
    sms_auto_response_text: z.string().nullable(),
    call_recording: z.enum(CALL_RECORDING),
    play_recording_announcement: z.boolean(),
    mailbox_delegations: z.array(z.number()),
    otp_required: z.boolean(),
    otp_enrolled: z.boolean(),
    billing_contact: z.boolean(),
    has_password: z.boolean().describe('Whether the user can sign in to the portal/API with a password'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'User' });

export const CreatedUserSchema = UserSchema.extend({
  sip_password: z.string().describe('Shown only in this response'),
  oncall_pin: z.string().describe('Shown only in this response'),
}).meta({ id: 'CreatedUser' });

export const UserListQuery = z
  .object({
    ...PageQuery,
    extension: z.string().max(15).optional(),
    username: z.string().max(64).optional(),
    name: z.string().max(120).optional().describe('Prefix of the name'),
    role: z.enum(['owner', 'admin', 'viewer', 'user', 'fax']).optional(),
    sort: z.enum(['id', 'name', 'extension']).default('id'),
  })
  .strict();

export const IdParams = z.object({ id: z.coerce.number().int().positive() });
