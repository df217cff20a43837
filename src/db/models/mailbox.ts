import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class Mailbox extends Model<InferAttributes<Mailbox>, InferCreationAttributes<Mailbox>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare number: string;
  declare name: string;
  declare pin_hash: string | null;
  declare owner_user_id: number | null;
  declare new_messages: CreationOptional<number>;
  declare old_messages: CreationOptional<number>;
  declare urgent_new_messages: CreationOptional<number>;
  declare urgent_old_messages: CreationOptional<number>;
  /** Sequence number of the last counts update applied (0: none yet); also the counts' ETag. */
  declare counts_seq: CreationOptional<number>;
  declare counts_updated_at: CreationOptional<Date | null>;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof Mailbox {
    return Mailbox.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        number: DataTypes.STRING,
        name: DataTypes.STRING,
        pin_hash: DataTypes.STRING,
        owner_user_id: DataTypes.INTEGER,
        new_messages: DataTypes.INTEGER,
        old_messages: DataTypes.INTEGER,
        urgent_new_messages: DataTypes.INTEGER,
        urgent_old_messages: DataTypes.INTEGER,
        counts_seq: {
          type: DataTypes.BIGINT,
          get(this: Mailbox) {
            return Number(this.getDataValue('counts_seq') ?? 0);
          },
        },
        counts_updated_at: DataTypes.DATE(3),
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'mailboxes', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}

export class MailboxDelegation extends Model<InferAttributes<MailboxDelegation>, InferCreationAttributes<MailboxDelegation>> {
  declare mailbox_id: number;
  declare user_id: number;
  declare created_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof MailboxDelegation {
    return MailboxDelegation.init(
      {
        mailbox_id: { type: DataTypes.INTEGER, primaryKey: true },
        user_id: { type: DataTypes.INTEGER, primaryKey: true },
        created_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'mailbox_delegations', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: false },
    );
  }
}
