import http from 'node:http';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import pino from 'pino';
import { createApp } from '../../src/app.js';
import type { Services } from '../../src/services.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

describe('access log', () => {
  let app: TestApp;
  let server: http.Server;
  let lines: Array<Record<string, unknown>>;
  let healthy = false;

  before(async () => {
    app = await startTestApp();
    lines = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const services = { ...app.services, logger } as unknown as Services;
    server = http.createServer(createApp(services, { health: [{ name: 'sip', check: () => ({ healthy, details: {} }) }], metrics: [] }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await app.stop();
  });

  const base = () => `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const get = async (path: string) => (await fetch(`${base()}${path}`)).status;
  const accessLines = (url: string) => lines.filter((l) => (l.req as { url?: string } | undefined)?.url === url);

  it('logs a 503 health answer at info, without an error object or stack; a 200 at info too', async () => {
    healthy = false;
    expect(await get('/healthz')).to.equal(503);
    healthy = true;
    expect(await get('/healthz')).to.equal(200);
    await new Promise((r) => setTimeout(r, 50));
    const [down, up] = accessLines('/healthz');
    expect(down).to.include({ level: 30 });
    expect(down).to.not.have.property('err');
    expect(JSON.stringify(down)).to.not.match(/onResFinished|failed with status code/);
    expect((down!.res as { statusCode: number }).statusCode).to.equal(503);
    expect(up).to.include({ level: 30 });
  });

  it('writes one line per request with the request id it echoes, the path without its query, the status; never the credential', async () => {
    const key = `sbwk_${'k'.repeat(43)}`;
    const asked = await fetch(`${base()}/v1/users?search=private-query`, { headers: { 'x-api-key': key, 'x-request-id': 'probe-1' } });
    expect(asked.status).to.equal(401);
    expect(asked.headers.get('x-request-id')).to.equal('probe-1');
    const minted = await fetch(`${base()}/v1/no-such-endpoint`);
    expect(minted.status).to.equal(404);
    const id = minted.headers.get('x-request-id');
    expect(id).to.match(/^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 50));
    const [refused] = accessLines('/v1/users');
    expect(refused).to.include({ level: 40, msg: 'request completed' });
    expect(refused!.req).to.deep.equal({ id: 'probe-1', method: 'GET', url: '/v1/users' });
    expect(refused!.res).to.deep.equal({ statusCode: 401 });
    expect(refused!.responseTime).to.be.a('number');
    expect(JSON.stringify(lines)).to.not.include(key).and.not.include('private-query');
    const [missing] = accessLines('/v1/no-such-endpoint');
    expect((missing!.req as { id: string }).id).to.equal(id);
    expect(lines.filter((l) => (l.req as { id?: string } | undefined)?.id === id)).to.have.length(1);
  });
});
