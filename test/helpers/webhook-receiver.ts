import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedHook {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  at: number;
}

export type Responder = (req: ReceivedHook, res: http.ServerResponse) => void;

/** A real HTTP receiver on 127.0.0.1:0; `respond` decides each answer (default 200). */
export async function startWebhookReceiver(): Promise<{
  url: string;
  port: number;
  received: ReceivedHook[];
  respond: Responder;
  setResponder(r: Responder): void;
  stop(): Promise<void>;
}> {
  const received: ReceivedHook[] = [];
  const state = { respond: ((_r, res) => res.writeHead(200).end('ok')) as Responder };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        /* keep null */
      }
      const hook = { headers: req.headers, body, json, at: Date.now() };
      received.push(hook);
      state.respond(hook, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    get respond() {
      return state.respond;
    },
    setResponder(r) {
      state.respond = r;
    },
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
