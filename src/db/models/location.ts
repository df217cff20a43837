import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class Location extends Model<InferAttributes<Location>, InferCreationAttributes<Location>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare name: string;
  declare address_line1: string;
  declare address_line2: string | null;
  declare city: string;
  declare region: string;
  declare postal_code: string;
  declare country: string;
  declare callback_number: string;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof Location {
    const S = DataTypes.STRING;
    return Location.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        name: S,
        address_line1: S,
        address_line2: S,
        city: S,
        region: S,
        postal_code: S,
        country: S,
        callback_number: S,
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'locations', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}
