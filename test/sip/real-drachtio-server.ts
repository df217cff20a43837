import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { repoRoot } from './helpers.js';

/**
 * The real drachtio-server the project ships for tests (../shared/drachtio,
 * set up by its setup.sh; `.ci/run` runs it). DRACHTIO_SERVER_BIN overrides
 * the path. Never skipped: a missing binary fails the tests that need it.
 */
export const drachtioServerBin = process.env.DRACHTIO_SERVER_BIN ?? path.resolve(repoRoot, '..', 'shared', 'drachtio', 'drachtio-server');

export interface DrachtioServerPorts {
  admin: number;
  /** UDP and TCP on the same port number. */
  sip: number;
  ws: number;
  wss?: number;
}

/** A port free for TCP (and for UDP too when `udp`), on 127.0.0.1. */
export async function freePort(udp = false): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const server = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
    let ok = true;
    if (udp) {
      const sock = dgram.createSocket('udp4');
      ok = await new Promise<boolean>((resolve) => {
        sock.once('error', () => resolve(false));
        sock.bind(port, '127.0.0.1', () => resolve(true));
      });
      sock.close();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (ok) return port;
  }
  throw new Error('no free port');
}

/** A self-signed certificate for the WSS listener (openssl, as the other TLS tests use). */
export function selfSignedCertificate(dir: string): { key: string; cert: string } {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'], {
    stdio: 'ignore',
  });
  return { key, cert };
}

/** The minimal config file drachtio-server needs for its admin socket (the rest are flags). */
export function drachtioConfigXml(adminPort: number, secret: string): string {
  return [
    '<drachtio>',
    `  <admin port="${adminPort}" secret="${secret}">127.0.0.1</admin>`,
    '  <logging><console/><loglevel>notice</loglevel><sofia-loglevel>1</sofia-loglevel></logging>',
    '</drachtio>',
    '',
  ].join('\n');
}

async function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Resolves once every port accepts a TCP connection, or rejects with drachtio-server's output. */
export async function waitForListeners(ports: number[], child: ChildProcess, output: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`drachtio-server exited (${child.exitCode ?? child.signalCode}):\n${output()}`);
    const up = await Promise.all(ports.map(tcpAccepts));
    if (up.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`drachtio-server listeners did not come up:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * One drachtio-server process on free loopback ports: UDP+TCP, WS and
 * optionally WSS, admin on 127.0.0.1. Stopped by its PID (SIGTERM, then
 * SIGKILL); `kill()` and `start()` again keep the same ports, as a restart does.
 */
export class RealDrachtioServer {
  readonly secret = 'cymru';
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'drachtio-'));
  ports!: DrachtioServerPorts;
  private child: ChildProcess | undefined;
  private out = '';

  static async start(opts: { wss?: boolean } = {}): Promise<RealDrachtioServer> {
    if (!existsSync(drachtioServerBin)) throw new Error(`drachtio-server not found at ${drachtioServerBin} (run ../shared/drachtio/setup.sh)`);
    const server = new RealDrachtioServer();
    // A port found free can be taken (an outbound connection's ephemeral port) before drachtio-server binds it, and then
    // it exits at start-up: new ports, up to three times.
    for (let attempt = 1; ; attempt++) {
      server.ports = { admin: await freePort(), sip: await freePort(true), ws: await freePort(), ...(opts.wss ? { wss: await freePort() } : {}) };
      writeFileSync(path.join(server.dir, 'drachtio.conf.xml'), drachtioConfigXml(server.ports.admin, server.secret));
      try {
        await server.start();
        return server;
      } catch (err) {
        if (attempt >= 3 || !(err instanceof Error) || !err.message.startsWith('drachtio-server exited')) throw err;
      }
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  output(): string {
    return this.out;
  }

  async start(): Promise<void> {
    const p = this.ports;
    const args = [
      '-f',
      path.join(this.dir, 'drachtio.conf.xml'),
      '--contact',
      `sip:127.0.0.1:${p.sip};transport=udp,tcp`,
      '--contact',
      `sip:127.0.0.1:${p.ws};transport=ws`,
    ];
    if (p.wss) {
      const { key, cert } = selfSignedCertificate(this.dir);
      args.push('--contact', `sips:127.0.0.1:${p.wss};transport=wss`, '--key-file', key, '--cert-file', cert);
    }
    args.push('--loglevel', 'notice', '--sofia-loglevel', '1');
    const child = spawn(drachtioServerBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.out = '';
    const keep = (b: Buffer): void => {
      this.out = (this.out + b.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    await waitForListeners([p.admin, p.sip, p.ws, ...(p.wss ? [p.wss] : [])], child, () => this.out);
  }

  /** Stop this process by its PID; SIGKILL when it has not exited after 3 s. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, signal);
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    }, 3000);
    await exited;
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
