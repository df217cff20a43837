import type { Socket } from 'node:net';
import type { SipAddress, SipTransportName } from '../message/types.js';
import { StreamFramer, type FramerEvent } from './stream-framer.js';
import { nextConnectionId, normalizeAddress, type InboundSipMessage, type SipConnection, type TransportEnvironment } from './sip-transport.js';

/**
 * One TCP or TLS connection: frames the byte stream, answers CRLF
 * keep-alives, closes on idle, protocol error or a stuck writer.
 */
export class StreamConnection implements SipConnection {
  readonly protocol: SipTransportName;
  readonly connectionId: string;
  readonly remote: SipAddress;
  readonly local: SipAddress;
  private readonly socket: Socket;
  private readonly env: TransportEnvironment;
  private readonly framer: StreamFramer;
  private closed = false;
  /** Requests from this connection still being handled, so a protocol error closes only after they are answered. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly onClosed: (connection: StreamConnection) => void;

  constructor(protocol: SipTransportName, socket: Socket, env: TransportEnvironment, onClosed: (c: StreamConnection) => void) {
    this.protocol = protocol;
    this.socket = socket;
    this.env = env;
    this.onClosed = onClosed;
    this.connectionId = nextConnectionId(protocol);
    this.remote = { address: normalizeAddress(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
    this.local = { address: normalizeAddress(socket.localAddress ?? ''), port: socket.localPort ?? 0 };
    this.framer = new StreamFramer(env.limits.maxHeaderBytes, env.limits.maxBodyBytes);

    socket.setNoDelay(true);
    socket.setTimeout(env.limits.idleTimeoutMs);
    socket.on('timeout', () => {
      env.logger.debug({ connectionId: this.connectionId }, 'SIP connection idle, closing');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      env.counters.socketErrors += 1;
      env.logger.debug({ err, connectionId: this.connectionId }, 'SIP connection error');
    });
    socket.on('close', () => this.finish());
  }

  send(data: string | Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(data);
    if (this.socket.writableLength > this.env.limits.maxPendingWriteBytes) {
      this.env.logger.warn({ connectionId: this.connectionId }, 'SIP peer not reading, closing');
      this.socket.destroy();
    }
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.end();
    // end() waits for the peer's FIN; do not let a silent peer hold the socket.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Close at once, without flushing (edge shutdown). */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    try {
      if (this.env.isBanned(this.remote.address)) {
        this.socket.destroy();
        return;
      }
      this.framer.push(chunk, (event) => this.onFrame(event));
    } catch (err) {
      this.env.counters.socketErrors += 1;
      this.env.logger.error({ err, connectionId: this.connectionId }, 'SIP stream handler failed');
      this.socket.destroy();
    }
  }

  private onFrame(event: FramerEvent): void {
    if (event.kind === 'ping') {
      this.env.counters.keepAlives += 1;
      this.socket.write('\r\n');
      return;
    }
    const message: InboundSipMessage = {
      transport: this,
      protocol: this.protocol,
      source: this.remote,
      local: this.local,
      connectionId: this.connectionId,
      receivedAt: Date.now(),
    };
    if (event.kind === 'error') {
      // Nothing after this point can be framed: stop reading, answer what
      // came before, then the error, then close (RFC 3261 §18.3).
      this.socket.pause();
      const settle = Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, 5000).unref())]);
      void settle.then(() => {
        try {
          this.env.sink.onFramingError(message, event.error);
        } finally {
          this.close();
        }
      });
      return;
    }
    message.section = event.section;
    message.body = event.body;
    const pending = this.env.sink.onMessage(message);
    if (pending) {
      this.inFlight.add(pending);
      void pending.finally(() => this.inFlight.delete(pending));
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosed(this);
    this.env.sink.onConnectionClosed(this);
  }
}
