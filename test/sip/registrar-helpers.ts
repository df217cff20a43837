import crypto from 'node:crypto';
import { BuiltinSipEdge } from '../../sip/edges/builtin/builtin-sip-edge.js';
import { RegistrarRuntime } from '../../sip/registrar/registrar-runtime.js';
import { MemoryFailureStore } from '../../src/throttle/failure-store.js';
import { BuiltinQualifySender } from '../../sip/edges/builtin/builtin-qualify-sender.js';
import { BuiltinRequestPort } from '../../sip/edges/builtin/builtin-request-port.js';
import { TrunkRegistrarClient } from '../../sip/trunks/trunk-registrar-client.js';
import { ParsedSipRequest } from '../../sip/message/sip-request.js';
import type { SipRequest, SipRequestContext, SipResponseSpec } from '../../sip/message/types.js';
import type { AppConfig } from '../../src/config.js';
import { createAccount, createUser, type TestAccount } from '../helpers/factories.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

export interface RegistrarHarness {
  app: TestApp;
  runtime: RegistrarRuntime;
  /** The clock the registrar reads; tests move it instead of sleeping. */
  clock: { now: number };
  edge?: BuiltinSipEdge;
  /** With `qualify: true`: the OPTIONS sender wired to the edge (the sweeper is runtime.qualify; call tick()). */
  qualify?: BuiltinQualifySender;
  /** With `trunks`: the SIP trunk registrations, sent from the edge's own sockets. */
  trunks?: TrunkRegistrarClient;
  stop(): Promise<void>;
}

/** A test app plus a registrar on its database (and an edge on 127.0.0.1:0 when asked). */
export async function startRegistrar(
  opts: {
    sip?: Record<string, unknown>;
    edge?: Array<'udp' | 'tcp' | 'ws'>;
    realClock?: boolean;
    qualify?: { timeoutMs: number };
    /** With `qualify`: message-waiting NOTIFYs through the same device request port (runtime.mwi). */
    mwi?: boolean;
    edgeKind?: 'builtin' | 'drachtio';
    /** Other config overrides for the app (smtp, publicUrl, …). */
    app?: Record<string, unknown>;
    /** Count registrations and device peaks into the app's usage recorder, as `serve` does. */
    usage?: boolean;
    /** Registers the account's SIP trunks from this edge (timing overrides of telephony.trunks). */
    trunks?: Partial<AppConfig['telephony']['trunks']>;
    /**
     * A restarted node: a new registrar and edge on this running app's database (its config wins over `sip`
     * and `app`); stop() leaves the app running. With `clock`, the new node reads the same moved clock.
     */
    restartOf?: { app: TestApp; clock?: { now: number } };
    /** Sees every request the edge hands the registrar and what it answered (null: nothing). */
    onAnswered?: (req: SipRequest, res: SipResponseSpec | null) => void;
    /** Fixed listener ports (a restarted node binding the ports the previous one had); default free ones. */
    ports?: Partial<Record<'udp' | 'tcp' | 'ws', number>>;
  } = {},
): Promise<RegistrarHarness> {
  const app = opts.restartOf?.app ?? (await startTestApp({ ...(opts.app ?? {}), sip: { edge: 'none', ...(opts.sip ?? {}) } }));
  const clock = opts.restartOf?.clock ?? { now: Date.now() };
  const runtime = new RegistrarRuntime({
    db: app.services.db,
    config: app.config,
    secrets: app.services.secrets,
    logger: app.services.logger,
    masterKey: Buffer.from(app.config.secrets.masterKey, 'base64'),
    outbox: app.services.webhookOutbox,
    ...(opts.usage ? { usage: app.services.usage.recorder } : {}),
    ...(opts.edgeKind ? { edge: opts.edgeKind } : {}),
    // The shared failure stores read the real time; a moved clock needs counters that read it too.
    ...(opts.realClock ? {} : { now: () => clock.now, failureStore: new MemoryFailureStore(() => clock.now) }),
  });
  await runtime.start();
  let edge: BuiltinSipEdge | undefined;
  const qualify = opts.qualify ? new BuiltinQualifySender({ timeoutMs: opts.qualify.timeoutMs, timerT1Ms: 100 }) : undefined;
  const trunkSettings = opts.trunks ? { ...app.config.telephony.trunks, enabled: true, ...opts.trunks } : undefined;
  const requests = trunkSettings ? new BuiltinRequestPort({ t1Ms: trunkSettings.t1Ms, timeoutMs: trunkSettings.transactionTimeoutMs }) : undefined;
  const onResponse =
    qualify || requests
      ? (text: string, source: Parameters<BuiltinQualifySender['onResponse']>[1], transport: Parameters<BuiltinQualifySender['onResponse']>[2]) => {
          if (requests?.onResponse(text)) return;
          qualify?.onResponse(text, source, transport);
        }
      : undefined;
  if (opts.edge?.length) {
    edge = new BuiltinSipEdge({
      ...(onResponse ? { onResponse } : {}),
      // SIP_TRACE=1 prints each request and the answer: the quickest way to see what a client sent.
      handler:
        process.env.SIP_TRACE || opts.onAnswered
          ? async (req, ctx) => {
              const r = await runtime.handler(req, ctx);
              opts.onAnswered?.(req, r);
              if (process.env.SIP_TRACE)
                console.log(
                  `${ctx.transport} ${req.method} ${req.headerValues('contact').join(' | ')} auth=${req.header('authorization') ?? '-'} → ${r?.status} ${r?.reason}`,
                );
              return r;
            }
          : runtime.handler,
      // As server/builtin-sip.ts wires it: requests waiting on a closed connection end at once.
      events: {
        connectionClosed: (id) => {
          qualify?.port.connectionClosed(id);
          runtime.events.connectionClosed(id);
        },
      },
      isBanned: runtime.isBanned,
      listeners: opts.edge.map((transport) => ({ transport, host: '127.0.0.1', port: opts.ports?.[transport] ?? 0 })),
    });
    await edge.start();
    if (qualify) {
      qualify.attach(edge);
      runtime.startQualify(qualify);
      if (opts.mwi) await runtime.startMwi(qualify.port);
    }
    requests?.attach(edge);
  }
  const trunks =
    trunkSettings && requests
      ? new TrunkRegistrarClient({
          db: app.services.db,
          secrets: app.services.secrets,
          outbox: app.services.webhookOutbox,
          port: requests,
          settings: trunkSettings,
          logger: app.services.logger,
        })
      : undefined;
  trunks?.start();
  return {
    app,
    runtime,
    clock,
    ...(edge ? { edge } : {}),
    ...(qualify ? { qualify } : {}),
    ...(trunks ? { trunks } : {}),
    async stop() {
      await trunks?.stop();
      requests?.close();
      await edge?.stop();
      // After the edge: its closing connections are ignored once stopping, and removals already running finish first.
      await runtime.stop();
      if (!opts.restartOf) await app.stop();
    },
  };
}

export interface SipTestUser {
  id: number;
  username: string;
  extension: string;
  password: string;
  domain: string;
  account: TestAccount;
}

export async function createSipUser(app: TestApp, fields: Record<string, unknown> = {}, account?: TestAccount): Promise<SipTestUser> {
  const acct = account ?? (await createAccount(app));
  const u = await createUser(app, acct.ownerToken, fields);
  return { id: u.id, username: u.username, extension: u.extension, password: u.sip_password, domain: acct.sipDomain, account: acct };
}

let seq = 0;
export interface RegisterOptions {
  user: string;
  domain: string;
  contacts?: string[];
  expires?: number;
  callId?: string;
  cseq?: number;
  authorization?: string;
  headers?: string[];
  via?: string;
  userAgent?: string;
}

/** A REGISTER as raw text, the way a phone would write it. */
export function registerText(o: RegisterOptions): string {
  seq += 1;
  const lines = [
    `REGISTER sip:${o.domain} SIP/2.0`,
    o.via ?? `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-r${process.pid}-${seq}-${crypto.randomBytes(3).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <sip:${o.user}@${o.domain}>;tag=f${seq}`,
    `To: <sip:${o.user}@${o.domain}>`,
    `Call-ID: ${o.callId ?? `reg-${seq}-${crypto.randomBytes(4).toString('hex')}`}`,
    `CSeq: ${o.cseq ?? 1} REGISTER`,
    ...(o.contacts ?? []).map((c) => `Contact: ${c}`),
    ...(o.expires !== undefined ? [`Expires: ${o.expires}`] : []),
    ...(o.authorization ? [`Authorization: ${o.authorization}`] : []),
    `User-Agent: ${o.userAgent ?? 'TestPhone/1.0'}`,
    ...(o.headers ?? []),
    'Content-Length: 0',
    '',
    '',
  ];
  return lines.join('\r\n');
}

export function parse(text: string): ParsedSipRequest {
  return ParsedSipRequest.parse(Buffer.from(text), { maxHeaderBytes: 16384, maxBodyBytes: 65536 });
}

export function udpContext(address = '127.0.0.1', port = 5999): SipRequestContext {
  return { transport: 'udp', source: { address, port }, local: { address: '127.0.0.1', port: 5060 }, receivedAt: Date.now() };
}

export function headerOf(spec: SipResponseSpec, name: string): string[] {
  return spec.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

export interface Challenge {
  realm: string;
  nonce: string;
  algorithm: string;
  stale: boolean;
}

export function parseChallenge(value: string): Challenge {
  const get = (k: string) => new RegExp(`${k}="?([^",]+)"?`).exec(value)?.[1];
  return { realm: get('realm')!, nonce: get('nonce')!, algorithm: get('algorithm') ?? 'MD5', stale: /stale=true/i.test(value) };
}

/** The MD5 challenge of a 401 (its WWW-Authenticate offering algorithm=MD5). */
export function md5Challenge(response: string): Challenge {
  const line = response.split('\r\n').find((l) => /^www-authenticate:.*algorithm=MD5/i.test(l))!;
  return parseChallenge(line.slice(line.indexOf(':') + 1));
}

/** The Authorization value a phone computes for a challenge (RFC 7616 §3.4, qop=auth). */
export function authorize(ch: Challenge, authUser: string, password: string, uri: string, nc = 1, opts: { method?: string; cnonce?: string } = {}): string {
  const h = (s: string) =>
    crypto
      .createHash(ch.algorithm === 'MD5' ? 'md5' : 'sha256')
      .update(s)
      .digest('hex');
  const ha1 = h(`${authUser}:${ch.realm}:${password}`);
  const ha2 = h(`${opts.method ?? 'REGISTER'}:${uri}`);
  const ncText = nc.toString(16).padStart(8, '0');
  const cnonce = opts.cnonce ?? crypto.randomBytes(8).toString('hex');
  const response = h(`${ha1}:${ch.nonce}:${ncText}:${cnonce}:auth:${ha2}`);
  return `Digest username="${authUser}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${uri}", response="${response}", algorithm=${ch.algorithm}, qop=auth, nc=${ncText}, cnonce="${cnonce}"`;
}

/**
 * Sends a REGISTER to the core, answers the challenge, returns the final
 * response (what a phone does in one registration).
 */
export async function registerThroughCore(
  h: RegistrarHarness,
  o: RegisterOptions & { authUser?: string; password: string; algorithm?: 'MD5' | 'SHA-256'; ctx?: SipRequestContext },
): Promise<SipResponseSpec | null> {
  const ctx = o.ctx ?? udpContext();
  const callId = o.callId ?? `reg-${crypto.randomBytes(6).toString('hex')}`;
  const cseq = o.cseq ?? 1;
  const first = await h.runtime.handler(parse(registerText({ ...o, callId, cseq })), ctx);
  if (!first || first.status !== 401) return first;
  const challenges = headerOf(first, 'WWW-Authenticate').map(parseChallenge);
  const ch = challenges.find((c) => c.algorithm === (o.algorithm ?? 'MD5'))!;
  const auth = authorize(ch, o.authUser ?? o.user, o.password, `sip:${o.domain}`);
  return h.runtime.handler(parse(registerText({ ...o, callId, cseq: cseq + 1, authorization: auth })), ctx);
}
