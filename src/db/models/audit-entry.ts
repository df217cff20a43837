import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class AuditEntry extends Model<InferAttributes<AuditEntry>, InferCreationAttributes<AuditEntry>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare actor_type: string;
  declare actor_id: string | null;
  declare action: string;
  declare target_type: string;
  declare target_id: string | null;
  declare before: Record<string, unknown> | null;
  declare after: Record<string, unknown> | null;
  declare source_ip: string | null;
  declare created_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof AuditEntry {
    return AuditEntry.init(
      {
        id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        actor_type: DataTypes.STRING,
        actor_id: DataTypes.STRING,
        action: DataTypes.STRING,
        target_type: DataTypes.STRING,
        target_id: DataTypes.STRING,
        before: DataTypes.JSON,
        after: DataTypes.JSON,
        source_ip: DataTypes.STRING,
        created_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'audit_entries', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: false },
    );
  }
}
