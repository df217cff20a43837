import { canonicalHeaderName } from './header-names.js';

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

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
    let begin = 0;
    while (text.startsWith('\r\n', begin)) begin += 2;
    const lines = (begin === 0 ? text : text.slice(begin)).split('\r\n');
    const startLine = lines[0] ?? '';
    const headers = new Map<string, string[]>();
    let malformed = 0;
    let name: string | undefined;
    let value = '';
    const flush = (): void => {
      if (name === undefined) return;
      const list = headers.get(name);
      if (list) list.push(value.trim());
      else headers.set(name, [value.trim()]);
      name = undefined;
    };
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const first = line.charCodeAt(0);
      if (first === 0x20 || first === 0x09) {
        // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header.
        if (name !== undefined) value += line;
        else malformed++;
        continue;
      }
      flush();
      const colon = line.indexOf(':');
      if (colon <= 0) {
        if (line.length > 0) malformed++;
        continue;
      }
      const rawName = line.slice(0, colon).trimEnd();
      if (!TOKEN.test(rawName)) {
        malformed++;
        continue;
      }
      name = canonicalHeaderName(rawName);
      value = line.slice(colon + 1);
    }
    flush();
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
