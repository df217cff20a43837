import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export type MessageDirection = 'inbound' | 'outbound';
/** inbound: received | unrouted; outbound: queued → sent → delivered, or failed. */
export type MessageStatus = 'received' | 'unrouted' | 'queued' | 'sent' | 'delivered' | 'failed';
export type MessageSource = 'carrier' | 'api' | 'sip' | 'auto';

export class Message extends Model<InferAttributes<Message>, InferCreationAttributes<Message>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare user_id: number | null;
  declare direction: MessageDirection;
  /** The account's number (the To of an inbound SMS, the From of an outbound one). */
  declare our_number: string;
  declare peer_number: string;
  /** Inbound: JSON array of every recipient the carrier named (more than one = a group message). */
  declare recipients: string | null;
  declare body: string;
  declare encoding: string;
  declare segments: number;
  declare source: MessageSource;
  declare auto: CreationOptional<boolean>;
  declare in_reply_to: CreationOptional<number | null>;
  declare status: MessageStatus;
  declare unrouted_reason: CreationOptional<string | null>;
  declare provider_id: number | null;
  declare provider_message_id: CreationOptional<string | null>;
  declare error_code: CreationOptional<string | null>;
  declare error_message: CreationOptional<string | null>;
  declare attempts: CreationOptional<number>;
  declare next_attempt_at: CreationOptional<Date | null>;
  declare lease_until: CreationOptional<Date | null>;
  declare sent_at: CreationOptional<Date | null>;
  declare delivered_at: CreationOptional<Date | null>;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof Message {
    const S = DataTypes.STRING;
    return Message.init(
      {
        id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        user_id: DataTypes.INTEGER,
        direction: S,
        our_number: S,
        peer_number: S,
        recipients: DataTypes.TEXT,
        body: DataTypes.TEXT,
        encoding: S,
        segments: DataTypes.INTEGER,
        source: S,
        auto: DataTypes.BOOLEAN,
        in_reply_to: DataTypes.BIGINT,
        status: S,
        unrouted_reason: S,
        provider_id: DataTypes.INTEGER,
        provider_message_id: S,
        error_code: S,
        error_message: S,
        attempts: DataTypes.INTEGER,
        next_attempt_at: DataTypes.DATE(3),
        lease_until: DataTypes.DATE(3),
        sent_at: DataTypes.DATE(3),
        delivered_at: DataTypes.DATE(3),
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'messages', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}

/** One SIP MESSAGE attempt to one registered device of the recipient. */
export class MessageDelivery extends Model<InferAttributes<MessageDelivery>, InferCreationAttributes<MessageDelivery>> {
  declare id: CreationOptional<number>;
  declare message_id: number;
  declare registration_id: number;
  declare contact: string;
  declare user_agent: string | null;
  declare status: 'delivered' | 'failed';
  declare sip_status: number;
  declare reason: string | null;
  declare created_at: Date;

  static initModel(sequelize: Sequelize): typeof MessageDelivery {
    return MessageDelivery.init(
      {
        id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
        message_id: DataTypes.BIGINT,
        registration_id: DataTypes.BIGINT,
        contact: DataTypes.TEXT,
        user_agent: DataTypes.STRING,
        status: DataTypes.STRING,
        sip_status: DataTypes.INTEGER,
        reason: DataTypes.STRING,
        created_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'message_deliveries', underscored: true, timestamps: false },
    );
  }
}

/** The auto-responder's claim on (our number, sender): one reply per window, decided by the database. */
export class SmsReplyClaim extends Model<InferAttributes<SmsReplyClaim>, InferCreationAttributes<SmsReplyClaim>> {
  declare our_number: string;
  declare peer_number: string;
  declare claimed_at: Date;

  static initModel(sequelize: Sequelize): typeof SmsReplyClaim {
    return SmsReplyClaim.init(
      {
        our_number: { type: DataTypes.STRING, primaryKey: true },
        peer_number: { type: DataTypes.STRING, primaryKey: true },
        claimed_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'sms_reply_claims', underscored: true, timestamps: false },
    );
  }
}
