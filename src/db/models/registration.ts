import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

/** One SIP binding (contact) of a user's address-of-record. */
export class Registration extends Model<InferAttributes<Registration>, InferCreationAttributes<Registration>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare user_id: number;
  declare aor: string;
  declare contact_uri: string;
  declare contact_raw: string;
  declare q: number | null;
  declare expires_at: Date;
  declare call_id: string;
  declare cseq: number;
  declare instance_id: string | null;
  declare reg_id: number | null;
  declare path: string | null;
  declare transport: string;
  declare source_address: string;
  declare source_port: number;
  declare connection_id: string | null;
  declare node_id: string;
  declare user_agent: string | null;
  declare unreachable: CreationOptional<boolean>;
  declare registered_at: Date;
  declare qualified_at: CreationOptional<Date | null>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof Registration {
    const S = DataTypes.STRING;
    return Registration.init(
      {
        id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        user_id: DataTypes.INTEGER,
        aor: S,
        contact_uri: S,
        contact_raw: DataTypes.TEXT,
        q: DataTypes.FLOAT,
        expires_at: DataTypes.DATE(3),
        call_id: S,
        cseq: DataTypes.BIGINT,
        instance_id: S,
        reg_id: DataTypes.INTEGER,
        path: DataTypes.TEXT,
        transport: S,
        source_address: S,
        source_port: DataTypes.INTEGER,
        connection_id: S,
        node_id: S,
        user_agent: S,
        unreachable: DataTypes.BOOLEAN,
        registered_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
        qualified_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'registrations', underscored: true, timestamps: true, createdAt: false, updatedAt: 'updated_at' },
    );
  }
}
