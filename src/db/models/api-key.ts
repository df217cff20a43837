import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class ApiKey extends Model<InferAttributes<ApiKey>, InferCreationAttributes<ApiKey>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare user_id: number;
  /** Public identifier (sbk_…), shown in lists and used to revoke. */
  declare token: string;
  /** SHA-256 hex of the secret; the secret itself is shown once and never stored. */
  declare secret_hash: string;
  declare name: string;
  declare last_used_at: Date | null;
  declare revoked_at: Date | null;
  declare created_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof ApiKey {
    return ApiKey.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        user_id: DataTypes.INTEGER,
        token: DataTypes.STRING,
        secret_hash: DataTypes.STRING,
        name: DataTypes.STRING,
        last_used_at: DataTypes.DATE(3),
        revoked_at: DataTypes.DATE(3),
        created_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'api_keys', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: false },
    );
  }
}
