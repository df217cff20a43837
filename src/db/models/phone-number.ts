import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class PhoneNumber extends Model<InferAttributes<PhoneNumber>, InferCreationAttributes<PhoneNumber>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare e164: string;
  declare label: string | null;
  declare voice: CreationOptional<boolean>;
  declare sms: CreationOptional<boolean>;
  declare fax: CreationOptional<boolean>;
  declare provider: CreationOptional<string>;
  /** The bring-your-own provider the number came from; null = the platform's default telephony. */
  declare provider_id: CreationOptional<number | null>;
  declare mms: CreationOptional<boolean>;
  /** The provider no longer lists the number, but something still points at it. */
  declare provider_missing: CreationOptional<boolean>;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof PhoneNumber {
    const B = DataTypes.BOOLEAN;
    return PhoneNumber.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        e164: DataTypes.STRING,
        label: DataTypes.STRING,
        voice: B,
        sms: B,
        fax: B,
        provider: DataTypes.STRING,
        provider_id: DataTypes.INTEGER,
        mms: B,
        provider_missing: B,
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'phone_numbers', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}
