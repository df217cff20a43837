import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

/** The record a deleted workspace leaves behind; outside the account, so it survives it. */
export class AccountDeletion extends Model<InferAttributes<AccountDeletion>, InferCreationAttributes<AccountDeletion>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare account_name: string;
  declare sip_domain: string;
  /** The audit log's name for the actor (user:<id>). */
  declare deleted_by: string;
  declare deleted_by_user_id: number | null;
  declare source_ip: string | null;
  /** Rows removed per kind: users, registrations, api_keys, numbers, webhooks, webhook_deliveries, … */
  declare counts: Record<string, number>;
  declare deleted_at: Date;

  static initModel(sequelize: Sequelize): typeof AccountDeletion {
    return AccountDeletion.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        account_name: DataTypes.STRING,
        sip_domain: DataTypes.STRING,
        deleted_by: DataTypes.STRING,
        deleted_by_user_id: DataTypes.INTEGER,
        source_ip: DataTypes.STRING,
        counts: DataTypes.JSON,
        deleted_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'account_deletions', underscored: true, timestamps: false },
    );
  }
}
