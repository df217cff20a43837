import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { repoRoot, statusOf, TcpClient, UdpClient } from './helpers.js';
import { authorize, createSipUser, parseChallenge, registerText, startRegistrar, type RegistrarHarness, type SipTestUser } from './registrar-helpers.js';
import { TEST_DIALECT } from '../helpers/test-database.js';

const DEVICES = 50;
const MAX = 4;

interface Target {
  udp: number;
  tcp: number;
}

/** One device: its own socket, its own Contact; returns the final status of its authenticated REGISTER. */
class Device {
  private constructor(
    readonly n: number,
    private readonly send: (text: string) => void,
    private readonly next: () => Promise<string | undefined>,
    readonly close: () => void,
    private readonly transport: 'UDP' | 'TCP',
    private readonly localPort: number,
  ) {}

  static async open(n: number, transport: 'UDP' | 'TCP', port: number): Promise<Device> {
    if (transport === 'UDP') {
      const c = await UdpClient.open();
      return new Device(
        n,
        (t) => c.send(t, port),
        () => c.next(5000),
        () => c.close(),
        transport,
        c.port,
      );
    }
    const c = await TcpClient.connect(port);
    return new Device(
      n,
      (t) => c.send(t),
      () => c.next(5000),
      () => c.socket.destroy(),
      transport,
      c.socket.localPort!,
    );
  }

  private text(u: SipTestUser, cseq: number, callId: string, authorization?: string): string {
    return registerText({
      user: u.username,
      domain: u.domain,
      callId,
      cseq,
      via: `Via: SIP/2.0/${this.transport} 127.0.0.1:${this.localPort};branch=z9hG4bK-${crypto.randomBytes(6).toString('hex')};rport`,
      contacts: [`<sip:device${this.n}@127.0.0.1:${this.localPort};transport=${this.transport.toLowerCase()}>`],
      expires: 600,
      userAgent: `Device ${this.n}`,
      ...(authorization ? { authorization } : {}),
    });
  }

  /** Gets a challenge; returns the authenticated REGISTER, ready to fire. */
  async prepare(u: SipTestUser): Promise<string> {
    const callId = `dev${this.n}-${crypto.randomBytes(4).toString('hex')}`;
    this.send(this.text(u, 1, callId));
    const challenge = await this.next();
    if (!challenge || statusOf(challenge) !== 401) throw new Error(`device ${this.n}: no challenge`);
    const www = /^WWW-Authenticate: (.*)$/m.exec(challenge)![1]!.trim();
    return this.text(u, 2, callId, authorize(parseChallenge(www), u.username, u.password, `sip:${u.domain}`));
  }

  async fire(text: string): Promise<number> {
    this.send(text);
    const r = await this.next();
    return r ? statusOf(r) : 0;
  }
}

async function race(u: SipTestUser, targets: Target[]): Promise<{ statuses: number[]; close(): void }> {
  const devices = await Promise.all(
    Array.from({ length: DEVICES }, (_, i) => {
      const t = targets[i % targets.length]!;
      return i % 5 === 4 ? Device.open(i, 'TCP', t.tcp) : Device.open(i, 'UDP', t.udp);
    }),
  );
  // TCP devices stay connected until the caller has counted: closing would free their slots.
  const close = () => devices.forEach((d) => d.close());
  try {
    const prepared = await Promise.all(devices.map((d) => d.prepare(u)));
    // Every device answers its challenge at the same moment.
    return { statuses: await Promise.all(devices.map((d, i) => d.fire(prepared[i]!))), close };
  } catch (err) {
    close();
    throw err;
  }
}

describe('max_bindings under concurrency', function () {
  this.timeout(60_000);

  describe('one process, 50 devices over 50 sockets (UDP and TCP) at once', () => {
    let h: RegistrarHarness;
    before(async () => {
      h = await startRegistrar({ edge: ['udp', 'tcp'], realClock: true });
    });
    after(async () => h.stop());

    it(`leaves exactly max_bindings (${MAX}) bindings`, async () => {
      const u = await createSipUser(h.app, { max_bindings: MAX });
      const { statuses, close } = await race(u, [{ udp: h.edge!.port('udp'), tcp: h.edge!.port('tcp') }]);
      try {
        expect(
          statuses.filter((s) => s === 200),
          statuses.join(','),
        ).to.have.length(MAX);
        expect(statuses.filter((s) => s === 403)).to.have.length(DEVICES - MAX);
        expect(await h.app.services.db.models.Registration.count({ where: { user_id: u.id } })).to.equal(MAX);
      } finally {
        close();
      }
    });
  });

  describe(`two Switchboard processes on one ${TEST_DIALECT === 'mysql' ? 'MariaDB database' : 'SQLite file'}`, () => {
    let h: RegistrarHarness;
    const children: ChildProcess[] = [];
    const targets: Target[] = [];

    before(async () => {
      // The test app owns the database (fresh, migrated); the two servers share it and the master key.
      h = await startRegistrar({});
      for (let i = 0; i < 2; i++) {
        const child = spawn(process.execPath, [path.join(repoRoot, 'bin/switchboard.js'), 'serve'], {
          cwd: repoRoot,
          env: {
            ...process.env,
            NODE_ENV: 'test',
            DATABASE_URL: h.app.config.database.url,
            MASTER_KEY: h.app.config.secrets.masterKey,
            PORT: '0',
            LOG_LEVEL: 'info',
            SIP_EDGE: 'builtin',
            SIP_HOST: '127.0.0.1',
            SIP_PORT: '0',
            SIP_WS_PORT: '0',
            SIP_NODE_ID: `concurrency-${i}`,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.push(child);
        targets.push(await listening(child));
      }
    });
    after(async () => {
      for (const c of children) {
        if (c.exitCode === null) {
          c.kill('SIGTERM');
          await new Promise((r) => c.once('exit', r));
        }
      }
      await h.stop();
    });

    it(`leaves exactly max_bindings (${MAX}) bindings when 50 devices race through both processes`, async () => {
      const u = await createSipUser(h.app, { max_bindings: MAX });
      const { statuses, close } = await race(u, targets);
      try {
        expect(
          statuses.filter((s) => s === 200),
          statuses.join(','),
        ).to.have.length(MAX);
        expect(statuses.filter((s) => s === 403)).to.have.length(DEVICES - MAX);
        expect(await h.app.services.db.models.Registration.count({ where: { user_id: u.id } })).to.equal(MAX);
      } finally {
        close();
      }
    });

    it("accepts the answer to one process's challenge at the other (stateless nonces)", async () => {
      const u = await createSipUser(h.app);
      const a = await UdpClient.open();
      try {
        const callId = `cross-${crypto.randomBytes(4).toString('hex')}`;
        const base = {
          user: u.username,
          domain: u.domain,
          callId,
          contacts: [`<sip:cross@127.0.0.1:${a.port}>`],
          via: `Via: SIP/2.0/UDP 127.0.0.1:${a.port};branch=z9hG4bK-x${crypto.randomBytes(4).toString('hex')};rport`,
        };
        a.send(registerText({ ...base, cseq: 1 }), targets[0]!.udp);
        const ch = await a.next(5000);
        const www = /^WWW-Authenticate: (.*)$/m.exec(ch!)![1]!.trim();
        a.send(
          registerText({ ...base, cseq: 2, via: base.via + '2', authorization: authorize(parseChallenge(www), u.username, u.password, `sip:${u.domain}`) }),
          targets[1]!.udp,
        );
        expect(statusOf((await a.next(5000))!)).to.equal(200);
      } finally {
        a.close();
      }
    });
  });
});

/** Reads the child's JSON log until the SIP listeners are up; returns their ports. */
function listening(child: ChildProcess): Promise<Target> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err.slice(-2000)}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(line) as { msg?: string; listeners?: Array<{ transport: string; port: number }> };
          if (j.msg === 'SIP registrar listening' && j.listeners) {
            clearTimeout(timer);
            resolve({ udp: j.listeners.find((l) => l.transport === 'udp')!.port, tcp: j.listeners.find((l) => l.transport === 'tcp')!.port });
          }
        } catch {
          /* not a log line */
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err.slice(-2000)}`)));
  });
}
