import dgram from 'node:dgram';
import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';
import type { SipAddress } from '../message/types.js';
import { normalizeAddress, type InboundSipMessage, type SipTransport, type TransportEnvironment } from './sip-transport.js';
import type { UdpSocketAddon } from './udp-socket-addon.js';
import { ReceiveQueueGauge } from './receive-queue-gauge.js';

/** A UDP listener, IPv4 or IPv6 (RFC 3261 §18.1/§18.2 unreliable transport). */
export class UdpTransport implements SipTransport {
  readonly protocol = 'udp' as const;
  private readonly socket: dgram.Socket;
  private readonly env: TransportEnvironment;
  private local: SipAddress = { address: '', port: 0 };
  private readonly family: 'udp4' | 'udp6';
  private granted = 0;
  private queue: ReceiveQueueGauge | undefined;

  constructor(family: 'udp4' | 'udp6', env: TransportEnvironment) {
    this.env = env;
    this.family = family;
    // ipv6Only keeps a `::` listener from also claiming the IPv4 port another listener binds.
    // A synchronous lookup for IP literals (every address we send to): dns.lookup answers those a tick later, one more callback per response.
    this.socket = dgram.createSocket({ type: family, ipv6Only: family === 'udp6', lookup: literalLookup });
    this.socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    this.socket.on('error', (err) => {
      env.counters.socketErrors += 1;
      env.logger.error({ err }, 'SIP UDP socket error');
    });
  }

  /**
   * `addon`: bind through native/udp-reuseport, which also lets the
   * listener measure its receive queue (`InboundSipMessage.queueWaitMs`);
   * `host` must then be an IP address, and a host name binds through
   * dgram without it. `reusePort` (with the addon): a socket of this
   * process's own bound with SO_REUSEPORT (each SIP worker does, on the
   * same port). Without the addon a SIP worker's bind goes through Node's
   * cluster, which shares one socket between the workers.
   */
  listen(host: string, port: number, opts: { addon?: UdpSocketAddon | undefined; reusePort?: boolean } = {}): Promise<SipAddress> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.socket.once('error', onError);
      const onBound = () => {
        this.socket.off('error', onError);
        this.sizeReceiveBuffer();
        const addr = this.socket.address();
        this.local = { address: addr.address, port: addr.port };
        resolve(this.local);
      };
      // Only an IP address binds through the addon: a host name takes dgram's own bind, which SO_REUSEPORT cannot.
      const addon = net.isIP(host) ? opts.addon : undefined;
      if (!addon) {
        if (opts.reusePort) {
          this.socket.off('error', onError);
          reject(
            new Error(opts.addon ? `SIP UDP host ${host} must be an IP address to bind with SO_REUSEPORT` : 'SO_REUSEPORT needs the native UDP socket addon'),
          );
          return;
        }
        this.socket.bind(port, host, onBound);
        return;
      }
      let fd = -1;
      try {
        const bound = addon.bindUdp(this.family === 'udp6' ? 6 : 4, host, port, opts.reusePort === true);
        fd = bound;
        this.queue = new ReceiveQueueGauge(() => addon.receiveQueueBytes(bound));
        // exclusive: opens this fd here; without it a cluster worker would ask the primary for a shared socket.
        this.socket.bind({ fd, exclusive: true }, onBound);
      } catch (err) {
        this.socket.off('error', onError);
        if (fd >= 0) fs.closeSync(fd);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Asks for the configured receive buffer; one warning when it was refused or capped. */
  private sizeReceiveBuffer(): void {
    const asked = this.env.limits.udpReceiveBufferBytes;
    try {
      this.socket.setRecvBufferSize(asked);
    } catch (err) {
      this.env.logger.warn({ err }, 'SIP UDP receive buffer size not set; the system default applies');
      return;
    } finally {
      this.granted = this.socket.getRecvBufferSize();
    }
    // Linux reports twice what it granted (the other half is its bookkeeping) and silently caps a request at net.core.rmem_max.
    if (process.platform === 'linux' && this.granted < 2 * asked)
      this.env.logger.warn(
        { askedBytes: asked, grantedBytes: this.granted / 2 },
        'SIP UDP receive buffer smaller than configured: raise net.core.rmem_max to at least sip.udp.receiveBufferBytes',
      );
  }

  /** The socket's receive buffer as the kernel reports it (on Linux twice the bytes granted for datagrams). */
  get receiveBufferBytes(): number {
    return this.granted;
  }

  /** Send errors (rare on UDP) reach the socket's 'error' listener: without a callback per datagram, Node completes the send in place. */
  send(data: string | Buffer, destination: SipAddress): void {
    this.socket.send(data, destination.port, destination.address);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const env = this.env;
    try {
      const receivedAt = Date.now();
      // Every read drains the queue, an oversized datagram's or a keep-alive's too: each is measured.
      const queueWaitMs = this.queue?.onRead(receivedAt);
      if (msg.length > env.limits.maxDatagramBytes) {
        env.counters.dropped += 1;
        return;
      }
      if (isOnlyCrlf(msg)) {
        // Keep-alives on UDP get no answer (RFC 5626 §4.4.2 uses STUN there, not CRLF).
        env.counters.keepAlives += 1;
        return;
      }
      const address = normalizeAddress(rinfo.address);
      if (env.isBanned(address)) {
        env.counters.dropped += 1;
        return;
      }
      const message: InboundSipMessage = {
        transport: this,
        protocol: 'udp',
        source: { address, port: rinfo.port },
        local: this.local,
        connectionId: undefined,
        receivedAt,
        bytes: msg,
      };
      if (queueWaitMs !== undefined) message.queueWaitMs = queueWaitMs;
      void env.sink.onMessage(message);
    } catch (err) {
      env.counters.socketErrors += 1;
      env.logger.error({ err }, 'SIP UDP handler failed');
    }
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

function literalLookup(host: string, options: dns.LookupOneOptions | LookupCallback, callback?: LookupCallback): void {
  const cb = (typeof options === 'function' ? options : callback)!;
  const family = net.isIP(host);
  if (family) return cb(null, host, family);
  if (typeof options === 'function') dns.lookup(host, cb);
  else dns.lookup(host, options, cb);
}

function isOnlyCrlf(msg: Buffer): boolean {
  for (let i = 0; i < msg.length; i++) {
    const c = msg[i];
    if (c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}
