import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class FaxService extends Model<InferAttributes<FaxService>, InferCreationAttributes<FaxService>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare name: string;
  declare number_id: number | null;
  declare notify_email: string | null;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof FaxService {
    return FaxService.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        name: DataTypes.STRING,
        number_id: DataTypes.INTEGER,
        notify_email: DataTypes.STRING,
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'fax_services', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}
