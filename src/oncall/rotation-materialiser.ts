import { Op, type Transaction } from 'sequelize';
import type { Models, OncallRotation, OncallSchedule } from '../db/models/index.js';
import type { Logger } from '../logger.js';
import { armedReminder } from './reminder-timing.js';
import { addDays, fromLocal, parseDate } from './zoned-time.js';

const DAY_MS = 86_400_000;

export interface Occurrence {
  seq: number;
  userId: number;
  startsAt: Date;
  endsAt: Date;
}

/**
 * The rotation's n-th period: it starts on start_date + n × period at the
 * handoff time *on the wall clock of the schedule's time zone*, so a daily
 * 09:00 handoff stays at 09:00 across DST changes (that day's shift is 23 or
 * 25 hours long), and ends when the next one starts.
 */
export function occurrenceStart(r: Pick<OncallRotation, 'start_date' | 'handoff_time' | 'period_unit' | 'period_count'>, seq: number, timeZone: string): Date {
  const days = r.period_count * (r.period_unit === 'weeks' ? 7 : 1);
  const date = addDays(parseDate(r.start_date), seq * days);
  const [hour, minute] = r.handoff_time.split(':').map(Number);
  return fromLocal({ ...date, hour: hour!, minute: minute! }, timeZone);
}

/** Occurrences that end after `from` and start before `until`. */
export function occurrencesBetween(r: OncallRotation, timeZone: string, from: Date, until: Date): Occurrence[] {
  const periodMs = r.period_count * (r.period_unit === 'weeks' ? 7 : 1) * DAY_MS;
  const first = occurrenceStart(r, 0, timeZone).getTime();
  // Jump close to `from` (off by at most one because of DST), then walk.
  let seq = Math.max(0, Math.floor((from.getTime() - first) / periodMs) - 1);
  const out: Occurrence[] = [];
  let start = occurrenceStart(r, seq, timeZone);
  while (start.getTime() < until.getTime()) {
    const end = occurrenceStart(r, seq + 1, timeZone);
    if (end.getTime() > from.getTime()) out.push({ seq, userId: r.user_ids[seq % r.user_ids.length]!, startsAt: start, endsAt: end });
    seq += 1;
    start = end;
  }
  return out;
}

/**
 * Creates the rotation's shifts up to now + horizon. Idempotent: the unique
 * (rotation_id, rotation_seq) index makes a second run (or a second process)
 * insert nothing twice. An occurrence that would overlap another shift of the
 * same user in the schedule is left out and logged: the overlap rule holds
 * for generated shifts too, and a hand-made shift wins over the rotation.
 */
export async function materialiseRotation(
  models: Models,
  rotation: OncallRotation,
  schedule: OncallSchedule,
  now: Date,
  logger: Logger,
  tx?: Transaction,
): Promise<number> {
  const until = new Date(now.getTime() + rotation.horizon_days * DAY_MS);
  const from = rotation.materialised_until && rotation.materialised_until > now ? new Date(rotation.materialised_until) : now;
  const wanted = occurrencesBetween(rotation, schedule.timezone, from, until);
  let created = 0;
  if (wanted.length) {
    const userIds = [...new Set(wanted.map((o) => o.userId))];
    const [users, existing] = await Promise.all([
      models.User.findAll({ where: { id: userIds, account_id: rotation.account_id }, attributes: ['id', 'oncall_remind_minutes'], transaction: tx }),
      models.OncallShift.findAll({
        where: { schedule_id: schedule.id, user_id: userIds, starts_at: { [Op.lt]: until }, ends_at: { [Op.gt]: wanted[0]!.startsAt } },
        attributes: ['id', 'user_id', 'starts_at', 'ends_at', 'rotation_id', 'rotation_seq'],
        transaction: tx,
      }),
    ]);
    const minutes = new Map(users.map((u) => [u.id, u.oncall_remind_minutes]));
    const rows = [];
    for (const o of wanted) {
      const m = minutes.get(o.userId);
      if (m === undefined) {
        logger.warn({ rotationId: rotation.id, userId: o.userId, seq: o.seq }, 'rotation names a user that no longer exists; period left uncovered');
        continue;
      }
      if (existing.some((s) => s.rotation_id === rotation.id && s.rotation_seq === o.seq)) continue;
      const clash = existing.find((s) => s.user_id === o.userId && new Date(s.starts_at) < o.endsAt && new Date(s.ends_at) > o.startsAt);
      if (clash) {
        logger.warn(
          { rotationId: rotation.id, userId: o.userId, seq: o.seq, conflictingShiftId: clash.id },
          'rotation period overlaps another shift of the user; left out',
        );
        continue;
      }
      rows.push({
        account_id: rotation.account_id,
        schedule_id: schedule.id,
        user_id: o.userId,
        rotation_id: rotation.id,
        rotation_seq: o.seq,
        starts_at: o.startsAt,
        ends_at: o.endsAt,
        note: rotation.name,
        ...armedReminder(o.startsAt, m),
      });
    }
    if (rows.length) {
      const inserted = await models.OncallShift.bulkCreate(rows, { ignoreDuplicates: true, transaction: tx });
      created = inserted.length;
    }
  }
  // Look again in a day: the horizon moves forward one day at a time.
  await rotation.update({ materialised_until: until, next_materialise_at: new Date(now.getTime() + DAY_MS) }, { transaction: tx });
  return created;
}
