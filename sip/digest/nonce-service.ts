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
  /** Reused for each MAC's input: ipad ‖ realm ‖ 0 ‖ payload (sized for a 255-character domain, grown for longer), then opad ‖ inner hash. */
  private innerInput = Buffer.alloc(64 + 256 * 3 + 1 + PAYLOAD_BYTES);
  private readonly outerInput = Buffer.alloc(64 + 32);
  private readonly token = Buffer.alloc(PAYLOAD_BYTES + MAC_BYTES);
  /** A nonce being checked, decoded, and the MAC it should carry: scratch, so a check allocates no Buffer. */
  private readonly received = Buffer.alloc(PAYLOAD_BYTES + MAC_BYTES);
  private readonly expected = Buffer.alloc(MAC_BYTES);

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
    this.innerPad.copy(this.innerInput, 0);
    this.outerPad.copy(this.outerInput, 0);
  }

  issue(realm: string): string {
    const t = this.token;
    const ms = this.now();
    // issued-at as a 64-bit big-endian integer (two 32-bit halves: no BigInt per nonce)
    t.writeUInt32BE(Math.floor(ms / 2 ** 32), 0);
    t.writeUInt32BE(ms % 2 ** 32, 4);
    fillRandom(t, 8, 8);
    t.write(this.mac(realm, t, PAYLOAD_BYTES), PAYLOAD_BYTES, MAC_BYTES, 'binary');
    return t.toString('base64url');
  }

  /** 'invalid' for a forged or tampered nonce; 'stale' once older than the TTL (RFC 7616 §3.3 stale=true). */
  check(realm: string, nonce: string): NonceCheck {
    if (nonce.length !== Math.ceil(((PAYLOAD_BYTES + MAC_BYTES) * 4) / 3) || !/^[A-Za-z0-9_-]+$/.test(nonce)) return 'invalid';
    const raw = this.received;
    if (raw.write(nonce, 0, 'base64url') !== PAYLOAD_BYTES + MAC_BYTES) return 'invalid';
    this.expected.write(this.mac(realm, raw, PAYLOAD_BYTES), 0, MAC_BYTES, 'binary');
    if (!crypto.timingSafeEqual(raw.subarray(PAYLOAD_BYTES), this.expected)) return 'invalid';
    const issuedAt = readIssuedAt(raw);
    const age = this.now() - issuedAt;
    if (age < -5_000) return 'invalid';
    return age > this.ttlMs ? 'stale' : 'valid';
  }

  /** Issue time (epoch ms) written in a nonce; call after check() said it is ours. */
  issuedAt(nonce: string): number {
    return readIssuedAt(Buffer.from(nonce, 'base64url'));
  }

  /**
   * 48 of a nonce's random bits as a number: a compact key for state kept
   * per nonce (nonce counts hold 100,000 of them; the 43-character string
   * cost three times the memory). Call after check() said the nonce is ours.
   */
  replayKey(nonce: string): number {
    // base64url characters 11..18 carry token bits 66..113, inside the random bytes 8..15.
    let key = 0;
    for (let i = 11; i < 19; i++) key = key * 64 + (BASE64URL_VALUE[nonce.charCodeAt(i)] ?? 0);
    return key;
  }

  /**
   * HMAC-SHA256(secret, realm ‖ 0 ‖ payload[0, length)), as a 'binary' (latin1: one char per byte) string
   * of its 32 bytes (the caller keeps MAC_BYTES). Strings, not Buffers, out
   * of both hashes: a Buffer made by the native hash costs an ArrayBuffer
   * of its own, which made these two hashes dearer than the digest's MD5s
   * on the REGISTER path.
   */
  private mac(realm: string, payload: Buffer, length: number): string {
    const need = 64 + Buffer.byteLength(realm, 'utf8') + 1 + PAYLOAD_BYTES;
    if (need > this.innerInput.length) {
      // A realm longer than any stored SIP domain (it comes from the request): grow once, as the header limit bounds it.
      this.innerInput = Buffer.alloc(need);
      this.innerPad.copy(this.innerInput, 0);
    }
    const input = this.innerInput;
    let n = 64;
    n += input.write(realm, n, 'utf8');
    input[n++] = 0;
    n += payload.copy(input, n, 0, length);
    this.outerInput.write(crypto.hash('sha256', input.subarray(0, n), 'binary'), 64, 32, 'binary');
    return crypto.hash('sha256', this.outerInput, 'binary');
  }
}

const BASE64URL_VALUE = new Uint8Array(128);
[...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].forEach((c, i) => {
  BASE64URL_VALUE[c.charCodeAt(0)] = i;
});

function readIssuedAt(payload: Buffer): number {
  return payload.readUInt32BE(0) * 2 ** 32 + payload.readUInt32BE(4);
}
