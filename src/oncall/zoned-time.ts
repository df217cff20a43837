/**
 * Wall-clock time in an IANA time zone, from the ICU data Node ships (Intl).
 * A dependency (luxon, date-fns-tz) would do the same with the same data; the
 * three functions needed here are small enough not to pull one in.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock reading in `timeZone` at instant `t`. */
export function toLocal(t: Date | number, timeZone: string): LocalDateTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour! % 24, minute: parts.minute!, second: parts.second! };
}

/** Offset of `timeZone` from UTC at instant `t`, in milliseconds (New York in winter: -5 h). */
export function offsetMs(t: number, timeZone: string): number {
  const l = toLocal(t, timeZone);
  return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second) - Math.floor(t / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `timeZone` shows the given local
 * time. A time skipped by a DST gap (02:30 on a spring-forward night) moves
 * forward by the gap (03:30), as a person resetting their clock would; a time
 * that occurs twice (fall-back night) resolves to its first occurrence.
 */
export function fromLocal(l: Omit<LocalDateTime, 'second'>, timeZone: string): Date {
  const wall = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute);
  const a = wall - offsetMs(wall, timeZone);
  const b = wall - offsetMs(a, timeZone);
  const shows = (t: number) => {
    const x = toLocal(t, timeZone);
    return Date.UTC(x.year, x.month - 1, x.day, x.hour, x.minute) === wall;
  };
  const valid = [a, b].filter(shows);
  if (valid.length) return new Date(Math.min(...valid));
  // In a gap: the pre-transition offset lands after the gap, which is what we want.
  return new Date(Math.max(a, b));
}

/** Adds whole calendar days to a YYYY-MM-DD date (no time zone involved). */
export function addDays(date: { year: number; month: number; day: number }, days: number): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

export function parseDate(s: string): { year: number; month: number; day: number } {
  const [y, m, d] = s.split('-').map(Number);
  return { year: y!, month: m!, day: d! };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** "2026-03-08 09:00 EDT (UTC-04:00, America/New_York)": unambiguous for a person and for a test. */
export function formatInZone(t: Date, timeZone: string): string {
  const l = toLocal(t, timeZone);
  const off = offsetMs(t.getTime(), timeZone) / 60000;
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const abbr = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'short' }).formatToParts(t).find((p) => p.type === 'timeZoneName')?.value;
  const weekday = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short' }).format(t);
  return `${weekday} ${l.year}-${pad(l.month)}-${pad(l.day)} ${pad(l.hour)}:${pad(l.minute)}${abbr ? ` ${abbr}` : ''} (UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}, ${timeZone})`;
}
