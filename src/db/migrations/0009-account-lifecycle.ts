import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * - users.member_removed_at: a member removed from the workspace (or who left)
 *   loses sign-in and API keys, while the PBX user (extension, mailbox,
 *   phones) stays until an admin deletes it; removal and deletion are two acts.
 * - account_deletions: what remains of a deleted workspace (who, when, how
 *   much went). No foreign key: the account it names no longer exists.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('users', 'member_removed_at', { type: DataTypes.DATE(3), allowNull: true });
  await qi.createTable('account_deletions', {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    account_id: { type: DataTypes.INTEGER, allowNull: false },
    account_name: { type: DataTypes.STRING(255), allowNull: false },
    sip_domain: { type: DataTypes.STRING(253), allowNull: false },
    deleted_by: { type: DataTypes.STRING(120), allowNull: false },
    deleted_by_user_id: { type: DataTypes.INTEGER, allowNull: true },
    source_ip: { type: DataTypes.STRING(64), allowNull: true },
    counts: { type: DataTypes.JSON, allowNull: false },
    deleted_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('account_deletions', ['account_id'], { name: 'account_deletions_account' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('account_deletions');
  await qi.removeColumn('users', 'member_removed_at');
}
