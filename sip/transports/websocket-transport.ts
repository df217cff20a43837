import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SipAddress, SipTransportName } from '../message/types.js';
import { ConnectionLimiter } from './connection-limiter.js';
import type { TlsFiles } from './stream-transport.js';
import { nextConnectionId, normalizeAddress, type SipConnection, type TransportEnvironment } from './sip-transport.js';
import { listenServer } from './listen-server.js';

/** One SIP-over-WebSocket connection (RFC 7118). */
export class WebSocketConnection implements SipConnection {
  readonly protocol: SipTransportName;
  readonly connectionId: string;
  readonly remote: SipAddress;
  readonly local: SipAddress;
  private readonly ws: WebSocket;
  private readonly env: TransportEnvironment;
  private readonly idleTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    protocol: 'ws' | 'wss',
    ws: WebSocket,
    remote: SipAddress,
    local: SipAddress,
    env: TransportEnvironment,
    onClosed: (c: WebSocketConnection) => void,
  ) {
    this.protocol = protocol;
    this.ws = ws;
    this.env = env;
    this.remote = remote;
    this.local = local;
    this.connectionId = nextConnectionId(protocol);
    this.idleTimer = setTimeout(() => this.terminate(), env.limits.idleTimeoutMs);
    this.idleTimer.unref();
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => this.onMessage(data));
    ws.on('error', (err) => {
      env.counters.socketErrors += 1;
      env.logger.debug({ err, connectionId: this.connectionId }, 'SIP WebSocket error');
    });
    ws.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      clearTimeout(this.idleTimer);
      onClosed(this);
      env.sink.onConnectionClosed(this);
    });
  }

  send(data: string | Buffer): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    // RFC 7118 §5.1: a SIP message in a text frame must be UTF-8; ours are (a Buffer too: it is our UTF-8 encoding).
    this.ws.send(data, { binary: false });
    if (this.ws.bufferedAmount > this.env.limits.maxPendingWriteBytes) this.terminate();
  }

  close(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
    setTimeout(() => this.terminate(), 1000).unref();
  }

  terminate(): void {
    this.ws.terminate();
  }

  private onMessage(data: Buffer | ArrayBuffer | Buffer[]): void {
    const env = this.env;
    try {
      this.idleTimer.refresh();
      if (env.isBanned(this.remote.address)) {
        this.terminate();
        return;
      }
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (bytes.length > env.limits.maxHeaderBytes + env.limits.maxBodyBytes) {
        env.counters.dropped += 1;
        this.close();
        return;
      }
      if (bytes.length === 4 && bytes.toString('latin1') === '\r\n\r\n') {
        env.counters.keepAlives += 1;
        this.ws.send('\r\n');
        return;
      }
      // RFC 7118 §5: each WebSocket message carries exactly one SIP message.
      void env.sink.onMessage({
        transport: this,
        protocol: this.protocol,
        source: this.remote,
        local: this.local,
        connectionId: this.connectionId,
        receivedAt: Date.now(),
        bytes,
      });
    } catch (err) {
      env.counters.socketErrors += 1;
      env.logger.error({ err, connectionId: this.connectionId }, 'SIP WebSocket handler failed');
      this.terminate();
    }
  }
}

/** A WS or WSS listener accepting the `sip` subprotocol (RFC 7118 §4.1). */
export class WebSocketTransport {
  readonly protocol: 'ws' | 'wss';
  private readonly server: http.Server | https.Server;
  private readonly wss: WebSocketServer;
  private readonly env: TransportEnvironment;
  private readonly limiter: ConnectionLimiter;
  private readonly connections = new Set<WebSocketConnection>();
  private readonly sockets = new Set<Duplex>();

  constructor(protocol: 'ws' | 'wss', env: TransportEnvironment, tlsFiles?: TlsFiles) {
    this.protocol = protocol;
    this.env = env;
    this.limiter = new ConnectionLimiter(env.limits.maxConnectionsPerIp, env.limits.maxConnections);
    const plainHttp = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
      res.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end();
    };
    if (protocol === 'wss') {
      if (!tlsFiles) throw new Error('WSS listener needs certPath and keyPath');
      this.server = https.createServer(
        { cert: readFileSync(tlsFiles.certPath), key: readFileSync(tlsFiles.keyPath), ...(tlsFiles.caPath ? { ca: readFileSync(tlsFiles.caPath) } : {}) },
        plainHttp,
      );
    } else {
      this.server = http.createServer(plainHttp);
    }
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 10_000;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: env.limits.maxHeaderBytes + env.limits.maxBodyBytes,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    this.server.on('connection', (socket: Duplex) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.server.on('error', (err) => {
      env.counters.socketErrors += 1;
      env.logger.error({ err, protocol }, 'SIP WebSocket listener error');
    });
  }

  listen(host: string, port: number): Promise<SipAddress> {
    return listenServer(this.server, host, port);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) connection.terminate();
    for (const socket of this.sockets) socket.destroy();
    this.wss.close();
    await closed;
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const env = this.env;
    try {
      socket.on('error', () => {
        env.counters.socketErrors += 1;
      });
      const remoteAddress = normalizeAddress(req.socket.remoteAddress ?? '');
      const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim().toLowerCase());
      // RFC 7118 §4.1: the client MUST offer `sip`; without it this is not a SIP client.
      if (!offered.includes('sip')) {
        env.counters.connectionsRejected += 1;
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (env.isBanned(remoteAddress) || !this.limiter.canAcquire(remoteAddress)) {
        env.counters.connectionsRejected += 1;
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      // The slot is taken only once the handshake succeeded: a failed
      // handshake never reaches this callback and would leak it.
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        if (!this.limiter.tryAcquire(remoteAddress)) {
          env.counters.connectionsRejected += 1;
          ws.terminate();
          return;
        }
        env.counters.connectionsAccepted += 1;
        const remote = { address: remoteAddress, port: req.socket.remotePort ?? 0 };
        const local = { address: normalizeAddress(req.socket.localAddress ?? ''), port: req.socket.localPort ?? 0 };
        const connection = new WebSocketConnection(this.protocol, ws, remote, local, env, (c) => {
          this.connections.delete(c);
          this.limiter.release(remoteAddress);
        });
        this.connections.add(connection);
      });
    } catch (err) {
      env.counters.socketErrors += 1;
      env.logger.error({ err }, 'SIP WebSocket upgrade failed');
      socket.destroy();
    }
  }
}
