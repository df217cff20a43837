import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class AccessToken extends Model<InferAttributes<AccessToken>, InferCreationAttributes<AccessToken>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare user_id: number;
  /** SHA-256 hex of the bearer token; the token itself is never stored. */
  declare token_hash: string;
  declare grant_type: string;
  /** The API key this token was obtained with; revoking the key deletes the token. */
  declare api_key_id: CreationOptional<number | null>;
  declare expires_at: Date;
  declare created_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof AccessToken {
    return AccessToken.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        user_id: DataTypes.INTEGER,
        token_hash: DataTypes.STRING,
        grant_type: DataTypes.STRING,
        api_key_id: DataTypes.INTEGER,
        expires_at: DataTypes.DATE(3),
        created_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'access_tokens', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: false },
    );
  }
}
