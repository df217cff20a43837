import net from 'node:net';
import { randomUUID } from 'node:crypto';

/**
 * A drachtio-server stand-in speaking the wire protocol drachtio-srf 5
 * implements (lib/wire-protocol.js framing `<bytes>#<msgId>|<type>|…`,
 * lib/drachtio-agent.js message layouts). drachtio-server itself cannot
 * be installed here; this exercises drachtio-srf's real client code over a
 * real socket on 127.0.0.1.
 */
export interface WireMessage {
  id: string;
  /** `authenticate|secret|tags`, `route|register`, `sip|txn|dialog[|proxy]` … */
  leader: string[];
  /** Text after the first CRLF (the SIP message for `sip`). */
  body: string;
}

export type FakeDrachtioBehaviour = 'speak' | 'accept-and-close';

export class FakeDrachtioServer {
  readonly server = net.createServer();
  readonly sockets = new Set<net.Socket>();
  readonly received: WireMessage[] = [];
  /** Epoch ms of each accepted connection. */
  readonly accepts: number[] = [];
  behaviour: FakeDrachtioBehaviour = 'speak';
  secret = 'cymru';
  hostport = 'udp/127.0.0.1:5060,tcp/127.0.0.1:5060';
  /** Answers our application's OPTIONS requests (null: never answer). */
  answerRequest: (sip: string) => { status: number; reason: string } | null = () => ({ status: 200, reason: 'OK' });
  private waiters: Array<() => void> = [];
  private txnSeq = 0;

  async listen(): Promise<number> {
    this.server.on('connection', (socket) => this.onConnection(socket));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Serve one socket we connected ourselves (outbound mode: drachtio-server dials the app). */
  adopt(socket: net.Socket): void {
    this.onConnection(socket);
  }

  /** Drop every connection (drachtio-server restarting). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Deliver an incoming network request to the application, as drachtio-server does. */
  deliver(raw: string, meta: { protocol: string; address: string; port: number; transactionId: string; receivedOn?: [string, number] }): void {
    const parts = [
      'sip',
      'network',
      String(Buffer.byteLength(raw)),
      meta.protocol,
      meta.address,
      String(meta.port),
      String(Date.now()),
      meta.transactionId,
      '',
    ];
    if (meta.receivedOn) parts.push(meta.receivedOn[0], String(meta.receivedOn[1]));
    this.sendAll(`${parts.join('|')}\r\n${raw}`);
  }

  /** Resolves when a received message satisfies `match` (already or later). */
  async waitFor(match: (m: WireMessage) => boolean, timeoutMs = 3000): Promise<WireMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a wire message');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private onConnection(socket: net.Socket): void {
    this.accepts.push(Date.now());
    if (this.behaviour === 'accept-and-close') {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const hash = buffer.indexOf('#');
        if (hash <= 0) return;
        const size = Number(buffer.toString('utf8', 0, hash));
        if (buffer.length < hash + 1 + size) return;
        const text = buffer.toString('utf8', hash + 1, hash + 1 + size);
        buffer = buffer.subarray(hash + 1 + size);
        this.onMessage(socket, text);
      }
    });
  }

  private onMessage(socket: net.Socket, text: string): void {
    const crlf = text.indexOf('\r\n');
    const leaderText = crlf < 0 ? text : text.slice(0, crlf);
    const [id, ...leader] = leaderText.split('|');
    const message: WireMessage = { id: id!, leader, body: crlf < 0 ? '' : text.slice(crlf + 2) };
    this.received.push(message);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();

    if (leader[0] === 'authenticate') {
      const ok = leader[1] === this.secret;
      this.send(socket, ok ? `response|${message.id}|OK|${this.hostport}|v0.9.3` : `response|${message.id}|NOK|bad secret`);
    } else if (leader[0] === 'sip' && leader[1] === '' && /^[A-Z]+ /.test(message.body)) {
      // A new request from the application (srf.request): echo it with a transaction id, then answer.
      const txn = `app-txn-${++this.txnSeq}`;
      const t = Date.now();
      this.send(socket, `response|${message.id}|OK|application|${Buffer.byteLength(message.body)}|udp|127.0.0.1|5060|${t}|${txn}\r\n${message.body}`);
      const answer = this.answerRequest(message.body);
      if (answer) {
        const callId = /call-id:\s*(.*)\r\n/i.exec(message.body)?.[1] ?? 'x';
        const cseq = /cseq:\s*(.*)\r\n/i.exec(message.body)?.[1] ?? '1 OPTIONS';
        const sip = `SIP/2.0 ${answer.status} ${answer.reason}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq}\r\nFrom: <sip:x@127.0.0.1>;tag=a\r\nTo: <sip:y@127.0.0.1>;tag=b\r\nContent-Length: 0\r\n\r\n`;
        this.send(socket, `sip|network|${Buffer.byteLength(sip)}|udp|127.0.0.1|5060|${t}|${txn}|\r\n${sip}`);
      }
    }
  }

  private sendAll(payload: string): void {
    for (const s of this.sockets) this.send(s, payload);
  }

  private send(socket: net.Socket, payload: string): void {
    const s = `${randomUUID()}|${payload}`;
    socket.write(`${Buffer.byteLength(s)}#${s}`);
  }
}
