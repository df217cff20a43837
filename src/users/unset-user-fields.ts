import type { ForwardBehavior } from '../db/models/user.js';

/**
 * The optional fields of a PBX user that nobody has set yet: what a new
 * account's owner and a user created by an accepted invitation start with
 * (an admin's POST /v1/users sets them from the request instead).
 */
export function unsetUserFields() {
  const forward: ForwardBehavior = { mode: 'ring_devices', destination: null };
  return {
    binding_policy: null,
    sip_prev_ha1_md5: null,
    sip_prev_ha1_sha256: null,
    sip_prev_valid_until: null,
    external_caller_id_name: null,
    external_caller_id_number: null,
    mobile: null,
    forward_behavior: forward,
    location_id: null,
    mailbox_id: null,
    notification_email: null,
    voicemail_email: null,
    fax_service_id: null,
    oncall_remind_email: null,
    outbound_sms_number: null,
    sms_auto_response_text: null,
    otp_secret_enc: null,
  };
}
