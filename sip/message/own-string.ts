/**
 * A copy of `s` that holds no reference to the string it was cut from.
 * V8 represents a substring (and a concatenation of substrings) as a view
 * on its parent: a 40-byte Call-ID kept as a map key would keep the whole
 * datagram alive. Long-lived keys (transactions for 32 s, nonce counts,
 * credential cache) go through this; without it 100,000 registrations kept
 * ~100 MB of request texts reachable.
 */
export function ownString(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}
