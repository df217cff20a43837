import { Op, type Transaction } from 'sequelize';
import type { Models } from '../db/models/index.js';
import { ConflictError, RuleError } from '../errors.js';

/** The OnCall rules, each a small named check with its own code and field. */

export function shiftEndsAfterStart(startsAt: Date, endsAt: Date): void {
  if (endsAt.getTime() <= startsAt.getTime()) throw new RuleError('shift_ends_before_start', 'ends_at must be after starts_at', 'ends_at');
}

export function shiftNotTooLong(startsAt: Date, endsAt: Date): void {
  // A month-long "shift" is almost always a typo in the year; rotations cover long on-call duty.
  if (endsAt.getTime() - startsAt.getTime() > 31 * 86_400_000)
    throw new RuleError('shift_too_long', 'A shift lasts at most 31 days; use a rotation for longer duty', 'ends_at');
}

/** One user cannot hold two overlapping shifts in one schedule (half-open intervals: back-to-back is fine). */
export async function noOverlap(
  models: Models,
  scheduleId: number,
  userId: number,
  startsAt: Date,
  endsAt: Date,
  exceptShiftId: number | null,
  tx: Transaction,
): Promise<void> {
  const other = await models.OncallShift.findOne({
    where: {
      schedule_id: scheduleId,
      user_id: userId,
      starts_at: { [Op.lt]: endsAt },
      ends_at: { [Op.gt]: startsAt },
      ...(exceptShiftId ? { id: { [Op.ne]: exceptShiftId } } : {}),
    },
    attributes: ['id', 'starts_at', 'ends_at'],
    transaction: tx,
  });
  if (other) {
    throw new ConflictError(
      'shift_overlap',
      `User ${userId} already has shift ${other.id} in this schedule from ${new Date(other.starts_at).toISOString()} to ${new Date(other.ends_at).toISOString()}`,
      'starts_at',
      { conflicting_shift_id: other.id },
    );
  }
}

export async function scheduleNameFree(models: Models, accountId: number, name: string, exceptId: number | null, tx: Transaction): Promise<void> {
  const other = await models.OncallSchedule.findOne({
    where: { account_id: accountId, name, ...(exceptId ? { id: { [Op.ne]: exceptId } } : {}) },
    attributes: ['id'],
    transaction: tx,
  });
  if (other) throw new ConflictError('schedule_name_taken', `Schedule "${name}" already exists (id ${other.id})`, 'name');
}

/**
 * A schedule's number must be a voice number of the account that no other
 * schedule and no fax service answers: one dialled number, one meaning.
 */
export async function scheduleNumberUsable(
  models: Models,
  accountId: number,
  numberId: number,
  exceptScheduleId: number | null,
  tx: Transaction,
): Promise<void> {
  const n = await models.PhoneNumber.findOne({ where: { id: numberId, account_id: accountId }, attributes: ['id', 'e164', 'voice'], transaction: tx });
  if (!n) throw new RuleError('unknown_number', `number_id: no number ${numberId} in this account`, 'number_id');
  if (!n.voice) throw new RuleError('number_not_voice_capable', `${n.e164} cannot take calls (capabilities.voice is false)`, 'number_id');
  const other = await models.OncallSchedule.findOne({
    where: { number_id: numberId, ...(exceptScheduleId ? { id: { [Op.ne]: exceptScheduleId } } : {}) },
    attributes: ['id'],
    transaction: tx,
  });
  if (other) throw new ConflictError('number_in_use', `${n.e164} already reaches OnCall schedule ${other.id}`, 'number_id');
  const fax = await models.FaxService.findOne({ where: { number_id: numberId }, attributes: ['id'], transaction: tx });
  if (fax) throw new ConflictError('number_in_use', `${n.e164} is fax service ${fax.id}'s number`, 'number_id');
}
