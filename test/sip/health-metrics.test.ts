import { expect } from 'chai';
import type { RunningServer } from '../../src/main.js';
import { serveForTest } from '../helpers/serve-for-test.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { FakeDrachtioServer } from './fake-drachtio-server.js';
import { optionsMessage, registerMessage, UdpClient } from './helpers.js';

describe('GET /healthz and GET /metrics with the SIP edge mounted (switchboard serve)', function () {
  this.timeout(20_000);
  let app: TestApp;
  let server: RunningServer | undefined;

  before(async () => {
    // Gives a fresh, migrated database; serve() below runs on the same one.
    app = await startTestApp();
  });
  after(async () => app.stop());
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  const start = (sip: Record<string, unknown>) => serveForTest(app, { sip });
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${server!.httpPort}${path}`);
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  it('built-in edge: /healthz lists the bound SIP listeners; /metrics has registrar, HTTP and process metrics', async () => {
    server = await start({ edge: 'builtin' });
    const health = await get('/healthz');
    expect(health.status).to.equal(200);
    const body = JSON.parse(health.text);
    expect(body.status).to.equal('ok');
    expect(body.sip).to.include({ healthy: true, edge: 'builtin', status: 'listening' });
    expect(body.sip.listeners.map((l: { transport: string }) => l.transport)).to.deep.equal(['udp', 'tcp']);

    // One REGISTER (challenged) and one OPTIONS over UDP, then scrape.
    const udpPort = body.sip.listeners[0].port as number;
    const client = await UdpClient.open();
    try {
      client.send(registerMessage(), udpPort);
      expect(await client.next(2000)).to.match(/^SIP\/2\.0 401/);
      client.send(optionsMessage(), udpPort);
      expect(await client.next(2000)).to.match(/^SIP\/2\.0 200/);
    } finally {
      client.close();
    }
    const m = await get('/metrics');
    if (process.env.SHOW_METRICS) console.log(m.text);
    expect(m.status).to.equal(200);
    expect(m.type).to.match(/^text\/plain/);
    expect(m.text).to.match(/^switchboard_sip_register_total\{outcome="not_authorized"\} 1$/m);
    expect(m.text).to.match(/^switchboard_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1$/m);
    expect(m.text).to.match(/^switchboard_process_resident_memory_bytes \d+/m);
  });

  it('drachtio edge: /healthz is 503 while drachtio-server is unreachable and 200 once connected', async () => {
    const drachtio = new FakeDrachtioServer();
    const port = await drachtio.listen();
    await drachtio.stop();
    server = await start({ edge: 'drachtio', drachtio: { host: '127.0.0.1', port, secret: 'cymru', reconnectMinMs: 50, reconnectMaxMs: 100 } });
    const down = await get('/healthz');
    expect(down.status).to.equal(503);
    const downBody = JSON.parse(down.text);
    expect(downBody.status).to.equal('unavailable');
    expect(downBody.sip).to.include({ edge: 'drachtio', healthy: false });
    expect(downBody.sip.status).to.be.oneOf(['connecting', 'disconnected']);
    expect(downBody.database.status).to.equal('ok');
  });

  it('drachtio edge: /healthz is 200 with the server endpoints once connected', async () => {
    const drachtio = new FakeDrachtioServer();
    const port = await drachtio.listen();
    try {
      server = await start({ edge: 'drachtio', drachtio: { host: '127.0.0.1', port, secret: 'cymru', reconnectMinMs: 50, reconnectMaxMs: 100 } });
      let health = await get('/healthz');
      for (let i = 0; i < 100 && health.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 20));
        health = await get('/healthz');
      }
      expect(health.status).to.equal(200);
      expect(JSON.parse(health.text).sip).to.include({ edge: 'drachtio', status: 'connected', healthy: true, serverEndpoints: drachtio.hostport });
    } finally {
      await server?.stop();
      server = undefined;
      await drachtio.stop();
    }
  });
});
