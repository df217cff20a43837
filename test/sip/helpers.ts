import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BuiltinSipEdge, type BuiltinSipEdgeOptions } from '../../sip/edges/builtin/builtin-sip-edge.js';
import { createDefaultSipRequestHandler } from '../../sip/edges/builtin/default-sip-request-handler.js';
import type { SipRequestHandler } from '../../sip/message/types.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixturesDir = path.join(repoRoot, 'test/sip/fixtures');

export function fixture(name: string): string {
  return readFileSync(path.join(fixturesDir, name), 'utf8').replace(/\r?\n/g, '\r\n');
}

/** A handler that answers REGISTER 200 and everything else the default way. */
export const okRegisterHandler: SipRequestHandler = createDefaultSipRequestHandler({
  register: async () => ({ status: 200, reason: 'OK', headers: [] }),
});

export async function startEdge(overrides: Partial<BuiltinSipEdgeOptions> = {}): Promise<BuiltinSipEdge> {
  const edge = new BuiltinSipEdge({
    handler: okRegisterHandler,
    listeners: [
      { transport: 'udp', host: '127.0.0.1', port: 0 },
      { transport: 'tcp', host: '127.0.0.1', port: 0 },
    ],
    ...overrides,
  });
  await edge.start();
  return edge;
}

let seq = 0;
/** A well-formed REGISTER with a fresh branch and Call-ID unless given. */
export function registerMessage(opts: { branch?: string; callId?: string; cseq?: number; extraHeaders?: string[] } = {}): string {
  seq += 1;
  const branch = opts.branch ?? `z9hG4bK-test-${process.pid}-${seq}`;
  const callId = opts.callId ?? `call-${process.pid}-${seq}@test`;
  return [
    'REGISTER sip:example.com SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=${branch};rport`,
    'Max-Forwards: 70',
    'From: <sip:alice@example.com>;tag=from1',
    'To: <sip:alice@example.com>',
    `Call-ID: ${callId}`,
    `CSeq: ${opts.cseq ?? 1} REGISTER`,
    'Contact: <sip:alice@127.0.0.1:5999;transport=udp>;expires=60',
    ...(opts.extraHeaders ?? []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export function optionsMessage(): string {
  seq += 1;
  return [
    'OPTIONS sip:example.com SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-opt-${process.pid}-${seq}`,
    'Max-Forwards: 70',
    'From: <sip:probe@example.com>;tag=p1',
    'To: <sip:example.com>',
    `Call-ID: opt-${process.pid}-${seq}@test`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export function statusOf(response: string): number {
  return Number(response.slice(8, 11));
}

/** A UDP client on 127.0.0.1 (or ::1) collecting responses. */
export class UdpClient {
  readonly socket: dgram.Socket;
  private readonly queue: string[] = [];
  private waiters: Array<(msg: string) => void> = [];

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (msg) => {
      const text = msg.toString('utf8');
      const w = this.waiters.shift();
      if (w) w(text);
      else this.queue.push(text);
    });
  }

  static async open(type: 'udp4' | 'udp6' = 'udp4'): Promise<UdpClient> {
    const socket = dgram.createSocket(type);
    await new Promise<void>((resolve) => socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
    return new UdpClient(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: string | Buffer, port: number, host = '127.0.0.1'): void {
    this.socket.send(data, port, host);
  }

  /** Next response, or undefined after `timeoutMs`. */
  next(timeoutMs = 2000): Promise<string | undefined> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const waiter = (msg: string): void => {
        clearTimeout(timer);
        resolve(msg);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  drain(): void {
    this.queue.length = 0;
  }

  close(): void {
    this.socket.close();
  }
}

/** A TCP client that splits the byte stream into responses by Content-Length. */
export class TcpClient {
  readonly socket: net.Socket;
  private buffer = '';
  private readonly messages: string[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.extract();
      this.wake();
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      });
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => resolve(new TcpClient(socket)));
      socket.once('error', reject);
    });
  }

  static wrap(socket: net.Socket): TcpClient {
    return new TcpClient(socket);
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Raw bytes received that are not part of a framed message (e.g. a CRLF pong). */
  get rawBuffer(): string {
    return this.buffer;
  }

  next(timeoutMs = 2000): Promise<string | undefined> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const m = this.messages.shift();
        if (m !== undefined) {
          resolve(m);
          return true;
        }
        if (this.closed) {
          resolve(undefined);
          return true;
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(undefined);
      }, timeoutMs);
      const waiter = (): void => {
        if (check()) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
        }
      };
      this.waiters.push(waiter);
    });
  }

  waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<boolean> {
    return new Promise((resolve) => {
      if (predicate()) return resolve(true);
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = (): void => {
        if (predicate()) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(true);
        }
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private extract(): void {
    for (;;) {
      while (this.buffer.startsWith('\r\n') && !this.buffer.startsWith('\r\n\r\n') && this.buffer.length > 2) this.buffer = this.buffer.slice(2);
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0 || !this.buffer.startsWith('SIP/')) return;
      const m = /\r\nContent-Length:\s*(\d+)/i.exec(this.buffer.slice(0, end));
      const length = m ? Number(m[1]) : 0;
      if (this.buffer.length < end + 4 + length) return;
      this.messages.push(this.buffer.slice(0, end + 4 + length));
      this.buffer = this.buffer.slice(end + 4 + length);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
