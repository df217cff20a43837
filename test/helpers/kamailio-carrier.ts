import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MYSQL_URL } from './test-database.js';

const SCHEMA_DIR = '/usr/share/kamailio/mysql';

/**
 * Kamailio (Debian's package) on loopback acting as a carrier's registrar,
 * over a MariaDB database of its own that this harness creates from the
 * schema files Debian ships. Started and stopped by its PID.
 */
export class KamailioCarrier {
  private child: ChildProcess | undefined;
  private log = '';

  /** TLS listener (create with `tls: true`): its port and the self-signed certificate a client should trust. */
  tls: { port: number; certFile: string; keyFile: string } | undefined;

  private constructor(
    readonly port: number,
    readonly database: string,
    private readonly dir: string,
  ) {}

  /** Also the TLS module (Debian's kamailio-tls-modules), for `create(…, { tls: true })`. */
  static tlsAvailable(): boolean {
    return KamailioCarrier.available() && fs.existsSync('/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so');
  }

  static available(): boolean {
    return (
      fs.existsSync('/usr/sbin/kamailio') &&
      fs.existsSync('/usr/lib/x86_64-linux-gnu/kamailio/modules/db_mysql.so') &&
      fs.existsSync(`${SCHEMA_DIR}/usrloc-create.sql`)
    );
  }

  static async create(subscribers: Array<{ username: string; password: string }>, opts: { tls?: boolean } = {}): Promise<KamailioCarrier> {
    const database = `sbkam_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
    const conn = await connect();
    try {
      await conn.query(`CREATE DATABASE \`${database}\``);
      await conn.query(`USE \`${database}\``);
      for (const f of ['standard', 'auth_db', 'usrloc']) await conn.query(fs.readFileSync(`${SCHEMA_DIR}/${f}-create.sql`, 'utf8'));
      for (const s of subscribers)
        await conn.query('INSERT INTO subscriber (username, domain, password) VALUES (?, ?, ?)', [s.username, '127.0.0.1', s.password]);
    } finally {
      await conn.end();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbkam-'));
    const k = new KamailioCarrier(await freePort(), database, dir);
    if (opts.tls) {
      // Made at test time: a certificate for the address the trunk dials (subjectAltName IP, checked by the client).
      const key = path.join(dir, 'key.pem');
      const certFile = path.join(dir, 'cert.pem');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          key,
          '-out',
          certFile,
          '-days',
          '2',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      fs.writeFileSync(
        path.join(dir, 'tls.cfg'),
        [
          '[server:default]',
          'method = TLSv1.2+',
          'verify_certificate = no',
          'require_certificate = no',
          `private_key = ${key}`,
          `certificate = ${certFile}`,
          '',
        ].join('\n'),
      );
      k.tls = { port: await freeTcpPort(), certFile, keyFile: key };
    }
    await k.start();
    return k;
  }

  get logText(): string {
    return this.log;
  }

  async start(): Promise<void> {
    const u = new URL(MYSQL_URL);
    const dbUrl = `mysql://${u.username || 'root'}${u.password ? `:${u.password}` : ''}@${u.hostname}:${u.port || 3306}/${this.database}`;
    const cfg = fs
      .readFileSync(path.resolve('test/sip/fixtures/kamailio-carrier.cfg'), 'utf8')
      .replaceAll('@PORT@', String(this.port))
      .replaceAll('@DBURL@', dbUrl)
      .replaceAll('@CTL@', path.join(this.dir, 'ctl.sock'))
      .replaceAll('@TLSPORT@', String(this.tls?.port ?? 0))
      .replaceAll('@TLSCFG@', path.join(this.dir, 'tls.cfg'));
    const file = path.join(this.dir, 'kamailio.cfg');
    fs.writeFileSync(file, cfg);
    this.log = '';
    // -DD: stays in the foreground (its children still fork), so this PID is the main process.
    const args = ['-DD', '-E', '-f', file, '-m', '32', '-M', '4', '-Y', this.dir, '-P', path.join(this.dir, 'kamailio.pid')];
    if (this.tls) args.push('-A', 'WITH_TLS');
    const child = spawn('/usr/sbin/kamailio', args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-20_000)));
    this.child = child;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`kamailio exited: ${this.log}`);
      if ((await answersOptions(this.port)) && (!this.tls || (await tcpAccepts(this.tls.port)))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`kamailio did not start: ${this.log}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** The bindings Kamailio holds (usrloc writes through to this table). */
  async locations(username?: string): Promise<Array<{ username: string; contact: string; expires: Date }>> {
    const conn = await connect(this.database);
    try {
      const [rows] = await conn.query(`SELECT username, contact, expires FROM location${username ? ' WHERE username = ?' : ''}`, username ? [username] : []);
      return rows as Array<{ username: string; contact: string; expires: Date }>;
    } finally {
      await conn.end();
    }
  }

  /** A carrier that lost its bindings (restart without persistence): empties the table while stopped. */
  async forgetBindings(): Promise<void> {
    const conn = await connect(this.database);
    try {
      await conn.query('DELETE FROM location');
    } finally {
      await conn.end();
    }
  }

  async destroy(): Promise<void> {
    await this.stop();
    const conn = await connect();
    try {
      await conn.query(`DROP DATABASE IF EXISTS \`${this.database}\``);
    } finally {
      await conn.end();
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function connect(database?: string) {
  const { createConnection } = await import('mysql2/promise');
  const u = new URL(MYSQL_URL);
  return createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    multipleStatements: true,
    ...(database ? { database } : {}),
  });
}

async function freePort(): Promise<number> {
  // A port free for UDP; Kamailio binds TCP on the same number (a clash fails start loudly).
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

async function freeTcpPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function answersOptions(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const local = s.address().port;
    const msg = [
      `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${crypto.randomBytes(6).toString('hex')}`,
      'Max-Forwards: 70',
      `From: <sip:probe@127.0.0.1>;tag=${crypto.randomBytes(4).toString('hex')}`,
      `To: <sip:127.0.0.1:${port}>`,
      `Call-ID: ${crypto.randomBytes(8).toString('hex')}`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    return await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 300);
      s.once('message', () => {
        clearTimeout(t);
        resolve(true);
      });
      s.send(msg, port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}
