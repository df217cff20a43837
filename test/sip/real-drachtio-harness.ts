import { WebSocket } from 'ws';
import type { SipRequestHandler } from '../../sip/message/types.js';
import { DrachtioSipEdge, type DrachtioSipEdgeOptions } from '../../sip/edges/drachtio/drachtio-sip-edge.js';
import type { EdgeHarness } from './edge-contract.js';
import { TcpClient, UdpClient } from './helpers.js';
import { RealDrachtioServer } from './real-drachtio-server.js';

export type ClientTransport = 'udp' | 'tcp' | 'ws';

/** A SIP client on one real socket to drachtio-server. */
export interface WireClient {
  transport: ClientTransport;
  localPort: number;
  send(raw: string): void;
  /** Next final response (1xx skipped), or undefined after timeoutMs. */
  next(timeoutMs: number): Promise<string | undefined>;
  close(): void;
}

export async function openClient(transport: ClientTransport, server: RealDrachtioServer): Promise<WireClient> {
  const skipProvisional = async (read: (ms: number) => Promise<string | undefined>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await read(Math.max(1, deadline - Date.now()));
      if (m === undefined || !/^SIP\/2\.0 1\d\d /.test(m)) return m;
    }
  };
  if (transport === 'udp') {
    const c = await UdpClient.open();
    return {
      transport,
      localPort: c.port,
      send: (raw) => c.send(raw, server.ports.sip),
      next: (ms) => skipProvisional((t) => c.next(t), ms),
      close: () => c.close(),
    };
  }
  if (transport === 'tcp') {
    const c = await TcpClient.connect(server.ports.sip);
    return {
      transport,
      localPort: c.socket.localPort!,
      send: (raw) => c.send(raw),
      next: (ms) => skipProvisional((t) => c.next(t), ms),
      close: () => c.close(),
    };
  }
  const ws = new WebSocket(`ws://127.0.0.1:${server.ports.ws}`, 'sip');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const queue: string[] = [];
  let waiter: (() => void) | undefined;
  ws.on('message', (m: Buffer) => {
    queue.push(m.toString('utf8'));
    waiter?.();
  });
  const read = (ms: number) =>
    new Promise<string | undefined>((resolve) => {
      if (queue.length) return resolve(queue.shift());
      const timer = setTimeout(() => {
        waiter = undefined;
        resolve(undefined);
      }, ms);
      waiter = () => {
        clearTimeout(timer);
        waiter = undefined;
        resolve(queue.shift());
      };
    });
  return {
    transport,
    localPort: (ws as unknown as { _socket: { localPort: number } })._socket.localPort,
    send: (raw) => ws.send(raw),
    next: (ms) => skipProvisional(read, ms),
    close: () => ws.terminate(),
  };
}

/**
 * The request as this client would send it: the top Via names the real
 * transport and sent-by (RFC 3261 §18.1.1; RFC 7118 §5 for WS), with rport
 * so drachtio-server answers a UDP request at its source (RFC 3581).
 */
export function viaFor(raw: string, client: Pick<WireClient, 'transport' | 'localPort'>): string {
  const sentBy = client.transport === 'ws' ? 'df7jal23ls0d.invalid' : `127.0.0.1:${client.localPort}`;
  return raw.replace(/^(?:Via|v):[ \t]*SIP\/2\.0\/[A-Za-z]+[ \t]+[^;\r\n]+((?:;[^\r\n]*)?)$/im, (_m, params: string) => {
    const rest = /;rport(?=;|$)/i.test(params) ? params : `${params};rport`;
    return `Via: SIP/2.0/${client.transport.toUpperCase()} ${sentBy}${rest}`;
  });
}

/** Connects a DrachtioSipEdge with `handler` to the server; resolves once drachtio-server routes requests to it. */
export async function connectEdge(
  server: RealDrachtioServer,
  handler: SipRequestHandler,
  overrides: Partial<DrachtioSipEdgeOptions> = {},
): Promise<DrachtioSipEdge> {
  const probe = `edge-probe-${process.pid}-`;
  const edge = new DrachtioSipEdge({
    // Answers our own readiness probes, so the handler under test never sees them.
    handler: async (req, ctx) => (req.callId.startsWith(probe) ? { status: 200, reason: 'OK', headers: [] } : handler(req, ctx)),
    mode: 'inbound',
    host: '127.0.0.1',
    port: server.ports.admin,
    secret: server.secret,
    reconnectMinMs: 50,
    reconnectMaxMs: 500,
    ...overrides,
  });
  await edge.start();
  // 'connected' comes before drachtio-server has taken our routes: probe until an OPTIONS reaches us.
  const client = await openClient('udp', server);
  try {
    const deadline = Date.now() + 10_000;
    for (let i = 0; ; i++) {
      if (Date.now() > deadline) throw new Error(`drachtio edge not routed: ${JSON.stringify(edge.state())}\n${server.output()}`);
      if (edge.state().status === 'connected') {
        client.send(probeOptions(`${probe}${i}`, client.localPort));
        const res = await client.next(300);
        if (res && /^SIP\/2\.0 200 /.test(res)) return edge;
      } else await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    client.close();
  }
}

function probeOptions(callId: string, port: number): string {
  return [
    'OPTIONS sip:probe@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${callId};rport`,
    'Max-Forwards: 70',
    'From: <sip:probe@127.0.0.1>;tag=p',
    'To: <sip:probe@127.0.0.1>',
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/**
 * An EdgeHarness: a real client socket → drachtio-server → drachtio-srf →
 * our edge → the handler. Each harness has its own drachtio-server: it
 * deals requests out among every connected application, and the contract
 * holds two harnesses at once.
 */
export function realDrachtioHarness(transport: ClientTransport) {
  return async (handler: SipRequestHandler): Promise<EdgeHarness> => {
    const s = await RealDrachtioServer.start();
    const edge = await connectEdge(s, handler);
    const client = await openClient(transport, s);
    return {
      expected: { transport, source: { address: '127.0.0.1', port: client.localPort } },
      async exchange(raw) {
        client.send(viaFor(raw, client));
        return client.next(1500);
      },
      async stop() {
        client.close();
        await edge.stop();
        await s.stop();
      },
    };
  };
}
