import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Usage kept as daily rows, never as events, so a report over a year
 * reads rows per day (or per month) instead of one row per request.
 *
 * - usage_daily: one row per (account, user, type, UTC day). user_id 0 is
 *   usage of no user (the workspace key, an unrouted SMS): a NULL in a
 *   primary key would make every such row distinct and the upsert could
 *   never meet its own row. No foreign keys: a deleted user's history stays
 *   (billing looks back), and a late flush must not fail its whole batch
 *   because one account was deleted a moment before.
 * - usage_monthly: the same per UTC month, written in the same flush, so a
 *   report by user over a year reads 12 rows per user and type, not 365.
 * - usage_account_daily: the account's total per type and day; for
 *   active_devices_peak the account's own peak (sampled), which is not the
 *   sum of its users' peaks.
 * - usage_alerts: one row per account, alert kind and month; the claim on
 *   it is what sends a threshold email once across every node.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  const key = (t: ReturnType<typeof DataTypes.STRING> | typeof DataTypes.INTEGER) => ({ type: t, allowNull: false, primaryKey: true });
  await qi.createTable('usage_daily', {
    account_id: key(DataTypes.INTEGER),
    user_id: key(DataTypes.INTEGER),
    type: key(DataTypes.STRING(24)),
    day: key(DataTypes.STRING(10)),
    amount: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
  });
  await qi.createTable('usage_monthly', {
    account_id: key(DataTypes.INTEGER),
    user_id: key(DataTypes.INTEGER),
    type: key(DataTypes.STRING(24)),
    month: key(DataTypes.STRING(7)),
    amount: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
  });
  await qi.createTable('usage_account_daily', {
    account_id: key(DataTypes.INTEGER),
    type: key(DataTypes.STRING(24)),
    day: key(DataTypes.STRING(10)),
    amount: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
  });
  // Reports by day read every type of a day range: (account, day) first.
  await qi.addIndex('usage_account_daily', ['account_id', 'day'], { name: 'usage_account_daily_day' });
  await qi.createTable('usage_alerts', {
    account_id: key(DataTypes.INTEGER),
    kind: key(DataTypes.STRING(32)),
    period: key(DataTypes.STRING(7)),
    threshold: { type: DataTypes.BIGINT, allowNull: false },
    total: { type: DataTypes.BIGINT, allowNull: false },
    claimed_by: { type: DataTypes.STRING(120), allowNull: true },
    claim_expires_at: { type: DataTypes.DATE(3), allowNull: true },
    attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    next_attempt_at: { type: DataTypes.DATE(3), allowNull: false },
    sent_at: { type: DataTypes.DATE(3), allowNull: true },
    message_id: { type: DataTypes.STRING(255), allowNull: true },
    recipients: { type: DataTypes.TEXT, allowNull: true },
    last_error: { type: DataTypes.STRING(500), allowNull: true },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('usage_alerts', ['sent_at', 'next_attempt_at'], { name: 'usage_alerts_due' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('usage_alerts');
  await qi.dropTable('usage_account_daily');
  await qi.dropTable('usage_monthly');
  await qi.dropTable('usage_daily');
}
