import type { OncallRotation, OncallSchedule, OncallShift } from '../db/models/index.js';
import type { RotationView, ScheduleView, ShiftView } from './oncall-schemas.js';

const iso = (d: Date | string) => new Date(d).toISOString();
const isoOrNull = (d: Date | string | null) => (d === null ? null : iso(d));

export function presentSchedule(s: OncallSchedule): ScheduleView {
  return {
    id: s.id,
    name: s.name,
    timezone: s.timezone,
    description: s.description,
    number_id: s.number_id ?? null,
    created_at: iso(s.created_at),
    updated_at: iso(s.updated_at),
  };
}

/** Claim and lease columns are the job's business and stay inside. */
export function presentShift(s: OncallShift): ShiftView {
  let status: ShiftView['reminder']['status'] = 'pending';
  if (s.reminded_at) status = 'sent';
  else if (s.skipped_reason) status = 'skipped';
  else if (s.attempts > 0) status = 'retrying';
  return {
    id: s.id,
    schedule_id: s.schedule_id,
    user_id: s.user_id,
    rotation_id: s.rotation_id,
    starts_at: iso(s.starts_at),
    ends_at: iso(s.ends_at),
    note: s.note,
    reminder: {
      remind_at: iso(s.remind_at),
      status,
      reminded_at: isoOrNull(s.reminded_at),
      late: Boolean(s.late),
      attempts: s.attempts,
      skipped_reason: s.skipped_reason,
    },
    created_at: iso(s.created_at),
    updated_at: iso(s.updated_at),
  };
}

export function presentRotation(r: OncallRotation): RotationView {
  return {
    id: r.id,
    schedule_id: r.schedule_id,
    name: r.name,
    user_ids: r.user_ids,
    period_unit: r.period_unit,
    period_count: r.period_count,
    start_date: r.start_date,
    handoff_time: r.handoff_time,
    horizon_days: r.horizon_days,
    materialised_until: isoOrNull(r.materialised_until),
    created_at: iso(r.created_at),
  };
}
