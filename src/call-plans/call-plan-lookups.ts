import { readStatement, type SqlReader } from '../db/sql-reader.js';

/**
 * An E.164 number of the account, with what it reaches: the OnCall schedule
 * it is the number of (oncall_schedules.number_id is unique), else the
 * users whose external caller ID it is (one is a direct line). One
 * statement; rows are schedules × owners, so three rows tell "exactly one
 * owner" apart from "more than one".
 */
const NUMBER_SQL = readStatement(`SELECT n.id AS number_id, s.id AS schedule_id, u.id AS owner_id
  FROM phone_numbers n
  LEFT JOIN oncall_schedules s ON s.number_id = n.id AND s.account_id = n.account_id
  LEFT JOIN users u ON u.account_id = n.account_id AND u.external_caller_id_number = n.e164
  WHERE n.account_id = :accountId AND n.e164 = :number
  LIMIT 3`);

/**
 * The shift of a schedule that counts now. Shifts may overlap (a cover
 * shift on top of a rotation): the one that started last counts, since it
 * was put there to take over (index oncall_shifts_schedule_start).
 */
const SHIFT_NOW_SQL = readStatement(`SELECT id, user_id FROM oncall_shifts
  WHERE schedule_id = :scheduleId AND account_id = :accountId AND starts_at <= :at AND ends_at > :at
  ORDER BY starts_at DESC, id ASC LIMIT 1`);

export interface NumberTarget {
  numberId: number;
  scheduleId: number | null;
  /** Up to two distinct users with the number as their external caller ID. */
  ownerIds: number[];
}

/** What a dialled number of the account leads to, read straight through the driver (db/sql-reader.ts) on every such call. */
export class CallPlanLookups {
  constructor(private readonly reader: SqlReader) {}

  /** The account's number, or null when it is not one of the account's. */
  async number(accountId: number, e164: string): Promise<NumberTarget | null> {
    const rows = await this.reader.select(NUMBER_SQL, { accountId, number: e164 });
    if (!rows[0]) return null;
    const schedule = rows.find((r) => r.schedule_id !== null && r.schedule_id !== undefined);
    const owners = [...new Set(rows.filter((r) => r.owner_id !== null && r.owner_id !== undefined).map((r) => Number(r.owner_id)))];
    return { numberId: Number(rows[0].number_id), scheduleId: schedule ? Number(schedule.schedule_id) : null, ownerIds: owners.slice(0, 2) };
  }

  async shiftNow(accountId: number, scheduleId: number, at: Date): Promise<{ id: number; userId: number } | null> {
    const [row] = await this.reader.select(SHIFT_NOW_SQL, { accountId, scheduleId, at });
    return row ? { id: Number(row.id), userId: Number(row.user_id) } : null;
  }
}
