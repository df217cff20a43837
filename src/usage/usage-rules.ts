import { ValidationError } from '../errors.js';
import type { UsageType } from './usage-recorder.js';

/*
 * The usage rules that need no database: which day and month an event
 * belongs to (UTC, like carriers' usage records), how two amounts of one
 * type combine, the report's date range, and its CSV.
 */

export const USAGE_TYPES = [
  'sms_inbound',
  'sms_outbound',
  'sms_auto_responses',
  'sms_segments',
  'api_requests',
  'registrations',
  'active_devices_peak',
] as const satisfies readonly UsageType[];

/** The one type that keeps a maximum; every other type is a counter. */
export const PEAK_TYPE = 'active_devices_peak' satisfies UsageType;

/** What the monthly SMS threshold counts: messages received and sent (an auto-response is also an sms_outbound). */
export const THRESHOLD_TYPES: readonly UsageType[] = ['sms_inbound', 'sms_outbound'];

/** Largest monthly SMS threshold a workspace may set (a bound that keeps the column an INTEGER). */
export const MAX_SMS_THRESHOLD = 1_000_000_000;

/** The threshold that applies to a workspace: its own (0 = no email) or, when it set none, the configured default. */
export function smsThresholdFor(accountThreshold: number | null | undefined, configured: number): number {
  return accountThreshold === null || accountThreshold === undefined ? configured : accountThreshold;
}

/** The longest report range: a year, a leap one included. */
export const MAX_RANGE_DAYS = 366;

export function isUsageType(t: string): t is UsageType {
  return (USAGE_TYPES as readonly string[]).includes(t);
}

export function combine(type: string, a: number, b: number): number {
  return type === PEAK_TYPE ? Math.max(a, b) : a + b;
}

/** 2026-12-02 for any instant of that UTC day. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export function monthOf(day: string): string {
  return day.slice(0, 7);
}

const DAY_MS = 86_400_000;

function dayNumber(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / DAY_MS;
}

export function addDays(day: string, n: number): string {
  return new Date((dayNumber(day) + n) * DAY_MS).toISOString().slice(0, 10);
}

export function firstOfMonth(day: string): string {
  return `${day.slice(0, 7)}-01`;
}

export function lastOfMonth(day: string): string {
  const d = new Date(`${firstOfMonth(day)}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + 1);
  d.setUTCDate(0);
  return dayOf(d);
}

export interface DayRange {
  since: string;
  until: string;
}

/**
 * The report's range, both ends included (dates, UTC). Missing ends
 * default to the current month so far. A reversed or longer-than-a-year
 * range is refused rather than silently clipped.
 */
export function resolveRange(q: { since?: string | undefined; until?: string | undefined }, now: Date): DayRange {
  const today = dayOf(now);
  const until = q.until ?? (q.since && q.since > today ? q.since : today);
  const since = q.since ?? firstOfMonth(until);
  if (since > until) {
    throw ValidationError.of({ field: 'until', code: 'invalid_range', message: `must be on or after since (${since})` });
  }
  const days = dayNumber(until) - dayNumber(since) + 1;
  if (days > MAX_RANGE_DAYS) {
    throw ValidationError.of({ field: 'until', code: 'range_too_long', message: `the range covers ${days} days; at most ${MAX_RANGE_DAYS} per report` });
  }
  return { since, until };
}

export interface RangeParts {
  /** Whole months inside the range, read from the monthly rows. */
  months: string[];
  /** Day ranges of the partial months at either end, read from the daily rows. */
  dayRanges: DayRange[];
}

/** Splits a range into whole months and the partial months at its ends, so a year reads 12 monthly rows and at most two short day ranges. */
export function splitRange(r: DayRange): RangeParts {
  const months: string[] = [];
  const dayRanges: DayRange[] = [];
  let cur = r.since;
  while (cur <= r.until) {
    const end = lastOfMonth(cur);
    const to = end < r.until ? end : r.until;
    if (cur === firstOfMonth(cur) && to === end) months.push(monthOf(cur));
    else dayRanges.push({ since: cur, until: to });
    cur = addDays(to, 1);
  }
  return { months, dayRanges };
}

export function daysOf(r: DayRange): string[] {
  const out: string[] = [];
  for (let d = r.since; d <= r.until; d = addDays(d, 1)) out.push(d);
  return out;
}

export type UsageTotals = Record<UsageType, number>;

export function emptyTotals(): UsageTotals {
  return Object.fromEntries(USAGE_TYPES.map((t) => [t, 0])) as UsageTotals;
}

/** Adds one stored amount into totals by its type's rule (sum, or max for the peak). */
export function accumulate(totals: UsageTotals, type: string, amount: number): void {
  if (isUsageType(type)) totals[type] = combine(type, totals[type], amount);
}

/** RFC 4180 fields: quoted when they hold a comma, quote or line break; a leading =, +, - or @ is prefixed so a spreadsheet does not run it as a formula. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}
