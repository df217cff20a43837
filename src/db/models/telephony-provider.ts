import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export type ProviderType = 'twilio' | 'telnyx' | 'plivo' | 'sip_trunk';
export type TrunkRegistrationState = 'registering' | 'registered' | 'failed' | 'disabled';

export class TelephonyProvider extends Model<InferAttributes<TelephonyProvider>, InferCreationAttributes<TelephonyProvider>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare type: ProviderType;
  declare name: string;
  /** SecretBox ciphertext of the credentials object as JSON; never presented. */
  declare credentials_enc: string;
  /** Last four characters of the secret part, so admins can tell credentials apart. */
  declare credentials_hint: string;
  /** JSON text (the same on SQLite and MariaDB). */
  declare settings: string;
  declare enabled: CreationOptional<boolean>;
  declare deleted_at: CreationOptional<Date | null>;
  declare last_synced_at: CreationOptional<Date | null>;
  declare last_sync_error: CreationOptional<string | null>;
  declare reg_state: CreationOptional<TrunkRegistrationState | null>;
  declare reg_last_status: CreationOptional<number | null>;
  declare reg_last_error: CreationOptional<string | null>;
  declare reg_expires_at: CreationOptional<Date | null>;
  declare reg_since: CreationOptional<Date | null>;
  declare lease_owner: CreationOptional<string | null>;
  declare lease_until: CreationOptional<Date | null>;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof TelephonyProvider {
    return TelephonyProvider.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        type: DataTypes.STRING,
        name: DataTypes.STRING,
        credentials_enc: DataTypes.TEXT,
        credentials_hint: DataTypes.STRING,
        settings: DataTypes.TEXT,
        enabled: DataTypes.BOOLEAN,
        deleted_at: DataTypes.DATE(3),
        last_synced_at: DataTypes.DATE(3),
        last_sync_error: DataTypes.STRING,
        reg_state: DataTypes.STRING,
        reg_last_status: DataTypes.INTEGER,
        reg_last_error: DataTypes.STRING,
        reg_expires_at: DataTypes.DATE(3),
        reg_since: DataTypes.DATE(3),
        lease_owner: DataTypes.STRING,
        lease_until: DataTypes.DATE(3),
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'telephony_providers', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}
