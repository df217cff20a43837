import { ha1 } from '../crypto/sip-credentials.js';
import type { SecretBox } from '../crypto/secret-box.js';

export interface SipSecretColumns {
  sip_ha1_md5: string;
  sip_ha1_sha256: string;
  sip_password_enc: string;
}

/**
 * What is stored for a SIP password: HA1 for MD5 and SHA-256 (the registrar
 * verifies digests without decrypting) and the AES-GCM ciphertext (admins can
 * reveal it; the HA1 can be re-derived when the username or realm changes).
 */
export function sipSecretColumns(box: SecretBox, username: string, realm: string, password: string): SipSecretColumns {
  return {
    sip_ha1_md5: ha1('md5', username, realm, password),
    sip_ha1_sha256: ha1('sha256', username, realm, password),
    sip_password_enc: box.encrypt(password),
  };
}
