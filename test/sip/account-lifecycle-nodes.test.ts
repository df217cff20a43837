import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './helpers.js';
import { SipPhone } from './sip-phone.js';
import { createSipUser } from './registrar-helpers.js';
import { createAccount } from '../helpers/factories.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { TEST_DIALECT } from '../helpers/test-database.js';

interface Node {
  child: ChildProcess;
  http: string;
  udp: number;
}

/**
 * Disable and workspace deletion through one node's API; the phone talks to
 * the other node, whose credential cache (30 s) holds the user's row from its
 * earlier REGISTERs. The answer must change on the very next REGISTER.
 */
describe(`Disabling a user and deleting a workspace refuse phones at once on every node (${TEST_DIALECT})`, () => {
  let app: TestApp;
  const nodes: Node[] = [];

  before(async function () {
    this.timeout(90_000);
    app = await startTestApp();
    for (let i = 0; i < 2; i++) nodes.push(await startNode(app, i));
  });
  after(async () => {
    for (const n of nodes) {
      if (n.child.exitCode === null) {
        const exited = new Promise((r) => n.child.once('exit', r));
        n.child.kill('SIGTERM');
        await exited;
      }
    }
    await app.stop();
  });

  const api = async (node: Node, method: string, p: string, token: string, body?: unknown) => {
    const res = await fetch(node.http + p, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : null,
    });
    const parsed: any = await res.json().catch(() => null);
    return { status: res.status, body: parsed };
  };
  const status = (response: string) => Number(response.slice(8, 11));

  it('a disabled user gets 403 at the other node on the next REGISTER, bindings gone; re-enabled, it registers there at once', async () => {
    const u = await createSipUser(app);
    const phone = await SipPhone.open('udp', nodes[1]!.udp);
    try {
      const reg = () => phone.register({ user: u.username, domain: u.domain, password: u.password, expires: 600 });
      expect(status(await reg())).to.equal(200);
      expect(status(await reg())).to.equal(200);
      expect(await app.services.db.models.Registration.count({ where: { user_id: u.id } })).to.equal(1);

      const off = await api(nodes[0]!, 'PATCH', `/v1/users/${u.id}`, u.account.ownerToken, { status: 'disabled' });
      expect(off.status, JSON.stringify(off.body)).to.equal(200);
      expect(await app.services.db.models.Registration.count({ where: { user_id: u.id } })).to.equal(0);
      const refused = await reg();
      expect(refused.split('\r\n')[0]).to.equal('SIP/2.0 403 Forbidden');
      expect(await app.services.db.models.Registration.count({ where: { user_id: u.id } })).to.equal(0);

      const on = await api(nodes[0]!, 'PATCH', `/v1/users/${u.id}`, u.account.ownerToken, { status: 'active' });
      expect(on.status).to.equal(200);
      expect(status(await reg())).to.equal(200);
      expect(await app.services.db.models.Registration.count({ where: { user_id: u.id } })).to.equal(1);
    } finally {
      await phone.close();
    }
  });

  it("a deleted workspace's phone is refused at the other node on the next REGISTER and no binding is left", async () => {
    const acct = await createAccount(app);
    const u = await createSipUser(app, {}, acct);
    const keep = await createSipUser(app);
    const phone = await SipPhone.open('udp', nodes[1]!.udp);
    const other = await SipPhone.open('udp', nodes[1]!.udp);
    try {
      const reg = () => phone.register({ user: u.username, domain: u.domain, password: u.password, expires: 600 });
      expect(status(await reg())).to.equal(200);
      expect(status(await reg())).to.equal(200);
      expect(status(await other.register({ user: keep.username, domain: keep.domain, password: keep.password, expires: 600 }))).to.equal(200);

      const name = (await api(nodes[0]!, 'GET', '/v1/account', acct.ownerToken)).body.name as string;
      const del = await api(nodes[0]!, 'DELETE', '/v1/account', acct.ownerToken, { confirm: name });
      expect(del.status, JSON.stringify(del.body)).to.equal(200);
      expect(del.body.counts).to.include({ registrations: 1 });

      const refused = await reg();
      expect(status(refused)).to.be.oneOf([401, 403]);
      expect(await app.services.db.models.Registration.count({ where: { account_id: acct.accountId } })).to.equal(0);
      // Another workspace's phone on the same node carries on.
      expect(status(await other.register({ user: keep.username, domain: keep.domain, password: keep.password, expires: 600 }))).to.equal(200);
    } finally {
      await phone.close();
      await other.close();
    }
  });
});

function startNode(app: TestApp, i: number): Promise<Node> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/switchboard.js'), 'serve'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: app.config.database.url,
      MASTER_KEY: app.config.secrets.masterKey,
      PORT: '0',
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SIP_EDGE: 'builtin',
      SIP_HOST: '127.0.0.1',
      SIP_PORT: '0',
      SIP_WS_PORT: '0',
      SIP_NODE_ID: `lifecycle-${i}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    let http: string | undefined;
    let udp: number | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${i} did not start: ${err.slice(-2000)}`));
    }, 60_000);
    const done = () => {
      if (http === undefined || udp === undefined) return;
      clearTimeout(timer);
      resolve({ child, http, udp });
    };
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(line) as { msg?: string; port?: number; listeners?: Array<{ transport: string; port: number }> };
          if (j.msg === 'switchboard HTTP API listening' && j.port) http = `http://127.0.0.1:${j.port}`;
          if (j.msg === 'SIP registrar listening' && j.listeners) udp = j.listeners.find((l) => l.transport === 'udp')!.port;
          done();
        } catch {
          /* not a log line */
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${i} exited with ${code}: ${err.slice(-2000)}`));
    });
  });
}
