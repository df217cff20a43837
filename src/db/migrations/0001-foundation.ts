import { DataTypes, type QueryInterface } from 'sequelize';

/**
 * Accounts, users and the objects a user refers to, access tokens and the
 * audit log. Columns are snake_case to match the API; indexes cover every
 * list filter so reads stay fast at 100,000 users.
 */
const ts = {
  created_at: { type: DataTypes.DATE(3), allowNull: false },
  updated_at: { type: DataTypes.DATE(3), allowNull: false },
};
const id = { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true };
const accountRef = {
  type: DataTypes.INTEGER,
  allowNull: false,
  references: { model: 'accounts', key: 'id' },
  onDelete: 'CASCADE',
};

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('accounts', {
    id,
    name: { type: DataTypes.STRING(120), allowNull: false },
    sip_domain: { type: DataTypes.STRING(253), allowNull: false, unique: true },
    website: { type: DataTypes.STRING(2048), allowNull: true },
    timezone: { type: DataTypes.STRING(64), allowNull: false, defaultValue: 'UTC' },
    default_caller_id_number: { type: DataTypes.STRING(16), allowNull: true },
    extension_min_length: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 3 },
    extension_max_length: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 6 },
    binding_policy: { type: DataTypes.STRING(20), allowNull: false, defaultValue: 'reject' },
    ...ts,
  });

  await qi.createTable('locations', {
    id,
    account_id: accountRef,
    name: { type: DataTypes.STRING(120), allowNull: false },
    address_line1: { type: DataTypes.STRING(200), allowNull: false },
    address_line2: { type: DataTypes.STRING(200), allowNull: true },
    city: { type: DataTypes.STRING(100), allowNull: false },
    region: { type: DataTypes.STRING(100), allowNull: false },
    postal_code: { type: DataTypes.STRING(20), allowNull: false },
    country: { type: DataTypes.STRING(2), allowNull: false },
    callback_number: { type: DataTypes.STRING(16), allowNull: false },
    ...ts,
  });
  await qi.addIndex('locations', ['account_id', 'id']);

  await qi.createTable('phone_numbers', {
    id,
    account_id: accountRef,
    e164: { type: DataTypes.STRING(16), allowNull: false, unique: true },
    label: { type: DataTypes.STRING(120), allowNull: true },
    voice: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
    sms: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    fax: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    provider: { type: DataTypes.STRING(40), allowNull: false, defaultValue: 'default' },
    ...ts,
  });
  await qi.addIndex('phone_numbers', ['account_id', 'id']);

  await qi.createTable('fax_services', {
    id,
    account_id: accountRef,
    name: { type: DataTypes.STRING(120), allowNull: false },
    number_id: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'phone_numbers', key: 'id' }, onDelete: 'RESTRICT' },
    notify_email: { type: DataTypes.STRING(254), allowNull: true },
    ...ts,
  });
  await qi.addIndex('fax_services', ['account_id', 'id']);

  await qi.createTable('users', {
    id,
    account_id: accountRef,
    name: { type: DataTypes.STRING(120), allowNull: false },
    extension: { type: DataTypes.STRING(15), allowNull: false },
    username: { type: DataTypes.STRING(64), allowNull: false, unique: true },
    email: { type: DataTypes.STRING(254), allowNull: true },
    password_hash: { type: DataTypes.STRING(100), allowNull: true },
    status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'active' },
    role: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'user' },
    max_bindings: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 10 },
    binding_policy: { type: DataTypes.STRING(20), allowNull: true },
    sip_ha1_md5: { type: DataTypes.STRING(32), allowNull: false },
    sip_ha1_sha256: { type: DataTypes.STRING(64), allowNull: false },
    sip_password_enc: { type: DataTypes.TEXT, allowNull: false },
    sip_prev_ha1_md5: { type: DataTypes.STRING(32), allowNull: true },
    sip_prev_ha1_sha256: { type: DataTypes.STRING(64), allowNull: true },
    sip_prev_valid_until: { type: DataTypes.DATE(3), allowNull: true },
    oncall_pin_hash: { type: DataTypes.STRING(100), allowNull: false },
    external_caller_id_name: { type: DataTypes.STRING(64), allowNull: true },
    external_caller_id_number: { type: DataTypes.STRING(16), allowNull: true },
    mobile: { type: DataTypes.STRING(16), allowNull: true },
    call_timeout: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 30 },
    forward_behavior: { type: DataTypes.JSON, allowNull: false },
    location_id: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'locations', key: 'id' }, onDelete: 'RESTRICT' },
    mailbox_id: { type: DataTypes.INTEGER, allowNull: true },
    notification_email: { type: DataTypes.STRING(254), allowNull: true },
    voicemail_email: { type: DataTypes.STRING(254), allowNull: true },
    fax_service_id: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'fax_services', key: 'id' }, onDelete: 'RESTRICT' },
    oncall_remind_minutes: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 15 },
    oncall_remind_email: { type: DataTypes.STRING(254), allowNull: true },
    outbound_sms_number: { type: DataTypes.STRING(16), allowNull: true },
    mobile_signaling: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'auto' },
    sms_enabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    sms_auto_responder_enabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    sms_auto_response_text: { type: DataTypes.STRING(480), allowNull: true },
    call_recording: { type: DataTypes.STRING(10), allowNull: false, defaultValue: 'none' },
    play_recording_announcement: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    otp_required: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    otp_secret_enc: { type: DataTypes.TEXT, allowNull: true },
    billing_contact: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    version: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 1 },
    ...ts,
  });
  await qi.addIndex('users', ['account_id', 'extension'], { unique: true, name: 'users_account_extension' });
  await qi.addIndex('users', ['account_id', 'name', 'id'], { name: 'users_account_name' });
  await qi.addIndex('users', ['account_id', 'role', 'id'], { name: 'users_account_role' });
  await qi.addIndex('users', ['account_id', 'username'], { name: 'users_account_username' });

  await qi.createTable('mailboxes', {
    id,
    account_id: accountRef,
    number: { type: DataTypes.STRING(15), allowNull: false },
    name: { type: DataTypes.STRING(120), allowNull: false },
    pin_hash: { type: DataTypes.STRING(100), allowNull: true },
    owner_user_id: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'users', key: 'id' }, onDelete: 'SET NULL' },
    new_messages: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    old_messages: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    ...ts,
  });
  await qi.addIndex('mailboxes', ['account_id', 'number'], { unique: true, name: 'mailboxes_account_number' });
  await qi.addIndex('mailboxes', ['owner_user_id']);
  await qi.addIndex('users', ['mailbox_id']);

  await qi.createTable('mailbox_delegations', {
    mailbox_id: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true, references: { model: 'mailboxes', key: 'id' }, onDelete: 'CASCADE' },
    user_id: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('mailbox_delegations', ['user_id']);

  await qi.createTable('access_tokens', {
    id,
    account_id: accountRef,
    user_id: { type: DataTypes.INTEGER, allowNull: false, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
    token_hash: { type: DataTypes.STRING(64), allowNull: false, unique: true },
    grant_type: { type: DataTypes.STRING(20), allowNull: false },
    expires_at: { type: DataTypes.DATE(3), allowNull: false },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('access_tokens', ['user_id']);
  await qi.addIndex('access_tokens', ['expires_at']);

  await qi.createTable('audit_entries', {
    id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
    account_id: accountRef,
    actor_type: { type: DataTypes.STRING(20), allowNull: false },
    actor_id: { type: DataTypes.STRING(64), allowNull: true },
    action: { type: DataTypes.STRING(64), allowNull: false },
    target_type: { type: DataTypes.STRING(40), allowNull: false },
    target_id: { type: DataTypes.STRING(64), allowNull: true },
    before: { type: DataTypes.JSON, allowNull: true },
    after: { type: DataTypes.JSON, allowNull: true },
    source_ip: { type: DataTypes.STRING(45), allowNull: true },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('audit_entries', ['account_id', 'id']);
  await qi.addIndex('audit_entries', ['account_id', 'target_type', 'target_id']);
  await qi.addIndex('audit_entries', ['account_id', 'action']);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  for (const t of ['audit_entries', 'access_tokens', 'mailbox_delegations', 'mailboxes', 'users', 'fax_services', 'phone_numbers', 'locations', 'accounts']) {
    await qi.dropTable(t);
  }
}
