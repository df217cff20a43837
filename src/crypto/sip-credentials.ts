import crypto from 'node:crypto';

/** HA1 = H(username ":" realm ":" password), RFC 7616 §3.4.2 (MD5 and SHA-256). */
export function ha1(algorithm: 'md5' | 'sha256', username: string, realm: string, password: string): string {
  return crypto.createHash(algorithm).update(`${username}:${realm}:${password}`).digest('hex');
}

// No characters that phones' web UIs or provisioning templates tend to mangle (quotes, <, &, \, space).
const SIP_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const SIP_SYMBOLS = '-_.!#%+=';

export function generateSipPassword(length = 20): string {
  for (;;) {
    let out = '';
    const all = SIP_ALPHABET + SIP_SYMBOLS;
    for (let i = 0; i < length; i++) out += all[crypto.randomInt(all.length)];
    if (sipPasswordWeakness(out) === null) return out;
  }
}

export function generatePin(digits = 6): string {
  let out = '';
  for (let i = 0; i < digits; i++) out += String(crypto.randomInt(10));
  return out;
}

/**
 * A set SIP password must survive online guessing by SIP scanners: at least
 * 12 characters, three character classes, and not built from the user's
 * identity. Returns why it is weak, or null.
 */
export function sipPasswordWeakness(password: string, identity: string[] = []): string | null {
  if (password.length < 12) return 'must be at least 12 characters';
  if (password.length > 128) return 'must be at most 128 characters';
  if (!/^[\x21-\x7e]+$/.test(password)) return 'must use printable ASCII without spaces';
  if (/["\\]/.test(password)) return 'must not contain " or \\ (they break digest quoting on some phones)';
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  if (classes < 3) return 'must mix at least three of: lower case, upper case, digits, symbols';
  const lower = password.toLowerCase();
  for (const id of identity) {
    if (id && id.length >= 3 && lower.includes(id.toLowerCase())) return 'must not contain the username or extension';
  }
  return null;
}
