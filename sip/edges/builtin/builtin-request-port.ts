import { requestText } from './request-text.js';
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { HeaderSection } from '../../message/header-section.js';
import { StreamFramer } from '../../transports/stream-framer.js';
import { NonInviteClientTransaction } from '../../transactions/non-invite-client-transaction.js';
import {
  OutboundTransportError,
  type OutboundRequest,
  type OutboundRequestPort,
  type OutboundResponse,
  type OutboundTarget,
  type OutboundTransport,
} from '../../transactions/outbound-request-port.js';
import type { BuiltinRequestSender } from './builtin-qualify-sender.js';

export interface BuiltinRequestPortOptions {
  t1Ms?: number;
  timeoutMs?: number;
  /** Close an outbound stream connection idle this long. */
  idleMs?: number;
  /** CAs a TLS target's certificate may chain to, besides Node's public roots. */
  extraCa?: string;
}

interface StreamConn {
  socket: net.Socket;
  ready: Promise<void>;
  idle: NodeJS.Timeout | undefined;
}

/**
 * Requests we originate, over the built-in edge. UDP leaves from our UDP
 * listener (so the carrier answers, and later reaches us, on the port our
 * Via and Contact name); TCP/TLS open a client connection to the target and
 * keep it while requests use it (RFC 3261 §18.1.1; responses come back on
 * it, §18.2.2). Responses are matched by the top Via branch we generated
 * (§17.1.3): UDP ones reach `onResponse`, which the edge calls.
 */
export class BuiltinRequestPort implements OutboundRequestPort {
  private readonly pending = new Map<string, NonInviteClientTransaction>();
  private readonly streams = new Map<string, StreamConn>();
  private edge: BuiltinRequestSender | undefined;

  constructor(private readonly o: BuiltinRequestPortOptions = {}) {}

  attach(edge: BuiltinRequestSender): void {
    this.edge = edge;
  }

  local(transport: OutboundTransport): { host: string; port: number } | null {
    if (!this.edge) return null;
    try {
      return { host: this.edge.advertisedHost, port: this.edge.port(transport) };
    } catch {
      // No listener of that transport: a client connection still works, but the carrier cannot open one back.
      return transport === 'udp' ? null : { host: this.edge.advertisedHost, port: this.edge.port('udp') };
    }
  }

  /** True when the response was one of ours. */
  readonly onResponse = (text: string): boolean => {
    const head = text.split('\r\n\r\n')[0]!;
    const section = HeaderSection.read(head);
    const branch = /;\s*branch=([^;,\s]+)/i.exec(section.get('via')?.[0] ?? '')?.[1];
    const tx = branch ? this.pending.get(branch) : undefined;
    if (!tx) return false;
    const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(section.startLine);
    if (m) tx.receive({ status: Number(m[1]), reason: m[2] ?? '', section });
    return true;
  };

  async send(req: OutboundRequest): Promise<OutboundResponse> {
    const edge = this.edge;
    const local = this.local(req.target.transport);
    if (!edge || !local) throw new OutboundTransportError(`cannot send over ${req.target.transport}: no listener`);
    const branch = `z9hG4bK-o${crypto.randomBytes(9).toString('hex')}`;
    const text = requestText(req, local, branch);
    const reliable = req.target.transport !== 'udp';
    let transmit: () => void;
    if (reliable) {
      const conn = this.stream(req.target);
      await conn.ready;
      transmit = () => conn.socket.write(text);
    } else {
      const dest = { transport: 'udp' as const, address: req.target.host, port: req.target.port };
      transmit = () => void edge.sendRequest(dest, text);
    }
    const tx = new NonInviteClientTransaction(transmit, reliable, { t1Ms: this.o.t1Ms ?? 500, ...(this.o.timeoutMs ? { timeoutMs: this.o.timeoutMs } : {}) });
    this.pending.set(branch, tx);
    try {
      return await tx.start();
    } finally {
      this.pending.delete(branch);
    }
  }

  close(): void {
    for (const c of this.streams.values()) c.socket.destroy();
    this.streams.clear();
  }

  private stream(target: OutboundTarget): StreamConn {
    const key = `${target.transport}:${target.host}:${target.port}`;
    const existing = this.streams.get(key);
    if (existing && !existing.socket.destroyed) {
      this.touch(existing, key);
      return existing;
    }
    // TLS (RFC 3261 §26.3.1): the carrier's certificate must chain to a trusted CA and name the host we dialled
    // (Node checks the subjectAltName DNS or IP entry); SNI only for a name, never an address (RFC 6066 §3).
    const socket: net.Socket =
      target.transport === 'tls'
        ? tls.connect({
            host: target.host,
            port: target.port,
            ...(net.isIP(target.host) ? {} : { servername: target.host }),
            ...(this.o.extraCa ? { ca: [...tls.rootCertificates, this.o.extraCa] } : {}),
          })
        : net.connect({ host: target.host, port: target.port });
    const framer = new StreamFramer(16_384, 65_536);
    const ready = new Promise<void>((resolve, reject) => {
      socket.once(target.transport === 'tls' ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', (err: Error) =>
        reject(new OutboundTransportError(`${target.transport} connection to ${target.host}:${target.port} failed: ${err.message}`)),
      );
    });
    ready.catch(() => {});
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) =>
      framer.push(chunk, (ev) => {
        if (ev.kind !== 'message') return;
        const section = ev.section;
        const branch = /;\s*branch=([^;,\s]+)/i.exec(section.get('via')?.[0] ?? '')?.[1];
        const tx = branch ? this.pending.get(branch) : undefined;
        const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(section.startLine);
        if (tx && m) tx.receive({ status: Number(m[1]), reason: m[2] ?? '', section });
      }),
    );
    const conn: StreamConn = { socket, ready, idle: undefined };
    socket.on('close', () => {
      if (this.streams.get(key) === conn) this.streams.delete(key);
      if (conn.idle) clearTimeout(conn.idle);
    });
    this.streams.set(key, conn);
    this.touch(conn, key);
    return conn;
  }

  private touch(conn: StreamConn, key: string): void {
    if (conn.idle) clearTimeout(conn.idle);
    conn.idle = setTimeout(() => {
      if (this.streams.get(key) === conn) this.streams.delete(key);
      conn.socket.end();
    }, this.o.idleMs ?? 120_000);
    conn.idle.unref();
  }
}
