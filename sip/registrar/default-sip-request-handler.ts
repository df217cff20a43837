import type { SipRequest, SipRequestHandler, SipResponseSpec } from '../message/types.js';
import { KNOWN_METHODS } from '../message/sip-request.js';

export interface DefaultSipRequestHandlerOptions {
  /** Methods advertised in Allow; default REGISTER and OPTIONS. */
  allow?: string[];
  /** Handles REGISTER (the registrar core); without it REGISTER gets 405. */
  register?: SipRequestHandler;
  /** Handles MESSAGE (RFC 3428, a phone sending an SMS); without it MESSAGE gets 405. */
  message?: SipRequestHandler;
  /** Handles SUBSCRIBE (RFC 6665, message-summary); without it SUBSCRIBE gets 405. */
  subscribe?: SipRequestHandler;
}

/** A 200 answer to OPTIONS (RFC 3261 §11.2) advertising what we allow. */
export function optionsResponse(allow: readonly string[] = ['REGISTER', 'OPTIONS']): SipResponseSpec {
  const headers: Array<[string, string]> = [
    ['Allow', allow.join(', ')],
    ['Accept', 'application/sdp'],
    ['Supported', 'path, outbound'],
  ];
  // RFC 6665 §8.2.2: the event packages we accept SUBSCRIBEs for.
  if (allow.includes('SUBSCRIBE')) headers.push(['Allow-Events', 'message-summary']);
  return { status: 200, reason: 'OK', headers };
}

/**
 * The edge's default request handling: OPTIONS answered 200, REGISTER
 * passed to the registrar, other methods refused the way RFC 3261 §8.2.1
 * asks — 405 with Allow for a method we know but do not do, 501 for one
 * we do not know.
 */
export function createDefaultSipRequestHandler(options: DefaultSipRequestHandlerOptions = {}): SipRequestHandler {
  const allow = options.allow ?? ['REGISTER', 'OPTIONS', ...(options.message ? ['MESSAGE'] : []), ...(options.subscribe ? ['SUBSCRIBE'] : [])];
  const allowValue = allow.join(', ');
  return async (req: SipRequest, ctx) => {
    if (req.method === 'OPTIONS') return optionsResponse(allow);
    if (req.method === 'REGISTER' && options.register) return options.register(req, ctx);
    if (req.method === 'MESSAGE' && options.message) return options.message(req, ctx);
    if (req.method === 'SUBSCRIBE' && options.subscribe) return options.subscribe(req, ctx);
    if (req.method === 'CANCEL') {
      // RFC 3261 §9.2: no INVITE transaction here can match the CANCEL.
      return { status: 481, reason: 'Call/Transaction Does Not Exist', headers: [] };
    }
    if (KNOWN_METHODS.has(req.method)) return { status: 405, reason: 'Method Not Allowed', headers: [['Allow', allowValue]] };
    return { status: 501, reason: 'Not Implemented', headers: [['Allow', allowValue]] };
  };
}
