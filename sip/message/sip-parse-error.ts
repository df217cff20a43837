import type { HeaderSection } from './header-section.js';

/**
 * A request the edge cannot accept as written. `status` is what to answer
 * (400 unless a more precise code applies: 505, 501, 416, 413); `section` is
 * the header section as far as it could be read, so the edge can still build
 * a response from Via/Call-ID/CSeq, or drop the message when it cannot.
 */
export class SipParseError extends Error {
  override readonly name = 'SipParseError';
  readonly status: number;
  readonly reason: string;
  section: HeaderSection | undefined;

  constructor(message: string, options: { status?: number; reason?: string; section?: HeaderSection } = {}) {
    super(message);
    this.status = options.status ?? 400;
    this.reason = options.reason ?? defaultReason(this.status);
    this.section = options.section;
  }
}

function defaultReason(status: number): string {
  switch (status) {
    case 413:
      return 'Request Entity Too Large';
    case 416:
      return 'Unsupported URI Scheme';
    case 501:
      return 'Not Implemented';
    case 505:
      return 'Version Not Supported';
    default:
      return 'Bad Request';
  }
}
