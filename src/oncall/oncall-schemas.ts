import { z } from 'zod';
import { PageQuery } from '../shared/pagination.js';
import { isTimeZone } from './zoned-time.js';

const timeZone = z.string().max(64).refine(isTimeZone, 'must be an IANA time zone such as Europe/Paris');
const instant = z.iso
  .datetime({ offset: true })
  .transform((s) => new Date(s))
  .describe('RFC 3339 date-time with offset, e.g. 2026-03-08T09:00:00-05:00');

export const ScheduleParams = z.object({ id: z.coerce.number().int().positive() });
export const ShiftParams = z.object({ id: z.coerce.number().int().positive(), shiftId: z.coerce.number().int().positive() });
export const RotationParams = z.object({ id: z.coerce.number().int().positive(), rotationId: z.coerce.number().int().positive() });

export const CreateScheduleBody = z
  .object({
    name: z.string().trim().min(1).max(120),
    timezone: timeZone.optional().describe("IANA time zone shift times are shown in; default: the account's"),
    description: z.string().max(1000).nullable().optional(),
    number_id: z
      .number()
      .int()
      .positive()
      .nullable()
      .optional()
      .describe('A voice-capable number of the account: calling it reaches whoever is on call now (one schedule per number)'),
  })
  .strict()
  .meta({ id: 'CreateOncallSchedule' });

export const UpdateScheduleBody = z
  .object({
    name: z.string().trim().min(1).max(120).optional(),
    timezone: timeZone.optional(),
    description: z.string().max(1000).nullable().optional(),
    number_id: z.number().int().positive().nullable().optional().describe('null detaches the number'),
  })
  .strict()
  .meta({ id: 'UpdateOncallSchedule' });

export const ScheduleSchema = z
  .object({
    id: z.number(),
    name: z.string(),
    timezone: z.string(),
    description: z.string().nullable(),
    number_id: z.number().nullable().describe('The number that reaches whoever is on call now'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'OncallSchedule' });

export const CreateShiftBody = z
  .object({
    user_id: z.number().int().positive(),
    starts_at: instant,
    ends_at: instant,
    note: z.string().max(500).nullable().optional(),
  })
  .strict()
  .meta({ id: 'CreateOncallShift' });

export const UpdateShiftBody = z
  .object({
    user_id: z.number().int().positive().optional(),
    starts_at: instant.optional(),
    ends_at: instant.optional(),
    note: z.string().max(500).nullable().optional(),
  })
  .strict()
  .meta({ id: 'UpdateOncallShift' });

export const ShiftSchema = z
  .object({
    id: z.number(),
    schedule_id: z.number(),
    user_id: z.number(),
    rotation_id: z.number().nullable(),
    starts_at: z.string(),
    ends_at: z.string(),
    note: z.string().nullable(),
    reminder: z.object({
      remind_at: z.string().describe("starts_at minus the user's oncall_remind_minutes"),
      status: z.enum(['pending', 'retrying', 'sent', 'skipped']),
      reminded_at: z.string().nullable(),
      late: z.boolean(),
      attempts: z.number(),
      skipped_reason: z.string().nullable(),
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'OncallShift' });

export const ShiftListQuery = z
  .object({
    from: instant.optional().describe('Only shifts ending after this instant (default: now)'),
    to: instant.optional().describe('Only shifts starting before this instant'),
    user_id: z.coerce.number().int().positive().optional(),
    limit: PageQuery.limit,
    cursor: PageQuery.cursor,
  })
  .strict();

export const UserShiftListQuery = ShiftListQuery.omit({ user_id: true });

export const OnCallNowSchema = z
  .object({
    schedule_id: z.number(),
    at: z.string(),
    on_call: z.array(
      z.object({ user_id: z.number(), name: z.string(), extension: z.string(), shift_id: z.number(), starts_at: z.string(), ends_at: z.string() }),
    ),
  })
  .meta({ id: 'OnCallNow' });

export const CreateRotationBody = z
  .object({
    name: z.string().trim().min(1).max(120),
    user_ids: z.array(z.number().int().positive()).min(1).max(100).describe('Users in rotation order; the first takes the first period'),
    period_unit: z.enum(['days', 'weeks']),
    period_count: z.number().int().min(1).max(52).describe('Each user holds the rotation this many days/weeks'),
    start_date: z.iso.date().describe("First handoff day (YYYY-MM-DD) in the schedule's time zone"),
    handoff_time: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)')
      .describe("Handoff time of day in the schedule's time zone"),
    horizon_days: z.number().int().min(1).max(366).optional().describe('How far ahead shifts are created (default from config)'),
  })
  .strict()
  .meta({ id: 'CreateOncallRotation' });

export const RotationSchema = z
  .object({
    id: z.number(),
    schedule_id: z.number(),
    name: z.string(),
    user_ids: z.array(z.number()),
    period_unit: z.enum(['days', 'weeks']),
    period_count: z.number(),
    start_date: z.string(),
    handoff_time: z.string(),
    horizon_days: z.number(),
    materialised_until: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'OncallRotation' });

export const VerifyPinBody = z
  .object({
    extension: z.string().regex(/^\d{1,15}$/, 'must be digits'),
    pin: z.string().regex(/^\d{1,12}$/, 'must be digits'),
  })
  .strict()
  .meta({ id: 'VerifyOncallPin' });

export type CreateScheduleInput = z.infer<typeof CreateScheduleBody>;
export type UpdateScheduleInput = z.infer<typeof UpdateScheduleBody>;
export type CreateShiftInput = z.infer<typeof CreateShiftBody>;
export type UpdateShiftInput = z.infer<typeof UpdateShiftBody>;
export type ShiftListInput = z.infer<typeof ShiftListQuery>;
export type CreateRotationInput = z.infer<typeof CreateRotationBody>;
export type ScheduleView = z.infer<typeof ScheduleSchema>;
export type ShiftView = z.infer<typeof ShiftSchema>;
export type RotationView = z.infer<typeof RotationSchema>;
