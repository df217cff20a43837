import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * body-parser's `verify` hook for JSON bodies. RFC 8259 §8.1: JSON exchanged
 * between systems that are not part of a closed ecosystem MUST be UTF-8, so
 * UTF-16/32 bodies are refused (415) and a body that is not well-formed UTF-8
 * is malformed JSON (400), instead of being decoded with U+FFFD in place of
 * the bad bytes and stored that way. The error `type`s are the ones the error
 * handler already maps for body-parser.
 */
export function verifyUtf8Json(_req: IncomingMessage, _res: ServerResponse, body: Buffer, encoding: string): void {
  if (encoding.toLowerCase() !== 'utf-8') throw Object.assign(new Error(`charset ${encoding} is not UTF-8`), { type: 'charset.unsupported' });
  if (!isUtf8(body)) throw Object.assign(new Error('body is not well-formed UTF-8'), { type: 'entity.parse.failed' });
}
