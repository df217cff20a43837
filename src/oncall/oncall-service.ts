import { Op, type Sequelize, type Transaction, type WhereOptions } from 'sequelize';
import type { Models, OncallSchedule, OncallShift } from '../db/models/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { diff } from '../audit/audit-log.js';
import { NotFoundError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { systemActor } from '../http/actor.js';
import type { Logger } from '../logger.js';
import { z } from 'zod';
import { CursorId, decodeCursor, encodeCursor, keysetPage, type Page, type PageRequest } from '../shared/pagination.js';
import { isAdmin, requireAdmin, requireReader } from '../shared/policy.js';
import { findInAccount, requireReference } from '../shared/references.js';
import { presentRotation, presentSchedule, presentShift } from './oncall-presenter.js';
import type {
  CreateRotationInput,
  CreateScheduleInput,
  CreateShiftInput,
  RotationView,
  ScheduleView,
  ShiftListInput,
  ShiftView,
  UpdateScheduleInput,
  UpdateShiftInput,
} from './oncall-schemas.js';
import * as rules from './oncall-rules.js';
import { armedReminder, remindAt } from './reminder-timing.js';
import { materialiseRotation } from './rotation-materialiser.js';

export interface OncallServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
  logger: Logger;
  rotationHorizonDays: number;
  /** Injected so tests control the clock. */
  now: () => Date;
}

/** (starts_at in ms, id): a time a Date can hold, so a crafted cursor cannot reach SQL as Invalid Date. */
const ShiftCursor = z.object({ t: z.number().int().min(-8.64e15).max(8.64e15), id: CursorId }).strict();

export class OncallService {
  constructor(private readonly d: OncallServiceDeps) {}

  private get models(): Models {
    return this.d.models;
  }

  // ---- schedules -----------------------------------------------------------

  async listSchedules(actor: Actor, q: { limit: number; cursor?: string | undefined }): Promise<Page<ScheduleView>> {
    requireReader(actor);
    const page = await keysetPage(this.models.OncallSchedule, { account_id: actor.accountId }, { sort: 'id', limit: q.limit, cursor: q.cursor });
    return { data: page.data.map(presentSchedule), next_cursor: page.next_cursor };
  }

  async getSchedule(actor: Actor, id: number): Promise<ScheduleView> {
    requireReader(actor);
    return presentSchedule(await findInAccount(this.models.OncallSchedule, actor.accountId, id, 'oncall_schedule'));
  }

  async createSchedule(actor: Actor, input: CreateScheduleInput): Promise<ScheduleView> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      await rules.scheduleNameFree(this.models, actor.accountId, input.name, null, tx);
      if (input.number_id) await rules.scheduleNumberUsable(this.models, actor.accountId, input.number_id, null, tx);
      const account = await this.models.Account.findByPk(actor.accountId, { attributes: ['timezone'], transaction: tx });
      const s = await this.models.OncallSchedule.create(
        {
          account_id: actor.accountId,
          name: input.name,
          timezone: input.timezone ?? account?.timezone ?? 'UTC',
          description: input.description ?? null,
          number_id: input.number_id ?? null,
        },
        { transaction: tx },
      );
      const view = presentSchedule(s);
      await this.d.audit.record(tx, actor, { action: 'oncall_schedule.created', targetType: 'oncall_schedule', targetId: s.id, after: view });
      return view;
    });
  }

  async updateSchedule(actor: Actor, id: number, input: UpdateScheduleInput): Promise<ScheduleView> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const s = await findInAccount(this.models.OncallSchedule, actor.accountId, id, 'oncall_schedule', tx);
      if (input.name !== undefined && input.name !== s.name) await rules.scheduleNameFree(this.models, actor.accountId, input.name, s.id, tx);
      if (input.number_id && input.number_id !== s.number_id) await rules.scheduleNumberUsable(this.models, actor.accountId, input.number_id, s.id, tx);
      const before = presentSchedule(s);
      await s.update(input, { transaction: tx });
      const after = presentSchedule(s);
      await this.d.audit.record(tx, actor, { action: 'oncall_schedule.updated', targetType: 'oncall_schedule', targetId: s.id, ...diff(before, after) });
      return after;
    });
  }

  /** Deleting a schedule deletes its shifts (and so cancels their pending reminders). */
  async removeSchedule(actor: Actor, id: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const s = await findInAccount(this.models.OncallSchedule, actor.accountId, id, 'oncall_schedule', tx);
      const before = presentSchedule(s);
      await this.models.OncallShift.destroy({ where: { schedule_id: s.id }, transaction: tx });
      await this.models.OncallRotation.destroy({ where: { schedule_id: s.id }, transaction: tx });
      await s.destroy({ transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'oncall_schedule.deleted', targetType: 'oncall_schedule', targetId: id, before });
    });
  }

  // ---- shifts --------------------------------------------------------------

  async listShifts(actor: Actor, scheduleId: number, q: ShiftListInput): Promise<Page<ShiftView>> {
    requireReader(actor);
    await findInAccount(this.models.OncallSchedule, actor.accountId, scheduleId, 'oncall_schedule');
    const where: Record<string, unknown> = { schedule_id: scheduleId };
    if (q.user_id) where.user_id = q.user_id;
    return this.shiftPage(where, q);
  }

  /** A user's own shifts in every schedule; admins and viewers may look at anyone's. */
  async listUserShifts(actor: Actor, userId: number, q: Omit<ShiftListInput, 'user_id'>): Promise<Page<ShiftView>> {
    requireReader(actor);
    if (!isAdmin(actor) && actor.role !== 'viewer' && actor.userId !== userId) throw new NotFoundError('user', userId);
    await findInAccount(this.models.User, actor.accountId, userId, 'user');
    return this.shiftPage({ user_id: userId, account_id: actor.accountId }, q);
  }

  async getShift(actor: Actor, scheduleId: number, shiftId: number): Promise<ShiftView> {
    requireReader(actor);
    return presentShift(await this.findShift(actor, scheduleId, shiftId));
  }

  async createShift(actor: Actor, scheduleId: number, input: CreateShiftInput): Promise<ShiftView> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const schedule = await findInAccount(this.models.OncallSchedule, actor.accountId, scheduleId, 'oncall_schedule', tx);
      const user = await requireReference(this.models.User, actor.accountId, input.user_id, 'user', 'user_id', tx);
      rules.shiftEndsAfterStart(input.starts_at, input.ends_at);
      rules.shiftNotTooLong(input.starts_at, input.ends_at);
      await rules.noOverlap(this.models, schedule.id, user.id, input.starts_at, input.ends_at, null, tx);
      const shift = await this.models.OncallShift.create(
        {
          account_id: actor.accountId,
          schedule_id: schedule.id,
          user_id: user.id,
          rotation_id: null,
          rotation_seq: null,
          starts_at: input.starts_at,
          ends_at: input.ends_at,
          note: input.note ?? null,
          ...armedReminder(input.starts_at, user.oncall_remind_minutes),
        },
        { transaction: tx },
      );
      const view = presentShift(shift);
      await this.d.audit.record(tx, actor, { action: 'oncall_shift.created', targetType: 'oncall_shift', targetId: shift.id, after: view });
      return view;
    });
  }

  /**
   * Moving starts_at (or handing the shift to another user) re-arms the
   * reminder for the new time, even when the old one already went out: the
   * person on call must learn the new start. Changing only ends_at or the
   * note leaves the reminder as it is.
   */
  async updateShift(actor: Actor, scheduleId: number, shiftId: number, input: UpdateShiftInput): Promise<ShiftView> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const shift = await this.findShift(actor, scheduleId, shiftId, tx);
      const before = presentShift(shift);
      const startsAt = input.starts_at ?? new Date(shift.starts_at);
      const endsAt = input.ends_at ?? new Date(shift.ends_at);
      const userId = input.user_id ?? shift.user_id;
      const user = await requireReference(this.models.User, actor.accountId, userId, 'user', 'user_id', tx);
      rules.shiftEndsAfterStart(startsAt, endsAt);
      rules.shiftNotTooLong(startsAt, endsAt);
      await rules.noOverlap(this.models, shift.schedule_id, userId, startsAt, endsAt, shift.id, tx);
      const moved = startsAt.getTime() !== new Date(shift.starts_at).getTime() || userId !== shift.user_id;
      await shift.update(
        {
          starts_at: startsAt,
          ends_at: endsAt,
          user_id: userId,
          ...(input.note !== undefined ? { note: input.note } : {}),
          ...(moved ? armedReminder(startsAt, user.oncall_remind_minutes) : {}),
        },
        { transaction: tx },
      );
      const after = presentShift(shift);
      const changed = diff(before, after);
      await this.d.audit.record(tx, actor, { action: 'oncall_shift.updated', targetType: 'oncall_shift', targetId: shift.id, ...changed });
      return after;
    });
  }

  /** Deleting the row is what cancels its reminder: the job only ever sends for rows it can claim. */
  async removeShift(actor: Actor, scheduleId: number, shiftId: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const shift = await this.findShift(actor, scheduleId, shiftId, tx);
      const before = presentShift(shift);
      await shift.destroy({ transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'oncall_shift.deleted', targetType: 'oncall_shift', targetId: shiftId, before });
    });
  }

  async onCallNow(actor: Actor, scheduleId: number) {
    requireReader(actor);
    const schedule = await findInAccount(this.models.OncallSchedule, actor.accountId, scheduleId, 'oncall_schedule');
    const at = this.d.now();
    const shifts = await this.models.OncallShift.findAll({
      where: { schedule_id: schedule.id, starts_at: { [Op.lte]: at }, ends_at: { [Op.gt]: at } },
      order: [
        ['starts_at', 'ASC'],
        ['id', 'ASC'],
      ],
      limit: 100,
    });
    const users = shifts.length ? await this.models.User.findAll({ where: { id: shifts.map((s) => s.user_id) }, attributes: ['id', 'name', 'extension'] }) : [];
    const byId = new Map(users.map((u) => [u.id, u]));
    return {
      schedule_id: schedule.id,
      at: at.toISOString(),
      on_call: shifts.flatMap((s) => {
        const u = byId.get(s.user_id);
        return u
          ? [
              {
                user_id: u.id,
                name: u.name,
                extension: u.extension,
                shift_id: s.id,
                starts_at: new Date(s.starts_at).toISOString(),
                ends_at: new Date(s.ends_at).toISOString(),
              },
            ]
          : [];
      }),
    };
  }

  /**
   * Called (inside the user update's transaction) when a user's
   * oncall_remind_minutes changes: every reminder of theirs that has not gone
   * out yet moves to the new time. Users stays unaware of OnCall: services.ts
   * wires this in as a callback.
   */
  async rescheduleUserReminders(tx: Transaction, userId: number, minutes: number): Promise<number> {
    const pending = await this.models.OncallShift.findAll({
      where: { user_id: userId, reminded_at: null, skipped_reason: null, ends_at: { [Op.gt]: this.d.now() } },
      attributes: ['id', 'starts_at', 'remind_at'],
      transaction: tx,
    });
    for (const s of pending) {
      const at = remindAt(new Date(s.starts_at), minutes);
      await this.models.OncallShift.update({ remind_at: at, next_attempt_at: at, attempts: 0, last_error: null }, { where: { id: s.id }, transaction: tx });
    }
    return pending.length;
  }

  // ---- rotations -----------------------------------------------------------

  async listRotations(actor: Actor, scheduleId: number, q: PageRequest): Promise<Page<RotationView>> {
    requireReader(actor);
    await findInAccount(this.models.OncallSchedule, actor.accountId, scheduleId, 'oncall_schedule');
    const page = await keysetPage(this.models.OncallRotation, { schedule_id: scheduleId }, { sort: 'id', ...q });
    return { data: page.data.map(presentRotation), next_cursor: page.next_cursor };
  }

  async createRotation(actor: Actor, scheduleId: number, input: CreateRotationInput): Promise<{ rotation: RotationView; shiftsCreated: number }> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const schedule = await findInAccount(this.models.OncallSchedule, actor.accountId, scheduleId, 'oncall_schedule', tx);
      for (const [i, uid] of input.user_ids.entries()) await requireReference(this.models.User, actor.accountId, uid, 'user', `user_ids.${i}`, tx);
      const rotation = await this.models.OncallRotation.create(
        {
          account_id: actor.accountId,
          schedule_id: schedule.id,
          name: input.name,
          user_ids: input.user_ids,
          period_unit: input.period_unit,
          period_count: input.period_count,
          start_date: input.start_date,
          handoff_time: input.handoff_time,
          horizon_days: input.horizon_days ?? this.d.rotationHorizonDays,
          materialised_until: null,
          next_materialise_at: null,
        },
        { transaction: tx },
      );
      const shiftsCreated = await materialiseRotation(this.models, rotation, schedule, this.d.now(), this.d.logger, tx);
      const view = presentRotation(rotation);
      await this.d.audit.record(tx, actor, {
        action: 'oncall_rotation.created',
        targetType: 'oncall_rotation',
        targetId: rotation.id,
        after: { ...view, shifts_created: shiftsCreated },
      });
      return { rotation: view, shiftsCreated };
    });
  }

  /** Removes the rotation and its shifts that have not started; past and current shifts stay as history. */
  async removeRotation(actor: Actor, scheduleId: number, rotationId: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const r = await this.models.OncallRotation.findOne({ where: { id: rotationId, schedule_id: scheduleId, account_id: actor.accountId }, transaction: tx });
      if (!r) throw new NotFoundError('oncall_rotation', rotationId);
      const removed = await this.models.OncallShift.destroy({ where: { rotation_id: r.id, starts_at: { [Op.gt]: this.d.now() } }, transaction: tx });
      const before = presentRotation(r);
      await r.destroy({ transaction: tx });
      await this.d.audit.record(tx, actor, {
        action: 'oncall_rotation.deleted',
        targetType: 'oncall_rotation',
        targetId: rotationId,
        before,
        after: { future_shifts_removed: removed },
      });
    });
  }

  /** The job's half of rotations: extend every rotation whose horizon has moved. Cheap when none is due (one indexed range scan). */
  async materialiseDueRotations(now: Date): Promise<number> {
    const due = await this.models.OncallRotation.findAll({ where: { next_materialise_at: { [Op.lte]: now } }, limit: 100 });
    let created = 0;
    for (const r of due) {
      await this.d.sequelize.transaction(async (tx) => {
        const schedule = await this.models.OncallSchedule.findByPk(r.schedule_id, { transaction: tx });
        if (!schedule) return;
        const n = await materialiseRotation(this.models, r, schedule, now, this.d.logger, tx);
        if (n > 0)
          await this.d.audit.record(tx, systemActor(r.account_id), {
            action: 'oncall_rotation.materialised',
            targetType: 'oncall_rotation',
            targetId: r.id,
            after: { shifts_created: n, materialised_until: new Date(r.materialised_until!).toISOString() },
          });
        created += n;
      });
    }
    return created;
  }

  // ---- helpers -------------------------------------------------------------

  private async findShift(actor: Actor, scheduleId: number, shiftId: number, tx?: Transaction): Promise<OncallShift> {
    const s = await this.models.OncallShift.findOne({ where: { id: shiftId, schedule_id: scheduleId, account_id: actor.accountId }, transaction: tx });
    if (!s) throw new NotFoundError('oncall_shift', shiftId);
    return s;
  }

  /** Keyset pagination on (starts_at, id): shifts read in time order. */
  private async shiftPage(
    base: Record<string, unknown>,
    q: { from?: Date | undefined; to?: Date | undefined; limit: number; cursor?: string | undefined },
  ): Promise<Page<ShiftView>> {
    const conditions: WhereOptions[] = [base, { ends_at: { [Op.gt]: q.from ?? this.d.now() } }];
    if (q.to) conditions.push({ starts_at: { [Op.lt]: q.to } });
    if (q.cursor) {
      const c = decodeCursor(q.cursor, ShiftCursor);
      const t = new Date(c.t);
      conditions.push({ [Op.or]: [{ starts_at: { [Op.gt]: t } }, { starts_at: t, id: { [Op.gt]: c.id } }] });
    }
    const rows = await this.models.OncallShift.findAll({
      where: { [Op.and]: conditions },
      order: [
        ['starts_at', 'ASC'],
        ['id', 'ASC'],
      ],
      limit: q.limit + 1,
    });
    const more = rows.length > q.limit;
    const data = more ? rows.slice(0, q.limit) : rows;
    const last = data[data.length - 1];
    const next = more && last ? encodeCursor({ t: new Date(last.starts_at).getTime(), id: last.id }) : null;
    return { data: data.map(presentShift), next_cursor: next };
  }
}

export type { OncallSchedule };
