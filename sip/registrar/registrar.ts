import crypto from 'node:crypto';
import type { SipRequest, SipRequestContext, SipResponseSpec, SipTransportName } from '../message/types.js';
import { decodeUserPart, parseSipUri } from '../message/sip-uri.js';
import type { SipLogger } from '../sip-logger.js';
import {
  digestChallenge,
  expectedDigestResponse,
  parseDigestCredentials,
  sameDigest,
  type DigestAlgorithm,
  type DigestCredentials,
} from '../digest/digest-credentials.js';
import type { NonceService } from '../digest/nonce-service.js';
import { sameResourceUri } from '../digest/digest-uri.js';
import type { NonceCountTracker } from '../digest/nonce-count-tracker.js';
import { previousHa1, type SipCredential, type SipCredentialStore } from './credential-store.js';
import type { BindingPort } from './binding-port.js';
import type { ApplyRegisterResult, StoredBinding } from './register-decision.js';
import type { RequestedContact } from './binding-plan.js';
import { outcomeResponse, type RegisterOutcome } from './register-outcomes.js';
import { scannerUserAgentMatcher, sipUserKey, type AuthFailureGuard } from './auth-failure-guard.js';
import type { RegistrarMetrics } from './registrar-metrics.js';

export interface RegistrarOptions {
  credentials: SipCredentialStore;
  bindings: BindingPort;
  nonces: NonceService;
  nonceCounts: NonceCountTracker;
  guard: AuthFailureGuard;
  metrics: RegistrarMetrics;
  logger: SipLogger;
  nodeId: string;
  algorithms: readonly DigestAlgorithm[];
  /**
   * Challenges offered over WS/WSS (the edge's ctx.transport, which the
   * drachtio edge derives from the listener or Via). sip.js 0.21 and JsSIP 3
   * keep the last WWW-Authenticate line and abort unless it is MD5, so MD5
   * must come last here; the default is MD5 alone.
   */
  websocketAlgorithms: readonly DigestAlgorithm[];
  minExpires: number;
  defaultExpires: number;
  maxExpires: number;
  scannerUserAgents: readonly string[];
  /**
   * Tighter maxExpires per transport, for edges that cannot see a
   * connection close (drachtio: WS/WSS bindings would otherwise hold a slot
   * until a long expiry when the browser tab is gone).
   */
  maxExpiresByTransport?: Partial<Record<SipTransportName, number>>;
  /**
   * After a REGISTER committed and before its 200 goes out: the user as
   * authenticated and the bindings they now hold (message-waiting lights a
   * device that came back). Must not throw or wait.
   */
  onRegistered?: (cred: SipCredential, bindings: readonly StoredBinding[], callId: string) => void;
  now?: () => number;
}

/** Option tags we implement (RFC 3261 §8.2.2.3): Path (RFC 3327) and outbound (RFC 5626). */
const SUPPORTED_OPTIONS = new Set(['path', 'outbound', 'gruu']);

type AuthResult = { ok: true; cred: SipCredential; authName: string } | { ok: false; response: SipResponseSpec | null };

/**
 * The registrar core (RFC 3261 §10.3): a parsed REGISTER and where it came
 * from in, a response spec out (null = send nothing). It knows nothing of
 * sockets, so the built-in edge and the drachtio edge mount the same core.
 */
export class Registrar {
  private readonly o: RegistrarOptions;
  private readonly now: () => number;
  // A fixed fake HA1 so an unknown user costs the same hashing as a wrong password.
  private readonly decoyHa1 = crypto.randomBytes(32).toString('hex');
  private readonly scannerUserAgent: (userAgent: string | undefined) => boolean;

  constructor(options: RegistrarOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
    this.scannerUserAgent = scannerUserAgentMatcher(options.scannerUserAgents);
  }

  /** True when requests from this source must get silence (banned, e.g. a scanner that kept failing). */
  isBanned(address: string): boolean {
    return this.o.guard.isIpBanned(address);
  }

  /** Requests from scanners (by User-Agent) are dropped before any work. */
  isScanner(req: SipRequest): boolean {
    return this.scannerUserAgent(req.header('user-agent'));
  }

  /** A REGISTER from a source the caller has already let through (RegistrarRuntime.handler drops banned sources and scanners for every method). */
  async handle(req: SipRequest, ctx: SipRequestContext): Promise<SipResponseSpec | null> {
    this.o.metrics.liveGauge.inc();
    try {
      const { outcome, response } = await this.register(req, ctx);
      this.o.metrics.registers.inc({ outcome });
      return response;
    } finally {
      this.o.metrics.liveGauge.dec();
    }
  }

  private async register(req: SipRequest, ctx: SipRequestContext): Promise<{ outcome: RegisterOutcome | 'dropped'; response: SipResponseSpec | null }> {
    // RFC 3261 §10.3 step 3: the To header field holds the address-of-record.
    const to = parseSipUri(req.to.uri);
    if (!to || !to.user) return this.answer('invalid_request', [], 'To must be a sip: address-of-record with a user part');
    const domain = to.host.toLowerCase();
    const aorUser = decodeUserPart(to.user);

    // RFC 3261 §8.2.2.3: an option in Require that we do not know → 420 with Unsupported.
    const required = req.headerValues('require');
    if (required.length) {
      const unsupported = required.map((r) => r.trim().toLowerCase()).filter((r) => r && !SUPPORTED_OPTIONS.has(r));
      if (unsupported.length) return this.answer('bad_extension', [['Unsupported', unsupported.join(', ')]]);
    }

    const auth = await this.authenticate(req, ctx, domain, aorUser);
    if (!auth.ok)
      return { outcome: auth.response === null ? 'dropped' : auth.response.status === 403 ? 'username_blocked' : 'not_authorized', response: auth.response };
    let { cred } = auth;

    // RFC 3261 §10.3 step 3: "The registrar then determines if the authorized user is authorized
    // to modify registrations for this address-of-record" — here: the AOR user part is the
    // authenticated user's username or extension, in the account whose domain is the realm.
    if (aorUser !== cred.username && aorUser !== cred.extension) {
      this.o.logger.warn({ sourceIp: ctx.source.address, user: auth.authName, aor: req.to.uri }, 'SIP REGISTER for an AOR of another user');
      return this.answer('forbidden_aor');
    }
    if (cred.status !== 'active') {
      // A cached "disabled" may be older than a re-enable on another node; re-enabling must
      // work at once everywhere, so a refusal is decided on the database row, never the cache.
      this.o.credentials.invalidate(cred.realm, auth.authName);
      const fresh = await this.o.credentials.lookup(cred.realm, auth.authName, { fresh: true });
      if (!fresh || fresh.userId !== cred.userId) return this.answer('not_authorized', this.challenges(domain, false, ctx));
      if (fresh.status !== 'active') return this.answer('user_disabled');
      const creds = parseDigestCredentials(pickAuthorization(req, domain) ?? '')!;
      if (!this.verify(fresh, auth.authName, creds, req.method)) return this.answer('not_authorized', this.challenges(domain, false, ctx));
      if (this.nonceBeforeReauth(fresh, creds.nonce)) return this.answer('stale_nonce', this.challenges(domain, true, ctx));
      cred = fresh;
    }

    const parsed = this.requestedContacts(req, ctx);
    if ('outcome' in parsed) return parsed;

    const aor = `sip:${cred.username}@${cred.realm}`;
    const pathValues = req.headerValues('path');
    const nowMs = this.now();
    const input = {
      userId: cred.userId,
      accountId: cred.accountId,
      expectedVersion: cred.version,
      accountPolicy: cred.accountPolicy,
      aor,
      contacts: parsed.contacts,
      callId: req.callId,
      cseq: req.cseq.seq,
      origin: {
        transport: ctx.transport,
        sourceAddress: ctx.source.address,
        sourcePort: ctx.source.port,
        connectionId: ctx.connectionId ?? null,
        nodeId: this.o.nodeId,
        userAgent: truncate(req.header('user-agent') ?? null, 255),
        path: pathValues.length ? pathValues : null,
      },
      now: new Date(nowMs),
    };
    let result = await this.o.bindings.apply(input);
    if (result.kind === 'stale_credentials') {
      // The user changed (password, status, limit) since the cached look-up: check again from the database.
      this.o.credentials.invalidate(cred.realm, auth.authName);
      const fresh = await this.o.credentials.lookup(cred.realm, auth.authName, { fresh: true });
      const creds = parseDigestCredentials(pickAuthorization(req, domain) ?? '')!;
      if (!fresh || !this.verify(fresh, auth.authName, creds, req.method)) return this.answer('not_authorized', this.challenges(domain, false, ctx));
      if (this.nonceBeforeReauth(fresh, creds.nonce)) return this.answer('stale_nonce', this.challenges(domain, true, ctx));
      cred = fresh;
      if (cred.status !== 'active') return this.answer('user_disabled');
      result = await this.o.bindings.apply({ ...input, expectedVersion: cred.version, accountPolicy: cred.accountPolicy });
      if (result.kind === 'stale_credentials') return this.answer('server_error');
    }
    if (result.kind === 'user_disabled') return this.answer('user_disabled');
    if (result.kind === 'rejected') return this.rejected(result, req, cred, ctx);

    for (const e of result.evicted) {
      this.o.metrics.evictions.inc({ policy: 'at_limit' });
      this.o.logger.info(
        { event: 'binding_evicted', userId: cred.userId, bindingId: e.id, contact: e.contact_uri, userAgent: e.user_agent },
        'SIP binding evicted to admit a new device',
      );
    }
    const headers: Array<[string, string]> = result.bindings.map((b) => ['Contact', contactWithExpires(b, nowMs)]);
    // RFC 3327 §5.3: the registrar copies the stored Path into the 200 when the UA supports it.
    if (pathValues.length && req.headerValues('supported').some((s) => s.trim().toLowerCase() === 'path'))
      for (const p of pathValues) headers.push(['Path', p]);
    if (result.bindings.some((b) => b.reg_id !== null)) headers.push(['Require', 'outbound']);
    headers.push(['Date', new Date(nowMs).toUTCString()]);
    if (result.bindings.length) this.o.onRegistered?.(cred, result.bindings, req.callId);
    return this.answer('ok', headers);
  }

  private rejected(result: Extract<ApplyRegisterResult, { kind: 'rejected' }>, req: SipRequest, cred: SipCredential, ctx: SipRequestContext) {
    const { outcome, holders, maxBindings: max, requested } = result;
    if (outcome === 'out_of_order') {
      // RFC 3261 §10.3 step 7: same Call-ID and a CSeq not above the stored one → "the update MUST be aborted and the
      // request fails". No status is named there; 500 is the one §12.2.2 gives a UAS for a lower CSeq. The Warning says
      // why, so nobody reads a crash into it.
      const stored = holders[0];
      const text = stored
        ? `CSeq ${req.cseq.seq} is not higher than ${stored.cseq}, the last one seen for this Call-ID and contact ${stored.contact_uri}; out-of-order update ignored (RFC 3261 10.3 step 7)`
        : `CSeq ${req.cseq.seq} is not higher than the last one seen for this Call-ID; out-of-order update ignored (RFC 3261 10.3 step 7)`;
      return this.answer('out_of_order', [['Warning', warning(text)]]);
    }
    this.o.metrics.rejections.inc();
    this.o.logger.warn(
      {
        event: 'binding_limit_rejected',
        userId: cred.userId,
        accountId: cred.accountId,
        maxBindings: max,
        live: holders.length,
        requested,
        sourceIp: ctx.source.address,
      },
      'SIP REGISTER refused: max bindings reached',
    );
    if (outcome === 'registration_disabled')
      return this.answer('registration_disabled', [['Warning', warning('max_bindings is 0 for this user: no device may register')]]);
    // Say what was asked and what is allowed, and name the devices that hold the slots, so the person at the phone knows
    // what to unplug.
    const asked = `this REGISTER adds ${requested} new ${requested === 1 ? 'device' : 'devices'}, max_bindings allows ${max}`;
    const devices = holders.map((h) => `${h.user_agent ?? 'unknown device'} since ${h.registered_at.toISOString()}`).join('; ');
    const held = holders.length ? `${holders.length} already registered: ${devices}` : 'none registered yet';
    return this.answer('too_many_bindings', [['Warning', warning(`${asked}; ${held}`)]]);
  }

  /**
   * Digest authentication of a request other than REGISTER (a MESSAGE from
   * a registered phone): the same challenge, nonce, replay, ban and
   * disabled-user rules as a REGISTER, with the realm the caller names (the
   * account's SIP domain). RFC 3261 §22.2: a UAS challenges with 401.
   */
  async authenticateRequest(
    req: SipRequest,
    ctx: SipRequestContext,
    realm: string,
  ): Promise<{ ok: true; userId: number; accountId: number; username: string; extension: string } | { ok: false; response: SipResponseSpec | null }> {
    const from = parseSipUri(req.from.uri);
    const auth = await this.authenticate(req, ctx, realm, decodeUserPart(from?.user ?? ''));
    if (!auth.ok) return auth;
    let cred = auth.cred;
    if (cred.status !== 'active') {
      // As for REGISTER: a refusal is decided on the database row, never the cache.
      this.o.credentials.invalidate(cred.realm, auth.authName);
      const fresh = await this.o.credentials.lookup(cred.realm, auth.authName, { fresh: true });
      if (!fresh || fresh.userId !== cred.userId || fresh.status !== 'active') return { ok: false, response: outcomeResponse('user_disabled') };
      cred = fresh;
    }
    return { ok: true, userId: cred.userId, accountId: cred.accountId, username: cred.username, extension: cred.extension };
  }

  // --- digest authentication (RFC 7616 / RFC 8760 over RFC 3261 §22) ---

  private async authenticate(req: SipRequest, ctx: SipRequestContext, realm: string, aorUser: string): Promise<AuthResult> {
    const ip = ctx.source.address;
    // A source that failed here lately may have been banned on another node since: the shared store says (silence, as at the edge).
    if (await this.o.guard.ipBanned(ip)) {
      this.o.metrics.dropped.inc({ reason: 'banned' });
      return { ok: false, response: null };
    }
    const header = pickAuthorization(req, realm);
    if (header === undefined) {
      // Phones authenticate as their AOR user almost always: have the row loaded by the time the answer comes.
      this.o.credentials.prefetch(realm, aorUser);
      // Stateless (types.ts): a retransmission is challenged again with a fresh nonce; no failure is counted either way.
      return { ok: false, response: { ...outcomeResponse('auth_required', this.challenges(realm, false, ctx)), stateless: true } };
    }
    const creds = parseDigestCredentials(header);
    if (!creds || creds.realm !== realm) return this.failure(ctx, realm, creds?.username, 'malformed credentials');
    // RFC 7616 §3.4.6 / RFC 2617 §3.2.2.5: the digest uri must designate the Request-URI's resource, else 400
    // (checked before the password: the answer teaches nothing about it). Logged, as the RFCs suggest: it may be an attack.
    if (!sameResourceUri(creds.uri, req.uri)) {
      this.o.logger.warn(
        {
          event: 'sip_digest_uri_mismatch',
          sourceIp: ip,
          user: creds.username,
          realm,
          digestUri: truncate(creds.uri, 255),
          requestUri: truncate(req.uri, 255),
        },
        'SIP auth refused: digest uri is not the Request-URI',
      );
      return {
        ok: false,
        response: outcomeResponse('invalid_request', [], `digest uri ${quoteForReason(creds.uri)} is not the Request-URI ${quoteForReason(req.uri)}`),
      };
    }
    if (!this.offered(ctx).includes(creds.algorithm as DigestAlgorithm))
      return this.failure(ctx, realm, creds.username, `algorithm ${creds.algorithm} not offered`);
    // RFC 7616 §3.4: we offered qop="auth" only; nc and cnonce are required with it.
    if (creds.qop !== 'auth' || !creds.nc || !/^[0-9a-fA-F]{8}$/.test(creds.nc) || !creds.cnonce)
      return this.failure(ctx, realm, creds.username, 'qop=auth with nc and cnonce required');
    const nonceState = this.o.nonces.check(realm, creds.nonce);
    if (nonceState === 'invalid') return this.failure(ctx, realm, creds.username, 'nonce not issued by us or tampered');

    const cred = await this.o.credentials.lookup(realm, creds.username);
    // The username and the extension name one password: their failures count as one user's.
    const userKey = sipUserKey(realm, cred?.userId, creds.username);
    const blockedMs = await this.o.guard.userBlockedMs(userKey, ip);
    if (blockedMs > 0) {
      this.o.logger.warn({ event: 'sip_auth_blocked', sourceIp: ip, user: creds.username, realm }, 'SIP auth refused: too many failures for this user');
      return { ok: false, response: outcomeResponse('username_blocked', [['Retry-After', String(Math.max(1, Math.ceil(blockedMs / 1000)))]]) };
    }
    if (!cred || !this.verify(cred, creds.username, creds, req.method)) return this.failure(ctx, realm, creds.username, 'wrong credentials', userKey);
    // RFC 7616 §3.3 stale: right answer to an expired nonce → new challenge with stale=true, no failure.
    if (nonceState === 'stale' || this.nonceBeforeReauth(cred, creds.nonce))
      return { ok: false, response: outcomeResponse('stale_nonce', this.challenges(realm, true, ctx)) };
    // RFC 7616 §3.4: a nonce-count already seen for this nonce is a replay.
    if (!this.o.nonceCounts.accept(this.o.nonces.replayKey(creds.nonce), parseInt(creds.nc, 16))) {
      this.o.logger.warn({ event: 'sip_nonce_replay', sourceIp: ip, user: creds.username, realm }, 'SIP auth refused: nonce count replayed');
      return { ok: false, response: outcomeResponse('not_authorized', this.challenges(realm, false, ctx)) };
    }
    this.o.guard.trust(userKey, ip);
    return { ok: true, cred, authName: creds.username };
  }

  private verify(cred: SipCredential | null, authName: string, c: DigestCredentials, method: string): boolean {
    const alg = c.algorithm as DigestAlgorithm;
    if (!cred) {
      expectedDigestResponse(alg, this.decoyHa1.slice(0, alg === 'MD5' ? 32 : 64), method, c);
      return false;
    }
    const current = this.o.credentials.currentHa1(cred, authName);
    let ok = sameDigest(expectedDigestResponse(alg, alg === 'MD5' ? current.md5 : current.sha256, method, c), c.response);
    // Grace window after a rotation: the previous HA1 (username or extension) still works until the deadline.
    const previous = ok ? null : previousHa1(cred, authName, this.now());
    if (previous) {
      const prev = alg === 'MD5' ? previous.md5 : previous.sha256;
      if (prev) ok = sameDigest(expectedDigestResponse(alg, prev, method, c), c.response);
    }
    return ok;
  }

  /** A binding of this user was removed over the API after this nonce was issued: the device must take a new one. */
  private nonceBeforeReauth(cred: SipCredential, nonce: string): boolean {
    return cred.reauthAfter != null && this.o.nonces.issuedAt(nonce) < cred.reauthAfter;
  }

  private async failure(ctx: SipRequestContext, realm: string, user: string | undefined, reason: string, userKey?: string): Promise<AuthResult> {
    const ip = ctx.source.address;
    this.o.metrics.authFailures.inc();
    const key = userKey ?? (user !== undefined ? sipUserKey(realm, (await this.o.credentials.lookup(realm, user))?.userId, user) : undefined);
    const { ipBanned, ipBanStarted, usernameBlockStarted } = await this.o.guard.recordFailure(ip, key);
    // One line per failure, fail2ban-friendly: the msg is constant and sourceIp is a field.
    this.o.logger.warn(
      { event: 'sip_auth_failed', sourceIp: ip, sourcePort: ctx.source.port, transport: ctx.transport, user: user ?? null, realm, reason },
      `SIP auth failed from ${ip}`,
    );
    if (ipBanStarted) {
      this.o.metrics.bans.inc({ kind: 'ip' });
      this.o.logger.warn({ event: 'sip_ip_banned', sourceIp: ip }, `SIP source banned: ${ip}`);
    }
    if (usernameBlockStarted) {
      this.o.metrics.bans.inc({ kind: 'username' });
      this.o.logger.warn({ event: 'sip_username_blocked', user, realm }, 'SIP username temporarily blocked');
    }
    // A banned source (by this failure, or one on another node) already gets silence.
    if (ipBanned && ctx.transport === 'udp') return { ok: false, response: null };
    return { ok: false, response: outcomeResponse('not_authorized', this.challenges(realm, false, ctx)) };
  }

  private offered(ctx: SipRequestContext): readonly DigestAlgorithm[] {
    return ctx.transport === 'ws' || ctx.transport === 'wss' ? this.o.websocketAlgorithms : this.o.algorithms;
  }

  private challenges(realm: string, stale: boolean, ctx: SipRequestContext): Array<[string, string]> {
    const nonce = this.o.nonces.issue(realm);
    // RFC 8760 §2.4 / RFC 7616 §3.7: one challenge per algorithm, most preferred first.
    return this.offered(ctx).map((a) => ['WWW-Authenticate', digestChallenge(realm, nonce, a, stale)] as [string, string]);
  }

  // --- contacts and expiry (RFC 3261 §10.3 steps 6 and 7) ---

  private requestedContacts(
    req: SipRequest,
    ctx: SipRequestContext,
  ): { contacts: RequestedContact[] | 'wildcard' | 'query' } | { outcome: RegisterOutcome; response: SipResponseSpec } {
    const expiresHeader = req.header('expires');
    let headerExpires: number | undefined;
    if (expiresHeader !== undefined) {
      if (!/^\d{1,10}$/.test(expiresHeader.trim())) return this.answer('invalid_request', [], 'malformed Expires');
      headerExpires = Number(expiresHeader.trim());
    }
    if (req.callId.length > 255) return this.answer('invalid_request', [], 'Call-ID too long');
    const list = req.contacts();
    if (list === '*') {
      // RFC 3261 §10.3 step 6: "*" only with Expires: 0 and no other Contact.
      if (headerExpires !== 0) return this.answer('invalid_request', [], 'Contact: * needs Expires: 0');
      return { contacts: 'wildcard' };
    }
    if (list.length === 0) return { contacts: 'query' };
    const out: RequestedContact[] = [];
    for (const c of list) {
      const uri = parseSipUri(c.uri);
      if (!uri && !/^[a-z][a-z0-9+.-]*:/i.test(c.uri)) return this.answer('invalid_request', [], 'malformed Contact');
      const expParam = c.params['expires'];
      let expires: number;
      if (expParam !== undefined && expParam !== null) {
        if (!/^\d{1,10}$/.test(expParam)) return this.answer('invalid_request', [], 'malformed expires parameter');
        expires = Number(expParam);
      } else {
        // RFC 3261 §10.2.1.1: the contact parameter wins over the Expires header; without either, a locally configured default.
        expires = headerExpires ?? this.o.defaultExpires;
      }
      if (expires > 0 && expires < this.o.minExpires) {
        // RFC 3261 §10.3 step 7: "If and only if the requested expiration interval is greater than
        // zero AND smaller than one hour AND less than a registrar-configured minimum, the registrar
        // MAY reject the registration with a response of 423" — with Min-Expires (§20.23).
        return this.answer('interval_too_brief', [['Min-Expires', String(this.o.minExpires)]]);
      }
      // RFC 3261 §10.3 step 7: the registrar MAY shorten an interval that is too long.
      if (expires > this.o.maxExpires) expires = this.o.maxExpires;
      const transportMax = this.o.maxExpiresByTransport?.[ctx.transport];
      if (transportMax !== undefined && expires > transportMax) expires = transportMax;
      let q: number | null = null;
      const qParam = c.params['q'];
      if (qParam !== undefined) {
        // RFC 3261 §20.10 / §25.1 qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
        if (qParam === null || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(qParam)) return this.answer('invalid_request', [], 'malformed q value');
        q = Number(qParam);
      }
      const instance = c.params['+sip.instance'];
      const instanceId = instance ? instance.replace(/^"<?|>?"$/g, '') : null;
      const regIdText = c.params['reg-id'];
      let regId: number | null = null;
      if (regIdText !== undefined) {
        if (regIdText === null || !/^\d{1,9}$/.test(regIdText)) return this.answer('invalid_request', [], 'malformed reg-id');
        regId = Number(regIdText);
      }
      // The binding columns are bounded (MySQL would refuse the row): say so with a 400, not a 500.
      if (c.uri.length > 1024) return this.answer('invalid_request', [], 'Contact URI too long');
      if (instanceId && instanceId.length > 255) return this.answer('invalid_request', [], '+sip.instance too long');
      out.push({ uri: c.uri, raw: c.raw, expires, q, instanceId, regId });
    }
    return { contacts: out };
  }

  private answer(outcome: RegisterOutcome, headers: Array<[string, string]> = [], detail?: string) {
    return { outcome, response: outcomeResponse(outcome, headers, outcome === 'invalid_request' ? detail : undefined) };
  }
}

/** The Authorization line for our realm (a request may carry one per realm, RFC 3261 §22.4). */
function pickAuthorization(req: SipRequest, realm: string): string | undefined {
  const lines = req.headerValues('authorization');
  if (lines.length <= 1) return lines[0];
  return lines.find((l) => parseDigestCredentials(l)?.realm === realm) ?? lines[0];
}

function truncate<T extends string | null>(s: T, n: number): T {
  return (s === null ? null : s.slice(0, n)) as T;
}

/** A client-supplied value inside a reason phrase: bounded, and without characters a reason phrase may not hold (RFC 3261 §25.1). */
function quoteForReason(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 80)}...` : clean;
}

/** RFC 3261 §20.43: warn-code SP warn-agent SP warn-text; 399 = miscellaneous. */
function warning(text: string): string {
  return `399 switchboard "${text.replace(/["\\]/g, "'")}"`;
}

/**
 * The stored contact exactly as received, with its expires parameter
 * replaced by the remaining lifetime (RFC 3261 §10.3 step 8: the 200 lists
 * every current binding with an expires parameter).
 */
export function contactWithExpires(b: Pick<StoredBinding, 'expires_at' | 'contact_raw' | 'contact_uri'>, nowMs: number): string {
  const remaining = Math.max(0, Math.round((b.expires_at.getTime() - nowMs) / 1000));
  const raw = b.contact_raw;
  const bracketed = raw.indexOf(`<${b.contact_uri}>`);
  let head: string;
  let params: string;
  if (bracketed >= 0) {
    const end = bracketed + b.contact_uri.length + 2;
    head = raw.slice(0, end);
    params = raw.slice(end);
  } else {
    // addr-spec form: every ;param after the URI is a contact-param (RFC 3261 §20.10).
    head = `<${b.contact_uri}>`;
    params = raw.startsWith(b.contact_uri) ? raw.slice(b.contact_uri.length) : '';
  }
  params = params.replace(/\s*;\s*expires\s*=\s*[^;]*/gi, '').trimEnd();
  return `${head}${params};expires=${remaining}`;
}
