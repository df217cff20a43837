/**
 * Every column holding a SecretBox ciphertext. `keys rotate-master` walks
 * exactly these; a new encrypted column must be listed here.
 */
export const ENCRYPTED_COLUMNS: ReadonlyArray<{ table: string; columns: readonly string[] }> = [
  { table: 'users', columns: ['sip_password_enc', 'otp_secret_enc'] },
  { table: 'accounts', columns: ['workspace_key_enc'] },
  { table: 'webhooks', columns: ['secret_enc'] },
  { table: 'telephony_providers', columns: ['credentials_enc'] },
];
