import crypto from 'node:crypto';

/**
 * AES-256-GCM under the master key, for secrets we must be able to read back
 * (SIP passwords for device set-up, TOTP seeds). Format: v1.<keyId>.<iv>.<tag>.<ciphertext>,
 * base64url parts; the key id lets `keys rotate-master` find rows still under an old key.
 */
export class SecretBox {
  readonly keyId: string;
  private readonly keys: Map<string, Buffer>;

  constructor(masterKey: Buffer, previousKeys: Buffer[] = []) {
    if (masterKey.length !== 32) throw new Error('The master key must be 32 bytes (base64 of 32 random bytes)');
    this.keyId = SecretBox.idOf(masterKey);
    this.keys = new Map([[this.keyId, masterKey], ...previousKeys.map((k) => [SecretBox.idOf(k), k] as [string, Buffer])]);
  }

  static idOf(key: Buffer): string {
    return crypto.createHash('sha256').update(key).digest('base64url').slice(0, 8);
  }

  encrypt(plaintext: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.keys.get(this.keyId)!, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', this.keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  decrypt(box: string): string {
    const [v, keyId, iv, tag, ct] = box.split('.');
    if (v !== 'v1' || !keyId || iv === undefined || tag === undefined || ct === undefined) throw new Error('Unrecognised secret format');
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`Secret was encrypted under master key ${keyId}, which is not configured`);
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }
}
