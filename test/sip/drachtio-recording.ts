import net from 'node:net';
import { createRequire } from 'node:module';
import type { DrachtioRequest, DrachtioResponse, DrachtioSipMessage } from '../../sip/edges/drachtio/drachtio-srf-api.js';

const require = createRequire(import.meta.url);
const SipMessage = require('drachtio-srf/lib/sip-parser/message') as new (raw?: string) => DrachtioSipMessage;
const Request = require('drachtio-srf/lib/request') as new (
  msg: DrachtioSipMessage,
  meta: Record<string, unknown>,
) => DrachtioRequest & Record<string, unknown>;
const Response = require('drachtio-srf/lib/response') as new (agent?: unknown) => DrachtioResponse & Record<string, unknown>;
const Agent = require('drachtio-srf/lib/drachtio-agent') as new (cb: () => void) => Record<string, unknown> & {
  _initServer(socket: net.Socket): unknown;
};

export interface DrachtioMeta {
  protocol: string;
  address: string;
  port: number;
  /** `address:port` the server received the request on. */
  receivedOn?: string;
}

export interface RecordedExchange {
  req: DrachtioRequest;
  res: DrachtioResponse;
  /** Wire-protocol messages drachtio-srf wrote towards drachtio-server (`sip|txn|dialog\r\n<SIP>`). */
  sent: string[];
  /** The SIP text of the first response sent, as drachtio-server would receive it. */
  responseText(): string | undefined;
}

/**
 * drachtio-srf's own Request/Response for a raw request text, as its agent
 * builds them on an incoming `sip|network|…` message (lib/drachtio-agent.js
 * _onMsg), with the agent's wire protocol recording instead of writing to a
 * drachtio-server socket. res.send runs drachtio-srf's real serialisation.
 */
export function drachtioExchange(raw: string, meta: DrachtioMeta, transactionId = 'txn-1'): RecordedExchange {
  const sent: string[] = [];
  const agent = new Agent(() => {});
  agent['wp'] = {
    send: (_socket: unknown, msg: string) => {
      sent.push(msg);
      return `msg-${sent.length}`;
    },
  };
  const socket = new net.Socket();
  agent._initServer(socket);
  const msg = new SipMessage(raw);
  const fullMeta: Record<string, unknown> = {
    source: 'network',
    address: meta.address,
    port: String(meta.port),
    protocol: meta.protocol,
    time: String(Date.now()),
    transactionId,
    dialogId: '',
  };
  if (meta.receivedOn) fullMeta['receivedOn'] = meta.receivedOn;
  const req = new Request(msg, fullMeta);
  const res = new Response();
  req['res'] = res;
  res['req'] = req;
  req['agent'] = res['agent'] = agent;
  req['socket'] = res['socket'] = socket;
  return {
    req,
    res,
    sent,
    responseText() {
      const first = sent[0];
      if (first === undefined) return undefined;
      return first.slice(first.indexOf('\r\n') + 2);
    },
  };
}

export function drachtioSipMessage(raw: string): DrachtioSipMessage {
  return new SipMessage(raw);
}
