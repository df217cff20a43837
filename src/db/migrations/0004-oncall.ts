import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * OnCall schedules, recurring rotations and shifts with their reminder state.
 *
 * The reminder job's only hot query is "which shifts need a look now?":
 * `next_attempt_at` holds exactly that instant (the reminder time, then the
 * retry time after an SMTP failure, then the lease end while a process holds
 * the claim) and is NULL once the reminder was sent, skipped or cancelled, so
 * the due query is one range scan on its index and a tick with nothing due
 * touches no row. `remind_at` keeps the derived nominal time (starts_at minus
 * the user's oncall_remind_minutes) for the late flag and the API.
 */
const ts = {
  created_at: { type: DataTypes.DATE(3), allowNull: false },
  updated_at: { type: DataTypes.DATE(3), allowNull: false },
};
const id = { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true };
const accountRef = { type: DataTypes.INTEGER, allowNull: false, references: { model: 'accounts', key: 'id' }, onDelete: 'CASCADE' };

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('oncall_schedules', {
    id,
    account_id: accountRef,
    name: { type: DataTypes.STRING(120), allowNull: false },
    timezone: { type: DataTypes.STRING(64), allowNull: false },
    description: { type: DataTypes.STRING(1000), allowNull: true },
    ...ts,
  });
  await qi.addIndex('oncall_schedules', ['account_id', 'name'], { unique: true, name: 'oncall_schedules_account_name' });

  await qi.createTable('oncall_rotations', {
    id,
    account_id: accountRef,
    schedule_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'oncall_schedules', key: 'id' }, onDelete: 'CASCADE' },
    name: { type: DataTypes.STRING(120), allowNull: false },
    user_ids: { type: DataTypes.JSON, allowNull: false },
    period_unit: { type: DataTypes.STRING(8), allowNull: false },
    period_count: { type: DataTypes.INTEGER, allowNull: false },
    start_date: { type: DataTypes.STRING(10), allowNull: false },
    handoff_time: { type: DataTypes.STRING(5), allowNull: false },
    horizon_days: { type: DataTypes.INTEGER, allowNull: false },
    materialised_until: { type: DataTypes.DATE(3), allowNull: true },
    next_materialise_at: { type: DataTypes.DATE(3), allowNull: true },
    ...ts,
  });
  await qi.addIndex('oncall_rotations', ['schedule_id']);
  await qi.addIndex('oncall_rotations', ['next_materialise_at'], { name: 'oncall_rotations_next_materialise' });

  await qi.createTable('oncall_shifts', {
    id,
    account_id: accountRef,
    schedule_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'oncall_schedules', key: 'id' }, onDelete: 'CASCADE' },
    user_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
    rotation_id: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'oncall_rotations', key: 'id' }, onDelete: 'SET NULL' },
    rotation_seq: { type: DataTypes.INTEGER, allowNull: true },
    starts_at: { type: DataTypes.DATE(3), allowNull: false },
    ends_at: { type: DataTypes.DATE(3), allowNull: false },
    note: { type: DataTypes.STRING(500), allowNull: true },
    remind_at: { type: DataTypes.DATE(3), allowNull: false },
    next_attempt_at: { type: DataTypes.DATE(3), allowNull: true },
    claimed_by: { type: DataTypes.STRING(64), allowNull: true },
    claim_expires_at: { type: DataTypes.DATE(3), allowNull: true },
    attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    last_error: { type: DataTypes.STRING(300), allowNull: true },
    reminded_at: { type: DataTypes.DATE(3), allowNull: true },
    message_id: { type: DataTypes.STRING(255), allowNull: true },
    late: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    skipped_reason: { type: DataTypes.STRING(40), allowNull: true },
    ...ts,
  });
  await qi.addIndex('oncall_shifts', ['next_attempt_at'], { name: 'oncall_shifts_next_attempt' });
  await qi.addIndex('oncall_shifts', ['schedule_id', 'user_id', 'starts_at'], { name: 'oncall_shifts_schedule_user_start' });
  await qi.addIndex('oncall_shifts', ['schedule_id', 'starts_at'], { name: 'oncall_shifts_schedule_start' });
  await qi.addIndex('oncall_shifts', ['user_id', 'starts_at'], { name: 'oncall_shifts_user_start' });
  // Two processes materialising one rotation insert each occurrence once.
  await qi.addIndex('oncall_shifts', ['rotation_id', 'rotation_seq'], { unique: true, name: 'oncall_shifts_rotation_seq' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  for (const t of ['oncall_shifts', 'oncall_rotations', 'oncall_schedules']) await qi.dropTable(t);
}
