import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export type InvitationStatus = 'pending' | 'accepted' | 'revoked';

export class MemberInvitation extends Model<InferAttributes<MemberInvitation>, InferCreationAttributes<MemberInvitation>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare email: string;
  declare role: 'admin' | 'viewer' | 'user';
  /** SHA-256 of the single-use token mailed to the invitee. */
  declare token_hash: string;
  declare status: InvitationStatus;
  declare expires_at: Date;
  declare invited_by: string | null;
  declare user_id: number | null;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof MemberInvitation {
    return MemberInvitation.init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        account_id: DataTypes.INTEGER,
        email: DataTypes.STRING,
        role: DataTypes.STRING,
        token_hash: DataTypes.STRING,
        status: DataTypes.STRING,
        expires_at: DataTypes.DATE(3),
        invited_by: DataTypes.STRING,
        user_id: DataTypes.INTEGER,
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'member_invitations', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}
