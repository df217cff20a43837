import type { Mailbox, User } from '../db/models/index.js';
import type { z } from 'zod';
import type { UserSchema } from './user-schemas.js';

export type UserView = z.infer<typeof UserSchema>;

/** Whitelists what leaves the API: no hash, HA1, ciphertext or seed ever does. */
export function presentUser(u: User, mailbox: Mailbox | null, delegations: number[]): UserView {
  return {
    id: u.id,
    account_id: u.account_id,
    name: u.name,
    extension: u.extension,
    username: u.username,
    email: u.email,
    status: u.status,
    role: u.role,
    max_bindings: u.max_bindings,
    binding_policy: u.binding_policy,
    external_caller_id_name: u.external_caller_id_name,
    external_caller_id_number: u.external_caller_id_number,
    mobile: u.mobile,
    call_timeout: u.call_timeout,
    forward_behavior: typeof u.forward_behavior === 'string' ? (JSON.parse(u.forward_behavior) as typeof u.forward_behavior) : u.forward_behavior,
    location_id: u.location_id,
    mailbox: mailbox ? { id: mailbox.id, number: mailbox.number, name: mailbox.name } : null,
    notification_email: u.notification_email,
    voicemail_email: u.voicemail_email,
    fax_service_id: u.fax_service_id,
    oncall_remind_minutes: u.oncall_remind_minutes,
    oncall_remind_email: u.oncall_remind_email,
    outbound_sms_number: u.outbound_sms_number,
    mobile_signaling: u.mobile_signaling,
    sms_enabled: Boolean(u.sms_enabled),
    sms_auto_responder_enabled: Boolean(u.sms_auto_responder_enabled),
    sms_auto_response_text: u.sms_auto_response_text,
    call_recording: u.call_recording as UserView['call_recording'],
    play_recording_announcement: Boolean(u.play_recording_announcement),
    mailbox_delegations: [...delegations].sort((a, b) => a - b),
    otp_required: Boolean(u.otp_required),
    otp_enrolled: Boolean(u.otp_secret_enc),
    billing_contact: Boolean(u.billing_contact),
    has_password: Boolean(u.password_hash),
    created_at: new Date(u.created_at).toISOString(),
    updated_at: new Date(u.updated_at).toISOString(),
  };
}

export function userEtag(u: { id: number; version: number }): string {
  return `W/"u${u.id}-v${u.version}"`;
}
