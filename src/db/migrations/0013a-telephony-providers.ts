import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Bring-your-own telephony: an account's carriers (Twilio, Telnyx, Plivo or a
 * SIP trunk) and which numbers came from which one. A number without a
 * provider_id is on the platform's default telephony.
 *
 * Trunk registration state and its lease live on the provider row: exactly one
 * node holds lease_owner until lease_until and keeps the trunk registered.
 * A deleted trunk that was registered stays as a tombstone (deleted_at) until
 * that node has sent its Expires: 0.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('telephony_providers', {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    account_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'accounts', key: 'id' }, onDelete: 'CASCADE' },
    type: { type: DataTypes.STRING(16), allowNull: false },
    name: { type: DataTypes.STRING(120), allowNull: false },
    credentials_enc: { type: DataTypes.TEXT, allowNull: false },
    credentials_hint: { type: DataTypes.STRING(8), allowNull: false },
    settings: { type: DataTypes.TEXT, allowNull: false },
    enabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
    deleted_at: { type: DataTypes.DATE(3), allowNull: true },
    last_synced_at: { type: DataTypes.DATE(3), allowNull: true },
    last_sync_error: { type: DataTypes.STRING(500), allowNull: true },
    reg_state: { type: DataTypes.STRING(16), allowNull: true },
    reg_last_status: { type: DataTypes.INTEGER, allowNull: true },
    reg_last_error: { type: DataTypes.STRING(500), allowNull: true },
    reg_expires_at: { type: DataTypes.DATE(3), allowNull: true },
    reg_since: { type: DataTypes.DATE(3), allowNull: true },
    lease_owner: { type: DataTypes.STRING(120), allowNull: true },
    lease_until: { type: DataTypes.DATE(3), allowNull: true },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
    updated_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('telephony_providers', ['account_id', 'id']);
  await qi.addIndex('telephony_providers', ['type', 'lease_until']);

  await qi.addColumn('phone_numbers', 'provider_id', {
    type: DataTypes.INTEGER,
    allowNull: true,
    references: { model: 'telephony_providers', key: 'id' },
    onDelete: 'SET NULL',
  });
  await qi.addColumn('phone_numbers', 'mms', { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false });
  await qi.addColumn('phone_numbers', 'provider_missing', { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false });
  await qi.addIndex('phone_numbers', ['provider_id'], { name: 'phone_numbers_provider' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeIndex('phone_numbers', 'phone_numbers_provider');
  await qi.removeColumn('phone_numbers', 'provider_missing');
  await qi.removeColumn('phone_numbers', 'mms');
  await qi.removeColumn('phone_numbers', 'provider_id');
  await qi.dropTable('telephony_providers');
}
