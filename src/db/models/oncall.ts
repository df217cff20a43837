import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

const opts = (sequelize: Sequelize, tableName: string) => ({
  sequelize,
  tableName,
  underscored: true,
  timestamps: true,
  createdAt: 'created_at',
  updatedAt: 'updated_at',
});

export class OncallSchedule extends Model<InferAttributes<OncallSchedule>, InferCreationAttributes<OncallSchedule>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare name: string;
  declare timezone: string;
  declare description: string | null;
  /** The phone number that reaches whoever is on call now (null: none). */
  declare number_id: CreationOptional<number | null>;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof OncallSchedule {
    return OncallSchedule.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        name: DataTypes.STRING,
        timezone: DataTypes.STRING,
        description: DataTypes.STRING,
        number_id: DataTypes.INTEGER,
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      opts(sequelize, 'oncall_schedules'),
    );
  }
}

export type PeriodUnit = 'days' | 'weeks';

export class OncallRotation extends Model<InferAttributes<OncallRotation>, InferCreationAttributes<OncallRotation>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare schedule_id: number;
  declare name: string;
  declare user_ids: number[];
  declare period_unit: PeriodUnit;
  declare period_count: number;
  /** YYYY-MM-DD in the schedule's time zone: the first handoff day. */
  declare start_date: string;
  /** HH:MM in the schedule's time zone. */
  declare handoff_time: string;
  declare horizon_days: number;
  declare materialised_until: Date | null;
  declare next_materialise_at: Date | null;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof OncallRotation {
    return OncallRotation.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        schedule_id: DataTypes.INTEGER,
        name: DataTypes.STRING,
        user_ids: {
          type: DataTypes.JSON,
          // MariaDB returns JSON columns as text.
          get(this: OncallRotation) {
            const v = this.getDataValue('user_ids') as unknown;
            return typeof v === 'string' ? (JSON.parse(v) as number[]) : v;
          },
        },
        period_unit: DataTypes.STRING,
        period_count: DataTypes.INTEGER,
        start_date: DataTypes.STRING,
        handoff_time: DataTypes.STRING,
        horizon_days: DataTypes.INTEGER,
        materialised_until: DataTypes.DATE(3),
        next_materialise_at: DataTypes.DATE(3),
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      opts(sequelize, 'oncall_rotations'),
    );
  }
}

export class OncallShift extends Model<InferAttributes<OncallShift>, InferCreationAttributes<OncallShift>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare schedule_id: number;
  declare user_id: number;
  declare rotation_id: number | null;
  declare rotation_seq: number | null;
  declare starts_at: Date;
  declare ends_at: Date;
  declare note: string | null;
  declare remind_at: Date;
  declare next_attempt_at: Date | null;
  declare claimed_by: CreationOptional<string | null>;
  declare claim_expires_at: CreationOptional<Date | null>;
  declare attempts: CreationOptional<number>;
  declare last_error: CreationOptional<string | null>;
  declare reminded_at: CreationOptional<Date | null>;
  declare message_id: CreationOptional<string | null>;
  declare late: CreationOptional<boolean>;
  declare skipped_reason: CreationOptional<string | null>;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof OncallShift {
    const D = DataTypes.DATE(3);
    return OncallShift.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        schedule_id: DataTypes.INTEGER,
        user_id: DataTypes.INTEGER,
        rotation_id: DataTypes.INTEGER,
        rotation_seq: DataTypes.INTEGER,
        starts_at: D,
        ends_at: D,
        note: DataTypes.STRING,
        remind_at: D,
        next_attempt_at: D,
        claimed_by: DataTypes.STRING,
        claim_expires_at: D,
        attempts: DataTypes.INTEGER,
        last_error: DataTypes.STRING,
        reminded_at: D,
        message_id: DataTypes.STRING,
        late: DataTypes.BOOLEAN,
        skipped_reason: DataTypes.STRING,
        created_at: D,
        updated_at: D,
      },
      opts(sequelize, 'oncall_shifts'),
    );
  }
}
