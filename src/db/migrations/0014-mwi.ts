import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Voicemail message-waiting (RFC 3842).
 *
 * - mailboxes: urgent counts beside new/old, and `counts_seq`, the
 *   voicemail system's sequence number of the last update applied (an older
 *   one is refused) doubling as the counts' ETag.
 * - accounts.mwi_enabled: the per-account switch for NOTIFYs.
 * - mwi_changes: one row per counts change, written in the API's
 *   transaction; every SIP node polls it for ids past the last it saw, so
 *   the node holding a device's connection notifies it whichever node took
 *   the HTTP request. Rows are pruned after a while.
 * - mwi_subscriptions: SUBSCRIBE dialogs (RFC 6665), so a restart keeps
 *   them. `registration_id` ties one to the binding of the device that
 *   subscribed; ON DELETE CASCADE ends it when that binding goes (unregister,
 *   expiry, API removal, connection close).
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('mailboxes', 'urgent_new_messages', { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 });
  await qi.addColumn('mailboxes', 'urgent_old_messages', { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 });
  await qi.addColumn('mailboxes', 'counts_seq', { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 });
  await qi.addColumn('mailboxes', 'counts_updated_at', { type: DataTypes.DATE(3), allowNull: true });
  await qi.addColumn('accounts', 'mwi_enabled', { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true });
  await qi.createTable('mwi_changes', {
    id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
    mailbox_id: { type: DataTypes.INTEGER, allowNull: false },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('mwi_changes', ['created_at'], { name: 'mwi_changes_created' });
  await qi.createTable('mwi_subscriptions', {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    account_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'accounts', key: 'id' }, onDelete: 'CASCADE' },
    user_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
    registration_id: { type: DataTypes.BIGINT, allowNull: true, references: { model: 'registrations', key: 'id' }, onDelete: 'CASCADE' },
    aor: { type: DataTypes.STRING(255), allowNull: false },
    call_id: { type: DataTypes.STRING(255), allowNull: false },
    local_tag: { type: DataTypes.STRING(64), allowNull: false },
    remote_tag: { type: DataTypes.STRING(255), allowNull: false },
    remote_uri: { type: DataTypes.STRING(1024), allowNull: false },
    contact_uri: { type: DataTypes.STRING(1024), allowNull: false },
    notify_cseq: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    expires_at: { type: DataTypes.DATE(3), allowNull: false },
    transport: { type: DataTypes.STRING(8), allowNull: false },
    source_address: { type: DataTypes.STRING(64), allowNull: false },
    source_port: { type: DataTypes.INTEGER, allowNull: false },
    connection_id: { type: DataTypes.STRING(128), allowNull: true },
    node_id: { type: DataTypes.STRING(255), allowNull: false },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('mwi_subscriptions', ['call_id', 'local_tag'], { unique: true, name: 'mwi_subscriptions_dialog' });
  await qi.addIndex('mwi_subscriptions', ['user_id'], { name: 'mwi_subscriptions_user' });
  await qi.addIndex('mwi_subscriptions', ['node_id', 'connection_id'], { name: 'mwi_subscriptions_connection' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('mwi_subscriptions');
  await qi.dropTable('mwi_changes');
  await qi.removeColumn('accounts', 'mwi_enabled');
  for (const c of ['counts_updated_at', 'counts_seq', 'urgent_old_messages', 'urgent_new_messages']) await qi.removeColumn('mailboxes', c);
}
