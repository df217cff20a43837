import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { expect } from 'chai';
import WebSocket from 'ws';
import type { BuiltinSipEdge } from '../../sip/edges/builtin/builtin-sip-edge.js';
import type { SipRequestHandler } from '../../sip/message/types.js';
import { okRegisterHandler, optionsMessage, registerMessage, sleep, startEdge, statusOf, TcpClient, UdpClient } from './helpers.js';

describe('SIP edge transports', function () {
  describe('TCP framing', () => {
    let edge: BuiltinSipEdge;
    const closed: string[] = [];
    before(async () => {
      edge = await startEdge({ events: { connectionClosed: (id) => closed.push(id) } });
    });
    after(async () => {
      await edge.stop();
    });

    it('reassembles a request split across chunks', async () => {
      const client = await TcpClient.connect(edge.port('tcp'));
      const msg = registerMessage();
      for (let i = 0; i < msg.length; i += 7) {
        client.send(msg.slice(i, i + 7));
        await sleep(1);
      }
      expect(statusOf((await client.next())!)).to.equal(200);
      client.close();
    });

    it('answers several requests sent in one chunk', async () => {
      const client = await TcpClient.connect(edge.port('tcp'));
      client.send(registerMessage() + optionsMessage() + registerMessage());
      const statuses = [await client.next(), await client.next(), await client.next()].map((r) => statusOf(r!));
      expect(statuses).to.deep.equal([200, 200, 200]);
      client.close();
    });

    it('answers 400 and closes the connection when Content-Length is missing (RFC 3261 §18.3)', async () => {
      const client = await TcpClient.connect(edge.port('tcp'));
      client.send(registerMessage().replace('Content-Length: 0\r\n', ''));
      expect(statusOf((await client.next())!)).to.equal(400);
      await client.closedPromise;
      expect(client.closed).to.equal(true);
    });

    it('answers a CRLF keep-alive ping with a CRLF pong (RFC 5626 §4.4.1)', async () => {
      const client = await TcpClient.connect(edge.port('tcp'));
      client.send('\r\n\r\n');
      expect(await client.waitFor(() => client.rawBuffer === '\r\n')).to.equal(true);
      client.close();
    });

    it('reports connectionClosed with the id the request carried', async () => {
      let seenId: string | undefined;
      const local = await startEdge({
        handler: async (req, ctx) => {
          seenId = ctx.connectionId;
          return okRegisterHandler(req, ctx);
        },
        events: { connectionClosed: (id) => closed.push(id) },
      });
      try {
        const client = await TcpClient.connect(local.port('tcp'));
        client.send(registerMessage());
        await client.next();
        client.close();
        await sleep(100);
        expect(seenId).to.be.a('string');
        expect(closed).to.include(seenId);
      } finally {
        await local.stop();
      }
    });
  });

  describe('limits', () => {
    it('refuses connections past the per-IP cap', async () => {
      const edge = await startEdge({ limits: { maxConnectionsPerIp: 2 } });
      try {
        const a = await TcpClient.connect(edge.port('tcp'));
        const b = await TcpClient.connect(edge.port('tcp'));
        const c = await TcpClient.connect(edge.port('tcp'));
        await c.closedPromise;
        expect(c.closed).to.equal(true);
        a.send(optionsMessage());
        expect(statusOf((await a.next())!)).to.equal(200);
        a.close();
        b.close();
        expect(edge.stats().connectionsRejected).to.equal(1);
      } finally {
        await edge.stop();
      }
    });

    it('closes an idle connection', async () => {
      const closed: string[] = [];
      const edge = await startEdge({ limits: { idleTimeoutMs: 150 }, events: { connectionClosed: (id) => closed.push(id) } });
      try {
        const client = await TcpClient.connect(edge.port('tcp'));
        await client.closedPromise;
        expect(client.closed).to.equal(true);
        await sleep(20);
        expect(closed).to.have.length(1);
      } finally {
        await edge.stop();
      }
    });

    it('drops a UDP datagram over the size limit and closes a stream whose headers are too large', async () => {
      const edge = await startEdge({ limits: { maxDatagramBytes: 600, maxHeaderBytes: 600 } });
      try {
        const udp = await UdpClient.open();
        udp.send(registerMessage({ extraHeaders: ['X-Pad: ' + 'a'.repeat(700)] }), edge.port('udp'));
        expect(await udp.next(300)).to.equal(undefined);
        udp.close();
        const tcp = await TcpClient.connect(edge.port('tcp'));
        tcp.send(registerMessage({ extraHeaders: ['X-Pad: ' + 'a'.repeat(700)] }));
        await tcp.closedPromise;
        expect(tcp.closed).to.equal(true);
      } finally {
        await edge.stop();
      }
    });

    it('gives banned UDP sources silence and closes banned stream sources', async () => {
      const edge = await startEdge({ isBanned: (address) => address === '127.0.0.1' });
      try {
        const udp = await UdpClient.open();
        udp.send(registerMessage(), edge.port('udp'));
        expect(await udp.next(300)).to.equal(undefined);
        udp.close();
        const tcp = await TcpClient.connect(edge.port('tcp'));
        await tcp.closedPromise;
        expect(tcp.closed).to.equal(true);
      } finally {
        await edge.stop();
      }
    });

    it('drops silently when the handler returns null', async () => {
      const edge = await startEdge({ handler: async () => null });
      try {
        const udp = await UdpClient.open();
        udp.send(registerMessage(), edge.port('udp'));
        expect(await udp.next(300)).to.equal(undefined);
        udp.close();
      } finally {
        await edge.stop();
      }
    });
  });

  describe('UDP', () => {
    it('answers a retransmission from the cache and runs the handler once (RFC 3261 §17.2.2)', async () => {
      let calls = 0;
      const slow: SipRequestHandler = async (req, ctx) => {
        calls += 1;
        await sleep(150);
        return okRegisterHandler(req, ctx);
      };
      const edge = await startEdge({ handler: slow });
      try {
        const client = await UdpClient.open();
        const msg = registerMessage();
        client.send(msg, edge.port('udp'));
        await sleep(20);
        client.send(msg, edge.port('udp')); // while the handler works: absorbed
        const first = await client.next();
        client.send(msg, edge.port('udp')); // after: the cached final response
        const second = await client.next();
        expect(await client.next(200)).to.equal(undefined);
        expect(calls).to.equal(1);
        expect(second).to.equal(first);
        expect(statusOf(first!)).to.equal(200);
        // rport in the request: filled with our source port (RFC 3581 §4)
        expect(first).to.include(`;rport=${client.port};received=127.0.0.1`);
        client.close();
      } finally {
        await edge.stop();
      }
    });

    it('ignores bare CRLF keep-alives', async () => {
      const edge = await startEdge();
      try {
        const client = await UdpClient.open();
        client.send('\r\n\r\n', edge.port('udp'));
        expect(await client.next(200)).to.equal(undefined);
        expect(edge.stats().keepAlives).to.equal(1);
        client.close();
      } finally {
        await edge.stop();
      }
    });

    it('asks the kernel for the configured receive buffer, and warns when net.core.rmem_max grants less', async () => {
      const warnings: string[] = [];
      const logger = { debug() {}, info() {}, error() {}, warn: (_obj: object, msg?: string) => void warnings.push(msg ?? '') };
      const listeners = [{ transport: 'udp' as const, host: '127.0.0.1', port: 0 }];
      const small = await startEdge({ listeners, logger, limits: { udpReceiveBufferBytes: 256 * 1024 } });
      try {
        // Linux reports twice what it granted.
        expect(small.boundAddresses()[0]!.receiveBufferBytes).to.equal(512 * 1024);
        expect(warnings).to.deep.equal([]);
      } finally {
        await small.stop();
      }
      const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
      const large = await startEdge({ listeners, logger, limits: { udpReceiveBufferBytes: 2 * rmemMax } });
      try {
        expect(large.boundAddresses()[0]!.receiveBufferBytes).to.equal(2 * rmemMax);
        expect(warnings).to.have.length(1);
        expect(warnings[0]).to.include('net.core.rmem_max');
      } finally {
        await large.stop();
      }
    });

    it('works over IPv6 ::1 when the host has it', async function () {
      const hasV6 = Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6' && i.internal));
      if (!hasV6) this.skip();
      const edge = await startEdge({ listeners: [{ transport: 'udp', host: '::1', port: 0 }] });
      try {
        const client = await UdpClient.open('udp6');
        client.send(optionsMessage(), edge.port('udp', 6), '::1');
        const response = await client.next();
        expect(statusOf(response!)).to.equal(200);
        expect(response).to.include('received=::1');
        client.close();
      } finally {
        await edge.stop();
      }
    });
  });

  describe('TLS, WS and WSS', () => {
    let dir: string;
    let edge: BuiltinSipEdge;
    before(async function () {
      dir = mkdtempSync(path.join(os.tmpdir(), 'sip-edge-tls-'));
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-keyout',
          path.join(dir, 'key.pem'),
          '-out',
          path.join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      const files = { certPath: path.join(dir, 'cert.pem'), keyPath: path.join(dir, 'key.pem') };
      edge = await startEdge({
        listeners: [
          { transport: 'tls', host: '127.0.0.1', port: 0, tls: files },
          { transport: 'ws', host: '127.0.0.1', port: 0 },
          { transport: 'wss', host: '127.0.0.1', port: 0, tls: files },
          { transport: 'udp', enabled: false },
        ],
      });
    });
    after(async () => {
      await edge.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('exposes only the enabled listeners', () => {
      expect(edge.boundAddresses().map((b) => b.transport)).to.deep.equal(['tls', 'ws', 'wss']);
    });

    it('answers a REGISTER over TLS', async () => {
      const socket = tls.connect({ host: '127.0.0.1', port: edge.port('tls'), rejectUnauthorized: false });
      await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
      const client = TcpClient.wrap(socket);
      client.send(registerMessage());
      expect(statusOf((await client.next())!)).to.equal(200);
      client.close();
    });

    for (const scheme of ['ws', 'wss'] as const) {
      it(`answers a REGISTER over ${scheme.toUpperCase()} with subprotocol sip (RFC 7118)`, async () => {
        const ws = new WebSocket(`${scheme}://127.0.0.1:${edge.port(scheme)}`, 'sip', { rejectUnauthorized: false });
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        });
        expect(ws.protocol).to.equal('sip');
        const response = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
        ws.send(registerMessage().replace('Content-Length: 0\r\n', ''));
        expect(statusOf(await response)).to.equal(200);
        const pong = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
        ws.send('\r\n\r\n');
        expect(await pong).to.equal('\r\n');
        ws.close();
      });
    }

    it('refuses a WebSocket client that does not offer the sip subprotocol', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${edge.port('ws')}`, 'chat');
      const failed = await new Promise<boolean>((resolve) => {
        ws.once('open', () => resolve(false));
        ws.once('error', () => resolve(true));
      });
      expect(failed).to.equal(true);
    });
  });
});
