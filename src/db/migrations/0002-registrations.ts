import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * SIP bindings (RFC 3261 §10.3). One row per contact of a user's AOR; the
 * registrar counts a user's unexpired rows under a lock on the user row, so
 * the hot queries are "bindings of a user" and "rows past expiry".
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('registrations', {
    id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
    account_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'accounts', key: 'id' }, onDelete: 'CASCADE' },
    user_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
    aor: { type: DataTypes.STRING(320), allowNull: false },
    contact_uri: { type: DataTypes.STRING(1024), allowNull: false },
    /** The whole contact-param as received (RFC 4475 cparam01/02: stored exactly). */
    contact_raw: { type: DataTypes.TEXT, allowNull: false },
    q: { type: DataTypes.FLOAT, allowNull: true },
    expires_at: { type: DataTypes.DATE(3), allowNull: false },
    call_id: { type: DataTypes.STRING(255), allowNull: false },
    cseq: { type: DataTypes.BIGINT, allowNull: false },
    instance_id: { type: DataTypes.STRING(255), allowNull: true },
    reg_id: { type: DataTypes.INTEGER, allowNull: true },
    /** Path header values (RFC 3327), JSON array text; null when none. */
    path: { type: DataTypes.TEXT, allowNull: true },
    transport: { type: DataTypes.STRING(8), allowNull: false },
    source_address: { type: DataTypes.STRING(45), allowNull: false },
    source_port: { type: DataTypes.INTEGER, allowNull: false },
    connection_id: { type: DataTypes.STRING(64), allowNull: true },
    node_id: { type: DataTypes.STRING(128), allowNull: false },
    user_agent: { type: DataTypes.STRING(255), allowNull: true },
    unreachable: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    registered_at: { type: DataTypes.DATE(3), allowNull: false },
    updated_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('registrations', ['user_id', 'expires_at'], { name: 'registrations_user_expires' });
  await qi.addIndex('registrations', ['account_id', 'id'], { name: 'registrations_account' });
  await qi.addIndex('registrations', ['expires_at'], { name: 'registrations_expires' });
  await qi.addIndex('registrations', ['connection_id'], { name: 'registrations_connection' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('registrations');
}
