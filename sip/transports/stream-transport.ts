import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { SipAddress } from '../message/types.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { StreamConnection } from './stream-connection.js';
import { normalizeAddress, type TransportEnvironment } from './sip-transport.js';
import { listenServer } from './listen-server.js';

export interface TlsFiles {
  certPath: string;
  keyPath: string;
  /** Optional CA bundle, for operators that chain certificates separately. */
  caPath?: string;
}

/** A TCP or TLS listener (RFC 3261 §18.3 stream transports). */
export class StreamTransport {
  readonly protocol: 'tcp' | 'tls';
  private readonly server: net.Server;
  private readonly env: TransportEnvironment;
  private readonly limiter: ConnectionLimiter;
  private readonly connections = new Set<StreamConnection>();

  constructor(protocol: 'tcp' | 'tls', env: TransportEnvironment, tlsFiles?: TlsFiles) {
    this.protocol = protocol;
    this.env = env;
    this.limiter = new ConnectionLimiter(env.limits.maxConnectionsPerIp, env.limits.maxConnections);
    if (protocol === 'tls') {
      if (!tlsFiles) throw new Error('TLS listener needs certPath and keyPath');
      this.server = tls.createServer({
        cert: readFileSync(tlsFiles.certPath),
        key: readFileSync(tlsFiles.keyPath),
        ...(tlsFiles.caPath ? { ca: readFileSync(tlsFiles.caPath) } : {}),
        // A peer that never finishes the handshake holds a slot; bound it.
        handshakeTimeout: 10_000,
      });
      this.server.on('secureConnection', (socket: tls.TLSSocket) => this.accept(socket));
      this.server.on('tlsClientError', (err: Error) => {
        env.counters.socketErrors += 1;
        env.logger.debug({ err }, 'TLS handshake failed');
      });
    } else {
      this.server = net.createServer((socket) => this.accept(socket));
    }
    this.server.on('error', (err) => {
      env.counters.socketErrors += 1;
      env.logger.error({ err, protocol }, 'SIP listener error');
    });
  }

  listen(host: string, port: number): Promise<SipAddress> {
    return listenServer(this.server, host, port);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) connection.destroy();
    await closed;
  }

  private accept(socket: net.Socket): void {
    try {
      const ip = normalizeAddress(socket.remoteAddress ?? '');
      if (this.env.isBanned(ip) || !this.limiter.tryAcquire(ip)) {
        this.env.counters.connectionsRejected += 1;
        socket.on('error', () => {});
        socket.destroy();
        return;
      }
      this.env.counters.connectionsAccepted += 1;
      const connection = new StreamConnection(this.protocol, socket, this.env, (c) => {
        this.connections.delete(c);
        this.limiter.release(ip);
      });
      this.connections.add(connection);
    } catch (err) {
      this.env.counters.socketErrors += 1;
      this.env.logger.error({ err }, 'SIP accept failed');
      socket.destroy();
    }
  }
}
