import { z } from 'zod';
import { PageQuery } from '../shared/pagination.js';
import { USAGE_TYPES } from './usage-rules.js';

const Day = z.iso.date().describe('A UTC date, YYYY-MM-DD');

export const UsageQuerySchema = z
  .object({
    since: Day.optional().describe('First day included (UTC, YYYY-MM-DD); default: the first day of the month of until'),
    until: Day.optional().describe('Last day included (UTC, YYYY-MM-DD); default: today. At most 366 days after since'),
    group_by: z.enum(['day', 'user', 'type']).default('day').describe('day: one row per day; user: one row per user (paged); type: one row per usage type'),
    user_id: z.coerce.number().int().positive().optional().describe("Only this user's usage"),
    format: z.enum(['json', 'csv']).optional().describe('csv: the whole report as text/csv (also chosen by Accept: text/csv)'),
    ...PageQuery,
  })
  .strict();
export type UsageQueryInput = z.infer<typeof UsageQuerySchema>;

const totals = Object.fromEntries(USAGE_TYPES.map((t) => [t, z.number().int()])) as Record<(typeof USAGE_TYPES)[number], z.ZodNumber>;

export const UsageDayRowSchema = z.object({ day: z.string(), ...totals }).meta({ id: 'UsageDayRow' });
export const UsageUserRowSchema = z
  .object({
    user_id: z.number().nullable().describe('null: usage of no user (the workspace key, an unrouted SMS)'),
    name: z.string().nullable().describe('null for a deleted user or no user'),
    extension: z.string().nullable(),
    ...totals,
  })
  .meta({ id: 'UsageUserRow' });
export const UsageTypeRowSchema = z
  .object({
    type: z.enum(USAGE_TYPES),
    amount: z.number().int(),
    aggregation: z.enum(['sum', 'max']).describe('Counters add up over the range; active_devices_peak is the highest day'),
  })
  .meta({ id: 'UsageTypeRow' });

export const UsageReportSchema = z
  .object({
    since: z.string(),
    until: z.string(),
    group_by: z.enum(['day', 'user', 'type']),
    user_id: z.number().nullable(),
    data: z.array(z.union([UsageDayRowSchema, UsageUserRowSchema, UsageTypeRowSchema])),
    next_cursor: z.string().nullable().describe('group_by=user: pass as ?cursor= for the next page; null on the last page'),
  })
  .meta({ id: 'UsageReport' });
