import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class AccountLogo extends Model<InferAttributes<AccountLogo>, InferCreationAttributes<AccountLogo>> {
  declare account_id: number;
  declare content_type: string;
  declare sha256: string;
  declare data: Buffer;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof AccountLogo {
    return AccountLogo.init(
      {
        account_id: { type: DataTypes.INTEGER, primaryKey: true },
        content_type: DataTypes.STRING,
        sha256: DataTypes.STRING,
        data: DataTypes.BLOB('medium'),
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'account_logos', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}
