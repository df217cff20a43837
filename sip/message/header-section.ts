import { canonicalHeaderName } from './header-names.js';

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/**
 * Header names as they came on the wire → canonical names: phones repeat
 * the same dozen spellings, and a hit skips the token check and the
 * lower-casing. Bounded, as names come from the network.
 */
const KNOWN_NAMES = new Map<string, string>();
const KNOWN_NAMES_MAX = 512;

/** Where the line starting at `pos` ends (its CRLF, or the end of the text). */
function lineEndAt(text: string, pos: number): number {
  const end = text.indexOf('\r\n', pos);
  return end < 0 ? text.length : end;
}

/** One header line's value (folding removed), trimmed (RFC 3261 §7.3.1). */
function add(headers: Map<string, string[]>, name: string, value: string): void {
  const list = headers.get(name);
  if (list) list.push(value.trim());
  else headers.set(name, [value.trim()]);
}

/**
 * The start line and header lines of a message, split once. Lines are kept
 * one entry per header line (not merged), because the registrar needs each
 * Authorization header on its own and RFC 4475 §3.3.8 (multi01) needs to
 * see that Call-ID/CSeq/To/From occur more than once.
 */
export class HeaderSection {
  readonly startLine: string;
  /** Canonical name → values, one per header line, folding removed (RFC 3261 §7.3.1). */
  readonly headers: Map<string, string[]>;
  /** Header lines that had no `name:` shape; the request is then malformed. */
  readonly malformedLines: number;

  private constructor(startLine: string, headers: Map<string, string[]>, malformedLines: number) {
    this.startLine = startLine;
    this.headers = headers;
    this.malformedLines = malformedLines;
  }

  /**
   * Read a header section (text before the empty line, without it). Never
   * throws: what cannot be read is counted, so a 400 can still be built
   * from the lines that could.
   */
  static read(text: string): HeaderSection {
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    let pos = 0;
    while (text.startsWith('\r\n', pos)) pos += 2;
    let lineEnd = lineEndAt(text, pos);
    const startLine = text.slice(pos, lineEnd);
    const headers = new Map<string, string[]>();
    let malformed = 0;
    let name: string | undefined;
    let value = '';
    // Lines are scanned in place rather than split: each name and value is sliced once from the text.
    while (lineEnd < text.length) {
      pos = lineEnd + 2;
      lineEnd = lineEndAt(text, pos);
      const first = text.charCodeAt(pos);
      if (first === 0x20 || first === 0x09) {
        // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header.
        if (name !== undefined) value += text.slice(pos, lineEnd);
        else malformed++;
        continue;
      }
      if (name !== undefined) add(headers, name, value);
      name = undefined;
      // Searched within the line only: a search through the rest of the text for each line without a colon would make
      // a section of many such lines cost its square.
      let colon = pos;
      while (colon < lineEnd && text.charCodeAt(colon) !== 0x3a) colon++;
      if (colon === pos || colon === lineEnd) {
        if (lineEnd > pos) malformed++;
        continue;
      }
      const rawName = text.slice(pos, colon).trimEnd();
      let canonical = KNOWN_NAMES.get(rawName);
      if (canonical === undefined) {
        if (!TOKEN.test(rawName)) {
          malformed++;
          continue;
        }
        canonical = canonicalHeaderName(rawName);
        if (KNOWN_NAMES.size < KNOWN_NAMES_MAX) KNOWN_NAMES.set(rawName, canonical);
      }
      name = canonical;
      // The usual single space after the colon is skipped here, so the value's trim() at add() copies nothing.
      let start = colon + 1;
      while (start < lineEnd && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start++;
      value = text.slice(start, lineEnd);
    }
    if (name !== undefined) add(headers, name, value);
    return new HeaderSection(startLine, headers, malformed);
  }

  get(name: string): string[] | undefined {
    return this.headers.get(canonicalHeaderName(name));
  }

  /** The value when the header occurs on exactly one line, else undefined. */
  single(canonicalName: string): string | undefined {
    const list = this.headers.get(canonicalName);
    return list && list.length === 1 ? list[0] : undefined;
  }
}
