import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createHttpServer } from '../../src/http/http-server.js';

describe('the HTTP server of an express app', () => {
  let server: http.Server;
  let base: string;
  const app = express();
  app.use(express.json());
  app.post('/echo/:id', (req, res) => {
    res
      .status(201)
      .set('X-Seen', req.get('x-probe') ?? '')
      .json({ id: req.params.id, body: req.body as unknown, ip: req.ip, locals: typeof res.locals });
  });
  const born: Array<{ req: boolean; res: boolean }> = [];

  before(async () => {
    server = createHttpServer(app);
    // Runs before express's own listener: what the request and response are as Node built them.
    server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      born.push({ req: Object.getPrototypeOf(req) === app.request, res: Object.getPrototypeOf(res) === app.response });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("builds requests and responses with the app's prototypes, so express never changes one's prototype", async () => {
    const r = await fetch(`${base}/echo/7`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-probe': 'p' }, body: '{"a":1}' });
    expect(r.status).to.equal(201);
    expect(r.headers.get('x-seen')).to.equal('p');
    expect(await r.json()).to.deep.equal({ id: '7', body: { a: 1 }, ip: '127.0.0.1', locals: 'object' });
    expect(born).to.deep.equal([{ req: true, res: true }]);
  });

  it("still behaves as Node's objects do: instances of IncomingMessage and ServerResponse, streaming bodies, 404s", async () => {
    let instances: boolean[] = [];
    const check = (req: http.IncomingMessage, res: http.ServerResponse) => {
      instances = [req instanceof http.IncomingMessage, res instanceof http.ServerResponse];
    };
    server.prependListener('request', check);
    const missing = await fetch(`${base}/nothing`);
    server.off('request', check);
    expect(missing.status).to.equal(404);
    expect(instances).to.deep.equal([true, true]);
    const big = 'x'.repeat(90_000);
    const r = await fetch(`${base}/echo/8`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ big }) });
    expect(((await r.json()) as { body: { big: string } }).body.big).to.have.length(90_000);
  });
});
