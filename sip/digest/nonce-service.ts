import crypto from 'node:crypto';
import { fillRandom } from '../message/random-pool.js';

export type NonceCheck = 'valid' | 'stale' | 'invalid';

const PAYLOAD_BYTES = 8 + 8; // issued-at ms + random
const MAC_BYTES = 16;

/**
 * Stateless nonces (RFC 7616 §3.3 leaves the format to the server):
 * base64url(issuedAt ‖ random ‖ HMAC-SHA256(secret, realm ‖ issuedAt ‖ random)[:16]).
 * Any node holding the secret can check one another issued, so a phone may
 * be challenged by one process and answer another. Binding the realm into
 * the MAC stops a nonce from one account being used in another.
 */
export class NonceService {
  /** HMAC-SHA256 key pads (RFC 2104), computed once: two one-shot hashes cost less than an Hmac object per nonce. */
  private readonly innerPad: Buffer;
  private readonly outerPad: Buffer;

  constructor(
    secret: Buffer,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    const key = secret.length > 64 ? crypto.hash('sha256', secret, 'buffer') : secret;
    this.innerPad = Buffer.alloc(64, 0x36);
    this.outerPad = Buffer.alloc(64, 0x5c);
    for (let i = 0; i < key.length; i++) {
      this.innerPad[i]! ^= key[i]!;
      this.outerPad[i]! ^= key[i]!;
    }
  }

  issue(realm: string): string {
    const payload = Buffer.alloc(PAYLOAD_BYTES);
    payload.writeBigUInt64BE(BigInt(this.now()), 0);
    fillRandom(payload, 8, 8);
    return Buffer.concat([payload, this.mac(realm, payload)]).toString('base64url');
  }

  /** 'invalid' for a forged or tampered nonce; 'stale' once older than the TTL (RFC 7616 §3.3 stale=true). */
  check(realm: string, nonce: string): NonceCheck {
    if (nonce.length !== Math.ceil(((PAYLOAD_BYTES + MAC_BYTES) * 4) / 3) || !/^[A-Za-z0-9_-]+$/.test(nonce)) return 'invalid';
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== PAYLOAD_BYTES + MAC_BYTES) return 'invalid';
    const payload = raw.subarray(0, PAYLOAD_BYTES);
    if (!crypto.timingSafeEqual(raw.subarray(PAYLOAD_BYTES), this.mac(realm, payload))) return 'invalid';
    const issuedAt = Number(payload.readBigUInt64BE(0));
    const age = this.now() - issuedAt;
    if (age < -5_000) return 'invalid';
    return age > this.ttlMs ? 'stale' : 'valid';
  }

  /** Issue time (epoch ms) written in a nonce; call after check() said it is ours. */
  issuedAt(nonce: string): number {
    return Number(Buffer.from(nonce, 'base64url').readBigUInt64BE(0));
  }

  private mac(realm: string, payload: Buffer): Buffer {
    const inner = crypto.hash('sha256', Buffer.concat([this.innerPad, Buffer.from(`${realm}\0`, 'utf8'), payload]), 'buffer');
    return crypto.hash('sha256', Buffer.concat([this.outerPad, inner]), 'buffer').subarray(0, MAC_BYTES);
  }
}
