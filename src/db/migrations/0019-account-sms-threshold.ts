import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * accounts.sms_monthly_threshold: the workspace's own monthly SMS count past
 * which its billing contacts get the usage email. NULL keeps the configured
 * default (usage.smsMonthlyThreshold), 0 turns the email off for it.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('accounts', 'sms_monthly_threshold', { type: DataTypes.INTEGER, allowNull: true });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('accounts', 'sms_monthly_threshold');
}
