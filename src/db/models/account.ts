import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export const BINDING_POLICIES = ['reject', 'evict_oldest', 'evict_unreachable'] as const;
export type BindingPolicy = (typeof BINDING_POLICIES)[number];

export class Account extends Model<InferAttributes<Account>, InferCreationAttributes<Account>> {
  declare id: CreationOptional<number>;
  declare name: string;
  declare sip_domain: string;
  declare website: string | null;
  declare timezone: CreationOptional<string>;
  declare default_caller_id_number: string | null;
  declare extension_min_length: CreationOptional<number>;
  declare extension_max_length: CreationOptional<number>;
  declare binding_policy: CreationOptional<BindingPolicy>;
  /** Send message-waiting NOTIFYs to this account's devices. */
  declare mwi_enabled: CreationOptional<boolean>;
  /** Monthly SMS count past which the billing contacts are emailed; null = usage.smsMonthlyThreshold, 0 = never. */
  declare sms_monthly_threshold: CreationOptional<number | null>;
  /** Workspace X-API-KEY: SHA-256 for lookup, AES-GCM ciphertext so admins can reveal it, last 4 as a hint. */
  declare workspace_key_hash: CreationOptional<string | null>;
  declare workspace_key_enc: CreationOptional<string | null>;
  declare workspace_key_last4: CreationOptional<string | null>;
  declare workspace_key_created_at: CreationOptional<Date | null>;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof Account {
    return Account.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        name: DataTypes.STRING,
        sip_domain: DataTypes.STRING,
        website: DataTypes.STRING,
        timezone: DataTypes.STRING,
        default_caller_id_number: DataTypes.STRING,
        extension_min_length: DataTypes.INTEGER,
        extension_max_length: DataTypes.INTEGER,
        binding_policy: DataTypes.STRING,
        mwi_enabled: DataTypes.BOOLEAN,
        sms_monthly_threshold: DataTypes.INTEGER,
        workspace_key_hash: DataTypes.STRING,
        workspace_key_enc: DataTypes.TEXT,
        workspace_key_last4: DataTypes.STRING,
        workspace_key_created_at: DataTypes.DATE(3),
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'accounts', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}
