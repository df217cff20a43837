import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class Webhook extends Model<InferAttributes<Webhook>, InferCreationAttributes<Webhook>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare url: string;
  declare events: string[];
  declare description: string | null;
  declare active: CreationOptional<boolean>;
  /** AES-GCM ciphertext of the signing secret (we need it back to sign). */
  declare secret_enc: string;
  /** First failed attempt since the last success; drives auto-disable. */
  declare failing_since: Date | null;
  declare disabled_reason: string | null;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof Webhook {
    return Webhook.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        url: DataTypes.STRING,
        events: DataTypes.JSON,
        description: DataTypes.STRING,
        active: DataTypes.BOOLEAN,
        secret_enc: DataTypes.TEXT,
        failing_since: DataTypes.DATE(3),
        disabled_reason: DataTypes.STRING,
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'webhooks', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'skipped';

export class WebhookDelivery extends Model<InferAttributes<WebhookDelivery>, InferCreationAttributes<WebhookDelivery>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare webhook_id: number;
  declare event_id: string;
  declare event_type: string;
  /** The exact JSON body that is signed and sent (kept verbatim so retries are byte-identical). */
  declare payload: string;
  declare status: DeliveryStatus;
  declare attempts: CreationOptional<number>;
  declare next_attempt_at: Date | null;
  declare lease_owner: CreationOptional<string | null>;
  declare lease_until: CreationOptional<Date | null>;
  declare last_attempt_at: CreationOptional<Date | null>;
  declare last_status_code: CreationOptional<number | null>;
  declare last_error: CreationOptional<string | null>;
  declare last_duration_ms: CreationOptional<number | null>;
  declare delivered_at: CreationOptional<Date | null>;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof WebhookDelivery {
    return WebhookDelivery.init(
      {
        id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        webhook_id: DataTypes.INTEGER,
        event_id: DataTypes.STRING,
        event_type: DataTypes.STRING,
        payload: DataTypes.TEXT,
        status: DataTypes.STRING,
        attempts: DataTypes.INTEGER,
        next_attempt_at: DataTypes.DATE(3),
        lease_owner: DataTypes.STRING,
        lease_until: DataTypes.DATE(3),
        last_attempt_at: DataTypes.DATE(3),
        last_status_code: DataTypes.INTEGER,
        last_error: DataTypes.STRING,
        last_duration_ms: DataTypes.INTEGER,
        delivered_at: DataTypes.DATE(3),
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'webhook_deliveries', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}
