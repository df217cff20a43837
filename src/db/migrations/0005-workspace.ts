import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Workspace administration: per-user API keys, the workspace X-API-KEY,
 * member invitations, the account logo, and webhooks with their outbox of
 * deliveries. Secrets are stored as SHA-256 digests (lookup) and, where an
 * admin must read them back or we must sign with them, AES-GCM ciphertext.
 */
const id = { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true };
const accountRef = { type: DataTypes.INTEGER, allowNull: false, references: { model: 'accounts', key: 'id' }, onDelete: 'CASCADE' };
const ts = {
  created_at: { type: DataTypes.DATE(3), allowNull: false },
  updated_at: { type: DataTypes.DATE(3), allowNull: false },
};

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  // MEDIUMTEXT on MariaDB (TEXT stops at 64 KB); SQLite has one TEXT type and warns about options.
  const longText = qi.sequelize.getDialect() === 'mysql' ? DataTypes.TEXT('medium') : DataTypes.TEXT;
  await qi.createTable('api_keys', {
    id,
    account_id: accountRef,
    user_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
    token: { type: DataTypes.STRING(40), allowNull: false, unique: true },
    secret_hash: { type: DataTypes.STRING(64), allowNull: false },
    name: { type: DataTypes.STRING(120), allowNull: false },
    last_used_at: { type: DataTypes.DATE(3), allowNull: true },
    revoked_at: { type: DataTypes.DATE(3), allowNull: true },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('api_keys', ['user_id', 'id']);
  await qi.addIndex('api_keys', ['account_id', 'id']);

  // Access tokens obtained with an API key die with the key.
  await qi.addColumn('access_tokens', 'api_key_id', {
    type: DataTypes.INTEGER,
    allowNull: true,
    references: { model: 'api_keys', key: 'id' },
    onDelete: 'CASCADE',
  });
  await qi.addIndex('access_tokens', ['api_key_id']);

  await qi.addColumn('accounts', 'workspace_key_hash', { type: DataTypes.STRING(64), allowNull: true });
  await qi.addColumn('accounts', 'workspace_key_enc', { type: DataTypes.TEXT, allowNull: true });
  await qi.addColumn('accounts', 'workspace_key_last4', { type: DataTypes.STRING(4), allowNull: true });
  await qi.addColumn('accounts', 'workspace_key_created_at', { type: DataTypes.DATE(3), allowNull: true });
  await qi.addIndex('accounts', ['workspace_key_hash'], { unique: true, name: 'accounts_workspace_key_hash' });

  await qi.createTable('account_logos', {
    account_id: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true, references: { model: 'accounts', key: 'id' }, onDelete: 'CASCADE' },
    content_type: { type: DataTypes.STRING(40), allowNull: false },
    sha256: { type: DataTypes.STRING(64), allowNull: false },
    // MEDIUMBLOB on MariaDB (16 MB); logos are capped at 1 MB by the API.
    data: { type: DataTypes.BLOB('medium'), allowNull: false },
    ...ts,
  });

  await qi.createTable('member_invitations', {
    id,
    account_id: accountRef,
    email: { type: DataTypes.STRING(254), allowNull: false },
    role: { type: DataTypes.STRING(16), allowNull: false },
    token_hash: { type: DataTypes.STRING(64), allowNull: false, unique: true },
    status: { type: DataTypes.STRING(16), allowNull: false },
    expires_at: { type: DataTypes.DATE(3), allowNull: false },
    invited_by: { type: DataTypes.STRING(64), allowNull: true },
    user_id: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'users', key: 'id' }, onDelete: 'SET NULL' },
    ...ts,
  });
  await qi.addIndex('member_invitations', ['account_id', 'status', 'email']);

  await qi.createTable('webhooks', {
    id,
    account_id: accountRef,
    url: { type: DataTypes.STRING(2048), allowNull: false },
    events: { type: DataTypes.JSON, allowNull: false },
    description: { type: DataTypes.STRING(500), allowNull: true },
    active: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
    secret_enc: { type: DataTypes.TEXT, allowNull: false },
    failing_since: { type: DataTypes.DATE(3), allowNull: true },
    disabled_reason: { type: DataTypes.STRING(200), allowNull: true },
    ...ts,
  });
  await qi.addIndex('webhooks', ['account_id', 'id']);

  // The outbox: one row per (event, webhook), written in the transaction that made the change.
  await qi.createTable('webhook_deliveries', {
    id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
    account_id: accountRef,
    webhook_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'webhooks', key: 'id' }, onDelete: 'CASCADE' },
    event_id: { type: DataTypes.STRING(40), allowNull: false },
    event_type: { type: DataTypes.STRING(64), allowNull: false },
    payload: { type: longText, allowNull: false },
    status: { type: DataTypes.STRING(16), allowNull: false },
    attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    next_attempt_at: { type: DataTypes.DATE(3), allowNull: true },
    lease_owner: { type: DataTypes.STRING(40), allowNull: true },
    lease_until: { type: DataTypes.DATE(3), allowNull: true },
    last_attempt_at: { type: DataTypes.DATE(3), allowNull: true },
    last_status_code: { type: DataTypes.INTEGER, allowNull: true },
    last_error: { type: DataTypes.STRING(500), allowNull: true },
    last_duration_ms: { type: DataTypes.INTEGER, allowNull: true },
    delivered_at: { type: DataTypes.DATE(3), allowNull: true },
    ...ts,
  });
  await qi.addIndex('webhook_deliveries', ['status', 'next_attempt_at'], { name: 'webhook_deliveries_due' });
  await qi.addIndex('webhook_deliveries', ['webhook_id', 'id']);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('webhook_deliveries');
  await qi.dropTable('webhooks');
  await qi.dropTable('member_invitations');
  await qi.dropTable('account_logos');
  await qi.removeIndex('accounts', 'accounts_workspace_key_hash');
  for (const c of ['workspace_key_hash', 'workspace_key_enc', 'workspace_key_last4', 'workspace_key_created_at']) await qi.removeColumn('accounts', c);
  await qi.removeColumn('access_tokens', 'api_key_id');
  await qi.dropTable('api_keys');
}
