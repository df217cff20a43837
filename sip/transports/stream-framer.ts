import { HeaderSection } from '../message/header-section.js';
import { SipParseError } from '../message/sip-parse-error.js';
import { contentLength } from '../message/sip-request.js';

export type FramerEvent =
  | { kind: 'message'; section: HeaderSection; body: Buffer }
  /** RFC 5626 §4.4.1 double-CRLF ping: answer with a single CRLF. */
  | { kind: 'ping' }
  | { kind: 'error'; error: SipParseError };

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Cuts a byte stream into SIP messages by Content-Length (RFC 3261 §18.3).
 * After an error the stream cannot be resynchronised, so the framer stops
 * and the connection must close.
 */
export class StreamFramer {
  private pending: Buffer = Buffer.alloc(0);
  /** Header section of the message whose body is still arriving, so headers are read once. */
  private waiting: { section: HeaderSection; bodyStart: number; bodyLength: number } | undefined;
  private failed = false;
  private readonly maxHeaderBytes: number;
  private readonly maxBodyBytes: number;

  constructor(maxHeaderBytes: number, maxBodyBytes: number) {
    this.maxHeaderBytes = maxHeaderBytes;
    this.maxBodyBytes = maxBodyBytes;
  }

  push(chunk: Buffer, emit: (event: FramerEvent) => void): void {
    if (this.failed) return;
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.waiting) {
        const { section, bodyStart, bodyLength } = this.waiting;
        if (buf.length < bodyStart + bodyLength) break;
        this.waiting = undefined;
        const body = Buffer.from(buf.subarray(bodyStart, bodyStart + bodyLength));
        buf = buf.subarray(bodyStart + bodyLength);
        emit({ kind: 'message', section, body });
        continue;
      }
      // RFC 3261 §7.5: CRLFs before a start line are ignored; RFC 5626 §4.4.1:
      // a CRLFCRLF there is a keep-alive ping.
      if (buf.length >= 1 && buf[0] === 0x0d) {
        if (buf.length < 4 && HEADER_END.subarray(0, buf.length).equals(buf)) break;
        if (buf.subarray(0, 4).equals(HEADER_END)) {
          buf = buf.subarray(4);
          emit({ kind: 'ping' });
          continue;
        }
        if (buf[1] === 0x0a) {
          buf = buf.subarray(2);
          continue;
        }
      }
      if (buf.length === 0) break;
      const end = buf.indexOf(HEADER_END);
      if (end < 0) {
        if (buf.length > this.maxHeaderBytes) return this.fail(emit, new SipParseError('header section too large', { status: 413 }));
        break;
      }
      if (end > this.maxHeaderBytes) return this.fail(emit, new SipParseError('header section too large', { status: 413 }));
      const section = HeaderSection.read(buf.toString('utf8', 0, end));
      const cl = section.headers.get('content-length');
      if (!cl) {
        // RFC 3261 §18.3: stream-oriented transports MUST use Content-Length.
        return this.fail(emit, new SipParseError('missing Content-Length on a stream', { section }));
      }
      let length: number;
      try {
        length = contentLength(cl);
      } catch (err) {
        (err as SipParseError).section = section;
        return this.fail(emit, err as SipParseError);
      }
      if (length > this.maxBodyBytes) return this.fail(emit, new SipParseError('body too large', { status: 413, section }));
      this.waiting = { section, bodyStart: end + 4, bodyLength: length };
    }
    // Copy the remainder so a small leftover does not pin a large socket chunk.
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }

  private fail(emit: (event: FramerEvent) => void, error: SipParseError): void {
    this.failed = true;
    this.pending = Buffer.alloc(0);
    this.waiting = undefined;
    emit({ kind: 'error', error });
  }
}
