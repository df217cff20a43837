import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';
import type { BindingPolicy } from './account.js';

export const ROLES = ['owner', 'admin', 'viewer', 'user', 'fax'] as const;
export type Role = (typeof ROLES)[number];
export const CALL_RECORDING = ['none', 'inbound', 'outbound', 'both'] as const;
export const MOBILE_SIGNALING = ['auto', 'udp', 'tcp', 'tls', 'wss', 'push'] as const;
export const FORWARD_MODES = ['ring_devices', 'forward_always', 'forward_on_no_answer', 'forward_on_busy', 'voicemail'] as const;
export type ForwardMode = (typeof FORWARD_MODES)[number];
export interface ForwardBehavior {
  mode: ForwardMode;
  destination?: string | null;
}
export type UserStatus = 'active' | 'invited' | 'disabled';

export class User extends Model<InferAttributes<User>, InferCreationAttributes<User>> {
  declare id: CreationOptional<number>;
  declare account_id: number;
  declare name: string;
  declare extension: string;
  declare username: string;
  declare email: string | null;
  declare password_hash: string | null;
  declare status: CreationOptional<UserStatus>;
  declare role: Role;
  declare max_bindings: CreationOptional<number>;
  declare binding_policy: BindingPolicy | null;
  declare sip_ha1_md5: string;
  declare sip_ha1_sha256: string;
  declare sip_password_enc: string;
  declare sip_prev_ha1_md5: string | null;
  declare sip_prev_ha1_sha256: string | null;
  declare sip_prev_valid_until: Date | null;
  declare sip_prev_ext_ha1_md5: CreationOptional<string | null>;
  declare sip_prev_ext_ha1_sha256: CreationOptional<string | null>;
  declare sip_reauth_after: CreationOptional<Date | null>;
  declare oncall_pin_hash: string;
  declare external_caller_id_name: string | null;
  declare external_caller_id_number: string | null;
  declare mobile: string | null;
  declare call_timeout: CreationOptional<number>;
  declare forward_behavior: ForwardBehavior;
  declare location_id: number | null;
  declare mailbox_id: number | null;
  declare notification_email: string | null;
  declare voicemail_email: string | null;
  declare fax_service_id: number | null;
  declare oncall_remind_minutes: CreationOptional<number>;
  declare oncall_remind_email: string | null;
  declare outbound_sms_number: string | null;
  declare mobile_signaling: CreationOptional<string>;
  declare sms_enabled: CreationOptional<boolean>;
  declare sms_auto_responder_enabled: CreationOptional<boolean>;
  declare sms_auto_response_text: string | null;
  declare call_recording: CreationOptional<string>;
  declare play_recording_announcement: CreationOptional<boolean>;
  declare otp_required: CreationOptional<boolean>;
  declare otp_secret_enc: string | null;
  declare billing_contact: CreationOptional<boolean>;
  /** Set when the member was removed from the workspace (or left): no sign-in, no API keys; the PBX user stays. */
  declare member_removed_at: CreationOptional<Date | null>;
  declare version: CreationOptional<number>;
  declare created_at: CreationOptional<Date>;
  declare updated_at: CreationOptional<Date>;

  static initModel(sequelize: Sequelize): typeof User {
    const S = DataTypes.STRING;
    const I = DataTypes.INTEGER;
    const B = DataTypes.BOOLEAN;
    return User.init(
      {
        id: { type: I, autoIncrement: true, primaryKey: true },
        account_id: I,
        name: S,
        extension: S,
        username: S,
        email: S,
        password_hash: S,
        status: S,
        role: S,
        max_bindings: I,
        binding_policy: S,
        sip_ha1_md5: S,
        sip_ha1_sha256: S,
        sip_password_enc: DataTypes.TEXT,
        sip_prev_ha1_md5: S,
        sip_prev_ha1_sha256: S,
        sip_prev_valid_until: DataTypes.DATE(3),
        sip_prev_ext_ha1_md5: S,
        sip_prev_ext_ha1_sha256: S,
        sip_reauth_after: DataTypes.DATE(3),
        oncall_pin_hash: S,
        external_caller_id_name: S,
        external_caller_id_number: S,
        mobile: S,
        call_timeout: I,
        forward_behavior: DataTypes.JSON,
        location_id: I,
        mailbox_id: I,
        notification_email: S,
        voicemail_email: S,
        fax_service_id: I,
        oncall_remind_minutes: I,
        oncall_remind_email: S,
        outbound_sms_number: S,
        mobile_signaling: S,
        sms_enabled: B,
        sms_auto_responder_enabled: B,
        sms_auto_response_text: S,
        call_recording: S,
        play_recording_announcement: B,
        otp_required: B,
        otp_secret_enc: DataTypes.TEXT,
        billing_contact: B,
        member_removed_at: DataTypes.DATE(3),
        version: I,
        created_at: DataTypes.DATE(3),
        updated_at: DataTypes.DATE(3),
      },
      { sequelize, tableName: 'users', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' },
    );
  }
}
