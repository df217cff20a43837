/**
 * Split a header value at the commas that separate list entries
 * (RFC 3261 §7.3.1), leaving commas inside quoted strings and <...> alone:
 * `"Bell, Alexander" <sip:a@b>, <sip:c@d>` is two entries, not three.
 * Entries are trimmed; an empty entry yields '' so callers can reject `a,,b`.
 */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inQuote = false;
    } else if (c === 0x22) {
      inQuote = true;
    } else if (c === 0x3c /* < */) {
      inAngle = true;
    } else if (c === 0x3e /* > */) {
      inAngle = false;
    } else if (c === 0x2c /* , */ && !inAngle) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out;
}

/** True when every quote in the value is closed (an unbalanced quote makes the header unparsable). */
export function quotesBalanced(value: string): boolean {
  let inQuote = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote && c === 0x5c) i++;
    else if (c === 0x22) inQuote = !inQuote;
  }
  return !inQuote;
}
