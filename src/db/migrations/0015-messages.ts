import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * SMS in and out. Every message is a row of `messages` (inbound from a
 * carrier, outbound from the API, a phone or the auto-responder); outbound
 * rows are also the outbox: `queued` rows with `next_attempt_at` are what
 * the sender job claims (a conditional UPDATE of `lease_until`), so a send
 * that met a 429 or 5xx is retried and never lost, and one node sends it.
 *
 * (provider_id, direction, provider_message_id) is unique: a carrier that
 * delivers the same webhook twice gets the first row back, and a status
 * callback finds its message.
 *
 * `sms_reply_claims` holds one row per (our number, sender): the
 * auto-responder claims it with an INSERT (the primary key decides between
 * two nodes) or a conditional UPDATE when the last claim is older than the
 * window, so two nodes receiving two SMS from one sender send one reply.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('messages', {
    id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
    account_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'accounts', key: 'id' }, onDelete: 'CASCADE' },
    user_id: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'users', key: 'id' }, onDelete: 'SET NULL' },
    direction: { type: DataTypes.STRING(8), allowNull: false },
    our_number: { type: DataTypes.STRING(16), allowNull: false },
    peer_number: { type: DataTypes.STRING(16), allowNull: false },
    recipients: { type: DataTypes.TEXT, allowNull: true },
    body: { type: DataTypes.TEXT, allowNull: false },
    encoding: { type: DataTypes.STRING(8), allowNull: false },
    segments: { type: DataTypes.INTEGER, allowNull: false },
    source: { type: DataTypes.STRING(8), allowNull: false },
    auto: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    in_reply_to: { type: DataTypes.BIGINT, allowNull: true },
    status: { type: DataTypes.STRING(16), allowNull: false },
    unrouted_reason: { type: DataTypes.STRING(32), allowNull: true },
    provider_id: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'telephony_providers', key: 'id' }, onDelete: 'SET NULL' },
    provider_message_id: { type: DataTypes.STRING(100), allowNull: true },
    error_code: { type: DataTypes.STRING(64), allowNull: true },
    error_message: { type: DataTypes.STRING(500), allowNull: true },
    attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    next_attempt_at: { type: DataTypes.DATE(3), allowNull: true },
    lease_until: { type: DataTypes.DATE(3), allowNull: true },
    sent_at: { type: DataTypes.DATE(3), allowNull: true },
    delivered_at: { type: DataTypes.DATE(3), allowNull: true },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
    updated_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('messages', ['account_id', 'id'], { name: 'messages_account' });
  await qi.addIndex('messages', ['account_id', 'user_id', 'id'], { name: 'messages_account_user' });
  await qi.addIndex('messages', ['account_id', 'our_number', 'id'], { name: 'messages_account_number' });
  await qi.addIndex('messages', ['status', 'next_attempt_at'], { name: 'messages_outbox_due' });
  await qi.addIndex('messages', ['provider_id', 'direction', 'provider_message_id'], { unique: true, name: 'messages_provider_message' });

  await qi.createTable('message_deliveries', {
    id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
    message_id: { type: DataTypes.BIGINT, allowNull: false, references: { model: 'messages', key: 'id' }, onDelete: 'CASCADE' },
    // No foreign key: the binding may be gone while its delivery record stays.
    registration_id: { type: DataTypes.BIGINT, allowNull: false },
    contact: { type: DataTypes.TEXT, allowNull: false },
    user_agent: { type: DataTypes.STRING(255), allowNull: true },
    status: { type: DataTypes.STRING(16), allowNull: false },
    sip_status: { type: DataTypes.INTEGER, allowNull: false },
    reason: { type: DataTypes.STRING(255), allowNull: true },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('message_deliveries', ['message_id', 'id'], { name: 'message_deliveries_message' });

  await qi.createTable('sms_reply_claims', {
    our_number: { type: DataTypes.STRING(16), allowNull: false, primaryKey: true },
    peer_number: { type: DataTypes.STRING(16), allowNull: false, primaryKey: true },
    claimed_at: { type: DataTypes.DATE(3), allowNull: false },
  });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('sms_reply_claims');
  await qi.dropTable('message_deliveries');
  await qi.dropTable('messages');
}
