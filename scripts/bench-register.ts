/**
 * npm run bench:register [-- [--with-kamailio] [--with-node-floor] RATE...]
 *
 * --with-kamailio: Kamailio 5.6 (../shared/bench/kamailio: db_mode=2, 4
 * children, on the same MariaDB) runs the same sipp passes in the same
 * series, rate by rate, alternating with Switchboard; both rows and the
 * ratio are printed; each pass starts on a settled database (settle(),
 * BENCH_SETTLE_SECONDS). Needs kamailio and kamailio-mysql-modules (installed on
 * the development machines, not in CI: this bench is not part of CI) and
 * root (its setup.sh starts Kamailio under /run). BENCH_DB=sqlite runs
 * Switchboard on the embedded SQLite default instead of MariaDB (Kamailio
 * stays on MariaDB). BENCH_DB=galera starts a 3-node MariaDB Galera
 * cluster on loopback (scripts/galera/cluster.sh, own data directories and
 * ports, stopped at the end) and runs BENCH_PROCESSES (2) Switchboard
 * processes, process i on node i, each sent half the users by a sipp of its
 * own (as a SIP load balancer hashing by user would): the multi-primary
 * figure. BENCH_PROCESSES=2 with BENCH_DB=mysql is the same split on the one
 * MariaDB, the row to set beside it. BENCH_FLOWS=N (one process) runs N
 * sipps against each server, each from its own port with its share of the
 * users and of the rate: N phones' flows instead of one. With SIP workers
 * on SO_REUSEPORT sockets the kernel keeps a flow on one worker, so one
 * sipp (one flow) loads one worker; phones are many flows. Kamailio gets
 * the same flows.
 *
 * --with-node-floor: a bare Node UDP responder (scripts/bench/udp-floor-responder.js:
 * a fixed 401, then a 200, nothing checked or stored) takes the same refresh
 * passes. Its CPU per registration is what Node's event loop and sockets
 * alone cost for this traffic, the floor under Switchboard's figure.
 *
 * Switchboard on MariaDB with 10,000 provisioned users under sipp
 * REGISTER-with-digest load (REGISTER/401/REGISTER/200, one Contact per
 * user): first pass registers every user once, later passes refresh. Prints
 * per rate: registrations/s, success %, p50/p99 of the whole registration
 * (sipp RTD, 1 ms resolution at best), and the server process's CPU and RSS. sipp
 * answers the registrar's OPTIONS qualify probes (-aa), as phones do.
 *
 * Environment: MYSQL_URL (default mysql://root@127.0.0.1:3306), BENCH_USERS
 * (10000), BENCH_DURATION seconds per rate (10), BENCH_TRANSPORT (u1),
 * BENCH_WORKERS (SIP worker processes, 0 = in the serve process),
 * BENCH_INITIAL_RATE (1000, the first pass), BENCH_NODE_ARGS (e.g. --cpu-prof),
 * BENCH_PCAP=1 (capture loopback with tcpdump and print the server-side
 * latency of each leg in microseconds: sipp's clock ticks in 4 ms steps here),
 * BENCH_QUALIFY=1 (keep OPTIONS qualify on; off by default, as in Kamailio's
 * bench configuration, which sends no pings), BENCH_SERVER_OUT=file (the
 * server's stdout, e.g. for --trace-gc), BENCH_REUSE_DB=1 (keep the
 * provisioned users between runs — 100,000 take minutes to provision — and
 * start from an empty registrations table), BENCH_DB_NAME (switchboard_bench),
 * BENCH_ALLOC=1 (KB the serve process allocates per registration, sampled
 * through its inspector; without SIP workers).
 * CPU, RSS and PSS (each shared page counted once: RSS counts the node
 * binary in every process) are summed over the server and its workers; the system share
 * of that CPU (socket sends on loopback run the receiver's side too) and
 * MariaDB's CPU are shown beside it.
 */
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import bcrypt from 'bcrypt';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { SecretBox } from '../src/crypto/secret-box.js';
import { sipSecretColumns } from '../src/users/sip-secret-fields.js';
import { AllocationSampler, freeTcpPort } from './bench/allocation-sampler.js';
import { pcapLatency, type WireLatency } from './bench/pcap-latency.js';
import { requireCurrentBuild } from './bench/require-build.js';
import { cpuTicks, pssMb, rssMb, spawnBuiltServer } from './bench/server-process.js';
import { RealDrachtioServer } from '../test/sip/real-drachtio-server.js';
import { dropMysqlDatabase } from '../test/helpers/test-database.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MYSQL = (process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/$/, '');
const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const TRANSPORT = process.env.BENCH_TRANSPORT ?? 'u1';
const INITIAL_RATE = Number(process.env.BENCH_INITIAL_RATE ?? 1000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 0);
const PCAP = process.env.BENCH_PCAP === '1';
/** Bytes allocated per registration, sampled through the server's inspector (the serve process: no SIP workers). */
const ALLOC = process.env.BENCH_ALLOC === '1';
// Kamailio's bench configuration sends no OPTIONS pings: compare like with like unless asked.
const QUALIFY = process.env.BENCH_QUALIFY === '1';
const REUSE_DB = process.env.BENCH_REUSE_DB === '1';
const ARGS = process.argv.slice(2);
const WITH_KAMAILIO = ARGS.includes('--with-kamailio');
const WITH_NODE_FLOOR = ARGS.includes('--with-node-floor');
const RATES = ARGS.map(Number).filter((n) => n > 0);
const BENCH_DB = (process.env.BENCH_DB ?? 'mysql') as 'mysql' | 'sqlite' | 'galera';
if (BENCH_DB !== 'mysql' && BENCH_DB !== 'sqlite' && BENCH_DB !== 'galera') throw new Error('BENCH_DB is mysql, sqlite or galera');
/** Switchboard processes sharing the load (on Galera: process i on node i). */
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? (BENCH_DB === 'galera' ? 2 : 1));
const FLOWS = Number(process.env.BENCH_FLOWS ?? 1);
if (!(FLOWS >= 1) || (FLOWS > 1 && PROCESSES > 1)) throw new Error('BENCH_FLOWS: 1, or more with one process');
if (!(PROCESSES >= 1) || (PROCESSES > 1 && BENCH_DB === 'sqlite')) throw new Error('BENCH_PROCESSES: 1, or more on mysql/galera');
if (PROCESSES > 1 && (EDGES_RAW().includes('drachtio') || process.env.BENCH_PCAP === '1'))
  throw new Error('BENCH_PROCESSES > 1 is for the built-in edge, without BENCH_PCAP');
if (ALLOC && (WORKERS || PROCESSES > 1)) throw new Error('BENCH_ALLOC=1 samples the serve process: run it with BENCH_WORKERS=0 and one process');
requireCurrentBuild();
const GALERA_SCRIPT = path.join(root, 'scripts/galera/cluster.sh');
const KAMAILIO_DIR = path.resolve(root, '../shared/bench/kamailio');
const KAMAILIO_PORT = 5070;
/** `builtin`, `drachtio` (the shared drachtio-server in front), or both in one series: `builtin,drachtio`. */
function EDGES_RAW(): string[] {
  return (process.env.BENCH_EDGE ?? 'builtin').split(',').map((e) => e.trim());
}
const EDGES = EDGES_RAW();
for (const e of EDGES) if (e !== 'builtin' && e !== 'drachtio') throw new Error(`BENCH_EDGE: unknown edge ${e}`);
if (EDGES.includes('drachtio') && WORKERS) throw new Error('BENCH_WORKERS is for the built-in edge (SIP workers are not used with drachtio)');
// BENCH_DB_NAME: a name of its own, so a run does not drop the bench database another run on the same MariaDB is using.
const DB_NAME = process.env.BENCH_DB_NAME ?? 'switchboard_bench';
/** Where the bench database is made: MYSQL_URL, or node 1 of the Galera cluster this run started. */
let mysqlBase = MYSQL;
/** The Galera cluster's node URLs and mariadbd pids (BENCH_DB=galera). */
let galera: { urls: string[]; pids: number[]; env: NodeJS.ProcessEnv; dir: string } | undefined;
const DOMAIN = 'bench.example';

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  s.close();
  return port;
}

async function provision(masterKey: Buffer, work: string): Promise<string> {
  const url = BENCH_DB === 'sqlite' ? `sqlite:${path.join(work, 'bench.sqlite')}` : await freshMysqlDatabase();
  const db = await openDatabase({ url });
  await migrateToLatest(db.sequelize);
  const box = new SecretBox(masterKey);
  const now = new Date();
  const account = await db.models.Account.create({
    name: 'Bench PBX',
    sip_domain: DOMAIN,
    binding_policy: 'reject',
    created_at: now,
    updated_at: now,
  } as never);
  const pin = await bcrypt.hash('123456', 4);
  const lines = ['SEQUENTIAL'];
  for (let start = 1; start <= USERS; start += 1000) {
    const rows = [];
    for (let i = start; i < Math.min(start + 1000, USERS + 1); i++) {
      const username = `u${String(i).padStart(6, '0')}`;
      const password = `Pw-${String(i).padStart(6, '0')}-Bench`;
      rows.push({
        account_id: account.id,
        name: `Bench ${i}`,
        extension: String(100000 + i).slice(-6),
        username,
        email: null,
        password_hash: null,
        role: 'user',
        max_bindings: 10,
        binding_policy: null,
        ...sipSecretColumns(box, username, DOMAIN, password),
        sip_prev_ha1_md5: null,
        sip_prev_ha1_sha256: null,
        sip_prev_valid_until: null,
        oncall_pin_hash: pin,
        external_caller_id_name: null,
        external_caller_id_number: null,
        mobile: null,
        forward_behavior: { mode: 'ring_devices' },
        location_id: null,
        mailbox_id: null,
        notification_email: null,
        voicemail_email: null,
        fax_service_id: null,
        oncall_remind_email: null,
        outbound_sms_number: null,
        sms_auto_response_text: null,
        otp_secret_enc: null,
        created_at: now,
        updated_at: now,
      });
      lines.push(`${username};[authentication username=${username} password=${password}];${DOMAIN}`);
    }
    await db.models.User.bulkCreate(rows as never[], { validate: false });
  }
  await db.close();
  const csv = path.join(work, 'users.csv');
  fs.writeFileSync(csv, lines.join('\n') + '\n');
  splitCsv(work);
  return url;
}

/** users-1.csv … users-N.csv: user k goes to process k mod N, as a load balancer hashing by user would send it. */
function splitCsv(work: string): void {
  if (PROCESSES < 2) return;
  splitUsers(path.join(work, 'users.csv'), PROCESSES, (p) => path.join(work, `users-${p + 1}.csv`));
}

/** A sipp injection file dealt out over `n` files, user k to file k mod n. */
function splitUsers(csv: string, n: number, fileFor: (i: number) => string): void {
  const users = fs.readFileSync(csv, 'utf8').trim().split('\n').slice(1);
  for (let i = 0; i < n; i++) fs.writeFileSync(fileFor(i), ['SEQUENTIAL', ...users.filter((_, k) => k % n === i)].join('\n') + '\n');
}

/** BENCH_FLOWS > 1: the target's parts, one sipp port and share of its users per flow, all to the one server. */
async function withFlows(t: Target): Promise<Target> {
  if (FLOWS < 2) return t;
  const fileFor = (f: number) => t.csv.replace(/\.csv$/, `-flow-${f + 1}.csv`);
  splitUsers(t.csv, FLOWS, fileFor);
  const parts: Part[] = [];
  for (let f = 0; f < FLOWS; f++) parts.push({ sipPort: t.sipPort, sippPort: f === 0 ? t.sippPort : await freeUdpPort(), pid: t.pid, csv: fileFor(f) });
  return { ...t, parts };
}

/** scripts/galera/cluster.sh start on a free port range, in the run's directory; the node URLs and their mariadbd pids. */
async function startGalera(work: string): Promise<NonNullable<typeof galera>> {
  const dir = path.join(work, 'galera');
  let base = Number(process.env.BENCH_GALERA_BASE_PORT ?? 0);
  for (let tries = 0; !base && tries < 50; tries++) {
    const b = 20000 + Math.floor(Math.random() * 20000);
    const ports = [0, 1, 2].flatMap((i) => [b + i, b + 300 + i, b + 310 + i, b + 320 + i]);
    if ((await Promise.all(ports.map(tcpPortFree))).every(Boolean)) base = b;
  }
  const env = { ...process.env, GALERA_DIR: dir, GALERA_BASE_PORT: String(base) };
  process.stdout.write(`starting a 3-node Galera cluster (scripts/galera/cluster.sh, ports from ${base})…\n`);
  const { stdout } = await run(GALERA_SCRIPT, ['start'], { env, timeout: 300_000 });
  const urls = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('mysql://'));
  const pids = [1, 2, 3].map((i) => Number(fs.readFileSync(path.join(dir, `n${i}`, 'mysqld.pid'), 'utf8').trim()));
  return { urls, pids, env, dir };
}

function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function freshMysqlDatabase(): Promise<string> {
  await dropMysqlDatabase(mysqlBase, DB_NAME);
  return `${mysqlBase}/${DB_NAME}`;
}

function sumTicks(pids: number[]): [number, number] {
  return pids.map(cpuTicks).reduce<[number, number]>((a, b) => [a[0] + b[0], a[1] + b[1]], [0, 0]);
}

/** MariaDB's server process, to show what the database spends beside us (0 when not found locally). */
function mariadbPid(): number {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (/^(mariadbd|mysqld)$/.test(fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim())) return Number(d);
    } catch {
      /* gone */
    }
  }
  return 0;
}

/**
 * BENCH_SIPP_NICE=N runs every sipp at nice N, for both servers. On a
 * 2-core machine the sipps compete with the server under test, and the
 * kernel shares a contended core by runnable thread: Kamailio's four
 * children get four shares where one Node process gets one.
 */
const SIPP_NICE = Number(process.env.BENCH_SIPP_NICE ?? 0);

/**
 * With Kamailio in the series each pass starts on a settled database.
 * Kamailio's usrloc (db_mode 2) writes the bindings a pass changed back to
 * MariaDB on its next timer tick (timer_interval 10 s): some 10,000
 * UPDATEs, each its own commit, that landed inside the pass after its own,
 * Switchboard's. Seen plainly with BENCH_DB=sqlite, where Switchboard does
 * not use MariaDB at all: MariaDB still took 17-19 % of a core during
 * Switchboard's passes, on the same two cores. So before every pass, of
 * either server, SETTLE_SECONDS of rest (one write-back interval) and then
 * a database quiet (< 10 % of a core) for two seconds running, at most 60 s.
 */
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE_SECONDS ?? (WITH_KAMAILIO ? 11 : 0));

async function settle(): Promise<void> {
  if (!SETTLE_SECONDS) return;
  const dbPids = galera ? galera.pids : [mariadbPid()].filter(Boolean);
  await sleep(SETTLE_SECONDS * 1000);
  for (let i = 0, quiet = 0; i < 60 && quiet < 2; i++) {
    const a = sumTicks(dbPids);
    await sleep(1000);
    const b = sumTicks(dbPids);
    quiet = b[0] + b[1] - a[0] - a[1] < 10 ? quiet + 1 : 0;
  }
}

async function startServer(
  dbUrl: string,
  masterKey: Buffer,
  sipPort: number,
  drachtio?: RealDrachtioServer,
  nodeId = 'bench',
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  const child = spawnBuiltServer(
    {
      DATABASE_URL: dbUrl,
      MASTER_KEY: masterKey.toString('base64'),
      PORT: '0',
      SIP_WORKERS: String(WORKERS),
      ...(drachtio
        ? // sipp talks to drachtio-server's SIP port; Switchboard connects to its admin port.
          { SIP_EDGE: 'drachtio', DRACHTIO_HOST: '127.0.0.1', DRACHTIO_PORT: String(drachtio.ports.admin), DRACHTIO_SECRET: drachtio.secret }
        : { SIP_EDGE: 'builtin' }),
      SIP_HOST: '127.0.0.1',
      SIP_PORT: String(sipPort),
      SIP_WS_PORT: '0',
      SIP_NODE_ID: nodeId,
      SIP_QUALIFY_ENABLED: String(QUALIFY),
    },
    nodeArgs,
  );
  // Ready when OPTIONS is answered.
  for (let i = 0; i < 100; i++) {
    try {
      await run('sipsak', ['-s', `sip:ping@127.0.0.1:${sipPort}`, '-vv'], { timeout: 2000 });
      return child;
    } catch {
      await sleep(300);
    }
  }
  child.kill('SIGKILL');
  throw new Error('server did not answer OPTIONS');
}

/** UDP datagrams the kernel dropped for a full receive buffer (any socket: ours or sipp's), from /proc/net/snmp. */
function udpReceiveDrops(): number {
  const lines = fs
    .readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf('RcvbufErrors')]);
}

interface StepResult {
  rate: number;
  calls: number;
  ok: number;
  failed: number;
  okPerSec: number;
  successPct: number;
  p50: number;
  p99: number;
  cpuPct: number;
  sysPct: number;
  dbCpuPct: number;
  /** Server CPU (all its processes) per successful registration, in µs: what a registration costs, whatever the rate. */
  cpuUsPerReg: number;
  /** The database server's CPU per successful registration, in µs. */
  dbCpuUsPerReg: number;
  rssMb: number;
  pssMb: number;
  retrans: number;
  udpDrops: number;
  /** drachtio-server's CPU in % of one core (drachtio edge only). */
  edgeCpuPct?: number;
  wire?: WireLatency[];
  /** BENCH_ALLOC: KB the server allocated per successful registration. */
  allocKbPerReg?: number;
}

/** A registrar under test: where sipp sends, from which port, the scenario and injection file, and the process tree to measure. */
interface Target {
  name: string;
  work: string;
  sipPort: number;
  sippPort: number;
  pid: number;
  scenario: string;
  csv: string;
  /** drachtio-server in front of this Switchboard: its CPU is reported too. */
  edgePid?: number;
  /** BENCH_ALLOC: the server's allocation, sampled over each pass. */
  alloc?: AllocationSampler;
  /** BENCH_PROCESSES > 1: the processes sharing the load, each with its sipp and its users; BENCH_FLOWS > 1: the flows (the fields above are the first's). */
  parts?: Part[];
}

/** One sipp against one Switchboard (or Kamailio) process: its port, sipp's port, the process tree to measure, its users. */
interface Part {
  sipPort: number;
  sippPort: number;
  pid: number;
  csv: string;
}

async function step(t: Target, rate: number, calls: number, label: string): Promise<StepResult> {
  const { sipPort, edgePid } = t;
  const parts: Part[] = t.parts ?? [{ sipPort: t.sipPort, sippPort: t.sippPort, pid: t.pid, csv: t.csv }];
  // Flows share their server: its CPU and memory count once.
  const pids = [...new Set(parts.map((p) => p.pid))];
  const dir = fs.mkdtempSync(path.join(t.work, `${t.name}-${label}-${rate}-`));
  await settle();
  const t0 = Date.now();
  const c0 = sumTicks(pids);
  const e0: [number, number] = edgePid ? cpuTicks(edgePid) : [0, 0];
  const drops0 = udpReceiveDrops();
  const capture = PCAP ? await startCapture(path.join(dir, 'cap.pcap'), sipPort) : undefined;
  const dbPids = galera ? galera.pids : [mariadbPid()].filter(Boolean);
  const d0 = sumTicks(dbPids);
  await t.alloc?.start();
  // Several processes: each sipp sends its share of the rate, to its own process, for its own users.
  const dirs = parts.map((_, k) => (parts.length > 1 ? fs.mkdtempSync(path.join(dir, `p${k + 1}-`)) : dir));
  await Promise.all(parts.map((p, k) => runSipp(t.scenario, p, rate / parts.length, Math.round(calls / parts.length), dirs[k]!)));
  const wall = (Date.now() - t0) / 1000;
  if (capture) await capture.stop();
  const allocated = await t.alloc?.stop();
  // /proc ticks are 1/100 s (USER_HZ); % of one core.
  const c1 = sumTicks(pids);
  const e1: [number, number] = edgePid ? cpuTicks(edgePid) : [0, 0];
  const udpDrops = udpReceiveDrops() - drops0;
  const d1 = sumTicks(dbPids);
  const pctOfCore = (ticks: number) => Math.round((ticks / 100 / wall) * 100);
  const serverTicks = c1[0] + c1[1] - c0[0] - c0[1];
  const dbTicks = d1[0] + d1[1] - d0[0] - d0[1];
  const cpuPct = pctOfCore(serverTicks);
  const sysPct = pctOfCore(c1[1] - c0[1]);
  const dbCpuPct = pctOfCore(dbTicks);
  const read = dirs.map(readSipp);
  const ok = read.reduce((n, r) => n + r.ok, 0);
  const usPerReg = (ticks: number) => (ok ? Math.round((ticks * 10_000) / ok) : NaN);
  const failed = read.reduce((n, r) => n + r.failed, 0);
  const retrans = read.reduce((n, r) => n + r.retrans, 0);
  const samples = read.flatMap((r) => r.samples).sort((x, y) => x - y);
  const pct = (p: number) => (samples.length ? samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]! : NaN);
  return {
    rate,
    calls,
    ok,
    failed,
    okPerSec: Math.round(ok / wall),
    successPct: calls ? (100 * ok) / calls : 0,
    p50: pct(50),
    p99: pct(99),
    cpuPct,
    sysPct,
    dbCpuPct,
    cpuUsPerReg: usPerReg(serverTicks),
    dbCpuUsPerReg: usPerReg(dbTicks),
    rssMb: pids.reduce((n, pid) => n + rssMb(pid), 0),
    pssMb: pids.reduce((n, pid) => n + pssMb(pid), 0),
    retrans,
    udpDrops,
    ...(edgePid ? { edgeCpuPct: Math.round(((e1[0] + e1[1] - e0[0] - e0[1]) / 100 / wall) * 100) } : {}),
    ...(PCAP ? { wire: pcapLatency(path.join(dir, 'cap.pcap'), sipPort) } : {}),
    ...(allocated !== undefined && ok ? { allocKbPerReg: allocated / 1024 / ok } : {}),
  };
}

async function runSipp(scenario: string, p: Part, rate: number, calls: number, dir: string): Promise<void> {
  await run(
    SIPP_NICE ? 'nice' : 'sipp',
    [
      ...(SIPP_NICE ? ['-n', String(SIPP_NICE), 'sipp'] : []),
      `127.0.0.1:${p.sipPort}`,
      '-i',
      '127.0.0.1',
      '-p',
      String(p.sippPort),
      '-t',
      TRANSPORT,
      // A socket per call (un): sipp refuses to start unless its socket cap fits under the open-file limit.
      ...(TRANSPORT === 'un' ? ['-max_socket', '15000'] : []),
      '-sf',
      scenario,
      '-inf',
      p.csv,
      '-r',
      String(Math.max(1, Math.round(rate))),
      '-m',
      String(calls),
      '-l',
      String(Math.ceil(rate * 6)),
      '-recv_timeout',
      '5000',
      '-nd',
      '-nostdin',
      // The same sipp options as ../shared/bench/kamailio/bench.sh: without the higher loop limits sipp drains its socket
      // more slowly than Kamailio's bench lets it, and at 4,000/s drops responses the server did send.
      '-buff_size',
      '1048576',
      '-max_recv_loops',
      '10000',
      '-max_sched_loops',
      '10000',
      '-aa',
      // The digest uri must be the Request-URI (RFC 7616 §3.4.6); sipp's default is the server's address.
      '-auth_uri',
      DOMAIN,
      '-trace_stat',
      '-stf',
      path.join(dir, 'stat.csv'),
      '-trace_rtt',
      '-rtt_freq',
      '100',
    ],
    { cwd: dir, timeout: Math.ceil(calls / rate + 60) * 1000, maxBuffer: 64 * 1024 * 1024 },
  ).catch((err: { code?: number }) => {
    if (typeof err.code !== 'number') throw err; // sipp exits 1 when some calls failed: counted below
  });
}

/** sipp's last statistics line and its response-time samples (ms). */
function readSipp(dir: string): { ok: number; failed: number; retrans: number; samples: number[] } {
  const statFile = fs.readdirSync(dir).find((f) => f.endsWith('.csv') && f.includes('stat')) ?? 'stat.csv';
  const statLines = fs.readFileSync(path.join(dir, statFile), 'utf8').trim().split('\n');
  const header = statLines[0]!.split(';');
  const last = statLines[statLines.length - 1]!.split(';');
  const col = (name: string) => Number(last[header.indexOf(name)]);
  const rttFile = fs.readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
  const samples = rttFile
    ? fs
        .readFileSync(path.join(dir, rttFile), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => Number(l.split(';')[1]))
        .filter((n) => Number.isFinite(n))
    : [];
  return { ok: col('SuccessfulCall(C)'), failed: col('FailedCall(C)'), retrans: col('Retransmissions(C)'), samples };
}

async function startCapture(file: string, port: number): Promise<{ stop(): Promise<void> }> {
  const child = spawn('tcpdump', ['-i', 'lo', '-n', '-s', '0', '-B', '16384', '-w', file, 'udp', 'port', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // tcpdump says "listening on lo" once the capture runs.
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`tcpdump exited (${code})`)));
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

/**
 * BENCH_REUSE_DB=1: the users provisioned by an earlier run with the same
 * BENCH_USERS (their master key and sipp CSV kept beside them), with every
 * binding removed; null when there is none.
 */
async function reuseProvisioned(work: string): Promise<{ dbUrl: string; masterKey: Buffer } | null> {
  const keep = path.join(os.tmpdir(), `sb-bench-register-db-${USERS}`);
  const url = `${MYSQL}/${DB_NAME}`;
  if (!fs.existsSync(path.join(keep, 'master.key'))) {
    fs.mkdirSync(keep, { recursive: true });
    const masterKey = crypto.randomBytes(32);
    process.stdout.write(`provisioning ${USERS} users on MariaDB (${url}), kept for BENCH_REUSE_DB…\n`);
    await provision(masterKey, keep);
    fs.writeFileSync(path.join(keep, 'master.key'), masterKey.toString('base64'));
  }
  const { createConnection } = await import('mysql2/promise');
  const conn = await createConnection(url);
  try {
    const [rows] = await conn.query<Array<{ n: number } & import('mysql2').RowDataPacket>>('SELECT COUNT(*) AS n FROM users');
    if (Number(rows[0]!.n) !== USERS) return null;
    await conn.query('DELETE FROM registrations');
  } catch {
    return null;
  } finally {
    await conn.end();
  }
  fs.copyFileSync(path.join(keep, 'users.csv'), path.join(work, 'users.csv'));
  splitCsv(work);
  process.stdout.write(`reusing ${USERS} provisioned users (${url}), bindings cleared\n`);
  return { dbUrl: url, masterKey: Buffer.from(fs.readFileSync(path.join(keep, 'master.key'), 'utf8'), 'base64') };
}

async function clearBindings(url: string): Promise<void> {
  const db = await openDatabase({ url });
  try {
    await db.sequelize.query('DELETE FROM registrations');
  } finally {
    await db.close();
  }
}

/** Kamailio from ../shared/bench/kamailio (setup.sh: db_mode=2, 4 children, UDP 127.0.0.1:5070) with USERS subscribers. */
async function startKamailio(work: string): Promise<Target> {
  if (!fs.existsSync(path.join(KAMAILIO_DIR, 'setup.sh'))) throw new Error(`--with-kamailio needs ${KAMAILIO_DIR}`);
  // setup.sh restarts the Kamailio its pid file names: never take over one another run started.
  const pidFile = '/run/kamailio-bench/kamailio.pid';
  if (fs.existsSync(pidFile)) {
    const other = Number(fs.readFileSync(pidFile, 'utf8').trim());
    let alive = false;
    try {
      process.kill(other, 0);
      alive = true;
    } catch {
      /* not running */
    }
    if (alive) throw new Error(`a Kamailio bench instance is already running (pid ${other}); stop it first (../shared/bench/kamailio/setup.sh stop)`);
  }
  const env = { ...process.env, DBMODE: process.env.KAM_DBMODE ?? '2', CHILDREN: process.env.KAM_CHILDREN ?? '4', WORK: work };
  process.stdout.write('starting Kamailio (../shared/bench/kamailio/setup.sh)…\n');
  await run('bash', [path.join(KAMAILIO_DIR, 'setup.sh')], { env, timeout: 300_000 });
  await run('bash', [path.join(KAMAILIO_DIR, 'provision.sh'), String(USERS)], { env, timeout: 300_000 });
  const pid = Number(fs.readFileSync('/run/kamailio-bench/kamailio.pid', 'utf8').trim());
  return {
    name: 'kamailio',
    work,
    sipPort: KAMAILIO_PORT,
    sippPort: await freeUdpPort(),
    pid,
    scenario: path.join(KAMAILIO_DIR, 'reg_auth.xml'),
    csv: path.join(work, 'users.csv'),
  };
}

const NODE_FLOOR = 'node floor';

/** The bare Node responder (see --with-node-floor), answering the same users' REGISTERs. */
async function startNodeFloor(work: string): Promise<{ target: Target; stop(): Promise<void> }> {
  const sipPort = await freeUdpPort();
  const child = fork(path.join(root, 'scripts/bench/udp-floor-responder.js'), [String(sipPort)], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the node floor responder exited (${code})`)));
  });
  const target = await withFlows({
    name: NODE_FLOOR,
    work,
    sipPort,
    sippPort: await freeUdpPort(),
    pid: child.pid!,
    scenario: path.join(root, 'scripts/bench/register-digest.xml'),
    csv: path.join(work, 'users.csv'),
  });
  const stop = async (): Promise<void> => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return { target, stop };
}

async function stopKamailio(): Promise<void> {
  await run('bash', [path.join(KAMAILIO_DIR, 'setup.sh'), 'stop'], { timeout: 60_000 }).catch(() => undefined);
}

type Row = StepResult & { label: string; name: string };

function printRows(title: string, rows: Row[]): void {
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(
    `server               pass     target  calls   ok/s  success%  failed  retrans  p50ms  p99ms  cpu%(1 core)  of it sys%  µs/reg  mariadb cpu%  µs/reg  rssMB  pssMB  udp drops${EDGES.includes('drachtio') ? '  drachtio cpu%' : ''}${ALLOC ? '  alloc KB/reg' : ''}\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `${r.name.padEnd(20)} ${r.label.padEnd(8)} ${String(r.rate).padStart(6)} ${String(r.calls).padStart(6)} ${String(r.okPerSec).padStart(6)} ${r.successPct.toFixed(2).padStart(9)} ${String(r.failed).padStart(7)} ${String(r.retrans).padStart(8)} ${String(r.p50).padStart(6)} ${String(r.p99).padStart(6)} ${String(r.cpuPct).padStart(13)} ${String(r.sysPct).padStart(11)} ${String(r.cpuUsPerReg).padStart(7)} ${String(r.dbCpuPct).padStart(13)} ${String(r.dbCpuUsPerReg).padStart(7)} ${String(r.rssMb).padStart(6)} ${String(r.pssMb).padStart(6)} ${String(r.udpDrops).padStart(10)}${EDGES.includes('drachtio') ? String(r.edgeCpuPct ?? '').padStart(15) : ''}${ALLOC ? (r.allocKbPerReg === undefined ? '' : r.allocKbPerReg.toFixed(1)).padStart(14) : ''}\n`,
    );
  }
  if (PCAP) {
    process.stdout.write('\nserver-side latency (loopback capture), microseconds\n');
    for (const r of rows) {
      process.stdout.write(
        `${r.name.padEnd(20)} ${r.label.padEnd(8)} ${String(r.rate).padStart(6)}  ${(r.wire ?? []).map((w) => `${w.code}: n=${w.n} p50=${w.p50} p99=${w.p99} max=${w.max}`).join('   ')}\n`,
      );
    }
  }
}

/** The refresh pass with the most registrations a second at >= 99.9 % success; `clean`: among those sipp never had to retransmit in. */
function sustained(rows: Row[], name: string, clean = false): Row | undefined {
  return rows
    .filter((r) => r.name === name && r.label === 'refresh' && r.successPct >= 99.9 && (!clean || r.retrans === 0))
    .sort((a, b) => b.okPerSec - a.okPerSec)[0];
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-register-'));
  try {
    if (BENCH_DB === 'galera') {
      galera = await startGalera(work);
      mysqlBase = galera.urls[0]!;
    }
    await series(work);
  } finally {
    if (galera) {
      await run(GALERA_SCRIPT, ['stop'], { env: galera.env, timeout: 120_000 }).catch(() => undefined);
      fs.rmSync(galera.dir, { recursive: true, force: true });
    }
  }
}

/** The database URL process `i` uses: on Galera node i (mod 3), else the one database. */
function dbUrlFor(dbUrl: string, i: number): string {
  return galera ? `${galera.urls[i % galera.urls.length]!}/${DB_NAME}` : dbUrl;
}

async function series(work: string): Promise<void> {
  const reuse = REUSE_DB && BENCH_DB === 'mysql';
  let reused = reuse ? await reuseProvisioned(work) : null;
  if (reuse && !reused) {
    // The kept key no longer matches the database (another run re-provisioned it): start over.
    fs.rmSync(path.join(os.tmpdir(), `sb-bench-register-db-${USERS}`), { recursive: true, force: true });
    reused = await reuseProvisioned(work);
  }
  const masterKey = reused?.masterKey ?? crypto.randomBytes(32);
  // A fresh provisioning replaces the database a kept key belonged to.
  if (!reuse && BENCH_DB === 'mysql') fs.rmSync(path.join(os.tmpdir(), `sb-bench-register-db-${USERS}`), { recursive: true, force: true });
  if (!reused) process.stdout.write(`provisioning ${USERS} users on ${BENCH_DB === 'sqlite' ? 'SQLite' : `MariaDB (${mysqlBase}/${DB_NAME})`}…\n`);
  const dbUrl = reused?.dbUrl ?? (await provision(masterKey, work));
  const rates = RATES.length ? RATES : [1000, 2000, 3000, 4000];
  const kamailio = WITH_KAMAILIO ? await withFlows(await startKamailio(fs.mkdtempSync(path.join(work, 'kamailio-')))) : undefined;
  const floor = WITH_NODE_FLOOR ? await startNodeFloor(work) : undefined;
  const rows: Row[] = [];
  const names: string[] = [];
  try {
    for (const [i, edge] of EDGES.entries()) {
      // Each edge starts from no bindings, so its first pass is new registrations too.
      if (i > 0) await clearBindings(dbUrl);
      const drachtio = edge === 'drachtio' ? await RealDrachtioServer.start() : undefined;
      const sipPort = drachtio ? drachtio.ports.sip : await freeUdpPort();
      const servers: ChildProcess[] = [];
      let alloc: AllocationSampler | undefined;
      try {
        const parts: Part[] = [];
        const inspectPort = ALLOC ? await freeTcpPort() : undefined;
        for (let p = 0; p < PROCESSES; p++) {
          const port = p === 0 ? sipPort : await freeUdpPort();
          const nodeArgs = inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : [];
          const server = await startServer(dbUrlFor(dbUrl, p), masterKey, port, drachtio, PROCESSES > 1 ? `bench-${p + 1}` : 'bench', nodeArgs);
          servers.push(server);
          // One sipp port per server for every pass: each user's Contact stays the same, so later passes refresh its binding.
          parts.push({
            sipPort: port,
            sippPort: await freeUdpPort(),
            pid: server.pid!,
            csv: path.join(work, PROCESSES > 1 ? `users-${p + 1}.csv` : 'users.csv'),
          });
        }
        const switchboard: Target = await withFlows({
          name: EDGES.length > 1 ? `switchboard-${edge}` : PROCESSES > 1 ? `switchboard x${PROCESSES}` : 'switchboard',
          work,
          ...parts[0]!,
          scenario: path.join(root, 'scripts/bench/register-digest.xml'),
          ...(drachtio?.pid ? { edgePid: drachtio.pid } : {}),
          ...(PROCESSES > 1 ? { parts } : {}),
        });
        if (inspectPort) switchboard.alloc = alloc = await AllocationSampler.connect(inspectPort);
        names.push(switchboard.name);
        // Kamailio takes its turns beside the first edge's passes, rate by rate.
        const targets = i === 0 ? [kamailio, floor?.target, switchboard].filter((t) => t !== undefined) : [switchboard];
        // Pass 1: every user registers once (new bindings; the floor stores none); then refresh passes at each rate, the servers taking turns.
        for (const t of targets) if (t !== floor?.target) rows.push({ name: t.name, label: 'initial', ...(await step(t, INITIAL_RATE, USERS, 'initial')) });
        for (const rate of rates) for (const t of targets) rows.push({ name: t.name, label: 'refresh', ...(await step(t, rate, rate * DURATION, 'refresh')) });
      } finally {
        alloc?.close();
        for (const server of servers) {
          server.kill('SIGTERM');
          await new Promise((r) => server.once('exit', r));
        }
        await drachtio?.stop();
      }
    }
  } finally {
    if (kamailio) await stopKamailio();
    await floor?.stop();
  }
  printRows(
    `${USERS} users, sipp ${TRANSPORT}, REGISTER/401/REGISTER/200 (digest MD5). Switchboard on ${BENCH_DB === 'sqlite' ? 'SQLite' : BENCH_DB === 'galera' ? `a 3-node MariaDB Galera cluster (${PROCESSES} processes, process i on node i, mariadb cpu% = the 3 nodes)` : PROCESSES > 1 ? `one MariaDB (${PROCESSES} processes)` : 'MariaDB'}, edge ${EDGES.join(' then ')}, ${WORKERS ? `${WORKERS} SIP workers` : 'SIP in the serve process'}, qualify ${QUALIFY ? 'on' : 'off'}${kamailio ? '; Kamailio 5.6 on MariaDB (db_mode 2, 4 children)' : ''}`,
    rows,
  );
  if (kamailio) {
    for (const name of names) {
      process.stdout.write(`\nratio ${name} / kamailio per rate (ok/s; p99 ms; CPU µs per registration, server and mariadb)\n`);
      for (const rate of rates) {
        const k = rows.find((r) => r.name === 'kamailio' && r.label === 'refresh' && r.rate === rate);
        const sb = rows.find((r) => r.name === name && r.label === 'refresh' && r.rate === rate);
        const fl = rows.find((r) => r.name === NODE_FLOOR && r.rate === rate);
        if (k && sb)
          process.stdout.write(
            `${String(rate).padStart(6)}  ok/s ${(sb.okPerSec / Math.max(1, k.okPerSec)).toFixed(2)}x  p99 ${sb.p99} vs ${k.p99}  cpu/reg ${sb.cpuUsPerReg} vs ${k.cpuUsPerReg} µs (${(sb.cpuUsPerReg / k.cpuUsPerReg).toFixed(2)}x${fl ? `; node floor ${fl.cpuUsPerReg} µs` : ''})  mariadb cpu/reg ${sb.dbCpuUsPerReg} vs ${k.dbCpuUsPerReg} µs\n`,
          );
      }
    }
  }
  for (const name of kamailio ? ['kamailio', ...names] : names) {
    const best = sustained(rows, name);
    process.stdout.write(
      best
        ? `${name}: sustained at >= 99.9% success: ${best.okPerSec} registrations/s (p50 ${best.p50} ms, p99 ${best.p99} ms, CPU ${best.cpuPct}% of one core${best.edgeCpuPct === undefined ? '' : `, drachtio-server ${best.edgeCpuPct}%`}, RSS ${best.rssMb} MB, PSS ${best.pssMb} MB)\n`
        : `${name}: no rate reached 99.9% success\n`,
    );
  }
  if (kamailio) {
    const k = sustained(rows, 'kamailio');
    const kClean = sustained(rows, 'kamailio', true);
    for (const name of names) {
      const sb = sustained(rows, name);
      const sbClean = sustained(rows, name, true);
      // A pass can hold 99.9 % with its answers late enough for sipp to retransmit: the stricter ratio says so.
      const clean =
        kClean && sbClean
          ? ` (passes without a retransmission: ${sbClean.okPerSec} / ${kClean.okPerSec} = ${(sbClean.okPerSec / kClean.okPerSec).toFixed(2)})`
          : '';
      process.stdout.write(
        k && sb ? `highest rate at >= 99.9%: ${name} / kamailio = ${(sb.okPerSec / k.okPerSec).toFixed(2)}${clean}\n` : `highest-rate ratio (${name}): n/a\n`,
      );
    }
  }
  process.stdout.write(`sipp files: ${work}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:register failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
