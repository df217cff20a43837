import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class AccessToken extends Model<InferAttributes<AccessToken>, InferCreationAttributes<AccessToken>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare user_id: number;
  /** SHA-256 hex of the bearer token; the token itself is never stored. */
  declare token_hash: string;
  declare grant_type: string;
  declare expires_at: Date;
  declare created_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof AccessToken {
    return AccessToken.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER, user_id: DataTypes.INTEGER, token_hash: DataTypes.STRING, grant_type: DataTypes.STRING,
        expires_at: DataTypes.DATE(3), created_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'access_tokens', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: false },
    );
  }
}
