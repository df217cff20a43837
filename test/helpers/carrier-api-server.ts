import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { plivoSignatureV3, twilioSignature } from '../../src/messaging/carrier-webhooks.js';

/**
 * A loopback server speaking the documented REST shapes of Twilio (2010-04-01),
 * Telnyx (v2) and Plivo (v1) for the calls Switchboard makes: the account
 * read that checks credentials, and the paged number lists. It serves fewer
 * numbers per page than asked (as the carriers do at their maximum), so a
 * handful of numbers spans several pages.
 */
export interface CarrierNumberFixture {
  number: string;
  name?: string;
  voice?: boolean;
  sms?: boolean;
  mms?: boolean;
  fax?: boolean;
}

export interface CarrierApiServer {
  baseUrl: string;
  twilio: { sid: string; token: string; numbers: CarrierNumberFixture[] };
  telnyx: { apiKey: string; numbers: CarrierNumberFixture[] };
  plivo: { authId: string; token: string; numbers: CarrierNumberFixture[] };
  /** Numbers per page the server returns at most. */
  pageSize: number;
  /** The next N requests whose path contains the substring answer 429 with Retry-After: 1. */
  throttleNext(pathPart: string, times: number): void;
  /** Every request whose path contains the substring answers 503 until cleared. */
  failWith503(pathPart: string | null): void;
  /** Every request whose path contains the substring has its connection cut without an answer until cleared. */
  dropConnections(pathPart: string | null): void;
  /** Paths seen, in order. */
  requests: string[];
  /** Messages the carriers accepted (POST …/Messages.json, /v2/messages, …/Message/), in order. */
  sent: SentSms[];
  /** Destinations every carrier refuses as its API does an invalid or blocked number. */
  refusedDestinations: Set<string>;
  /** The Telnyx account's Ed25519 key pair: the public key (base64, 32 bytes) goes into the provider's settings. */
  telnyxPublicKey: string;
  /** What each carrier's webhook request carries, signed as that carrier signs it. */
  webhook: {
    twilio(url: string, form: Record<string, string>): { headers: Record<string, string>; body: string };
    plivo(url: string, form: Record<string, string>): { headers: Record<string, string>; body: string };
    telnyx(event: unknown, at?: Date): { headers: Record<string, string>; body: string };
  };
  stop(): Promise<void>;
}

export interface SentSms {
  carrier: 'twilio' | 'telnyx' | 'plivo';
  id: string;
  from: string;
  to: string;
  body: string;
  callback: string | null;
}

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

export async function startCarrierApiServer(): Promise<CarrierApiServer> {
  const throttles: Array<{ part: string; left: number }> = [];
  let failing: string | null = null;
  let dropping: string | null = null;
  const telnyxKeys = crypto.generateKeyPairSync('ed25519');
  const telnyxPublicKey = Buffer.from(telnyxKeys.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64');
  const formBody = (form: Record<string, string>) => new URLSearchParams(form).toString();
  const state: CarrierApiServer = {
    baseUrl: '',
    twilio: { sid: `AC${hex(32)}`, token: hex(32), numbers: [] },
    telnyx: { apiKey: `KEY${hex(24)}`, numbers: [] },
    plivo: { authId: `MA${hex(18).toUpperCase()}`, token: hex(40), numbers: [] },
    pageSize: 2,
    throttleNext: (part, times) => throttles.push({ part, left: times }),
    failWith503: (part) => (failing = part),
    dropConnections: (part) => (dropping = part),
    requests: [],
    sent: [],
    refusedDestinations: new Set(),
    telnyxPublicKey,
    webhook: {
      // https://www.twilio.com/docs/usage/webhooks/webhooks-security
      twilio: (url, form) => ({
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(state.twilio.token, url, Object.entries(form)) },
        body: formBody(form),
      }),
      // Plivo signature V3: X-Plivo-Signature-V3 + X-Plivo-Signature-V3-Nonce
      plivo: (url, form) => {
        const nonce = String(Math.floor(Math.random() * 1e16));
        return {
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-plivo-signature-v3-nonce': nonce,
            'x-plivo-signature-v3': plivoSignatureV3(state.plivo.token, url, Object.entries(form), nonce),
          },
          body: formBody(form),
        };
      },
      // Telnyx API v2 webhooks: Ed25519 over "timestamp|body"
      telnyx: (event, at = new Date()) => {
        const body = JSON.stringify(event);
        const ts = String(Math.floor(at.getTime() / 1000));
        const sig = crypto.sign(null, Buffer.from(`${ts}|${body}`), telnyxKeys.privateKey).toString('base64');
        return { headers: { 'content-type': 'application/json', 'telnyx-signature-ed25519': sig, 'telnyx-timestamp': ts }, body };
      },
    },
    stop: async () => {},
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  const handle = (req: http.IncomingMessage, res: http.ServerResponse, rawBody: string) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    state.requests.push(url.pathname + url.search);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const t = throttles.find((x) => x.left > 0 && url.pathname.includes(x.part));
    if (t) {
      t.left -= 1;
      return send(429, { code: 20429, message: 'Too Many Requests', status: 429 }, { 'retry-after': '1' });
    }
    if (dropping && url.pathname.includes(dropping)) return req.socket.destroy();
    if (failing && url.pathname.includes(failing)) return send(503, { message: 'Service Unavailable' });
    const auth = req.headers.authorization ?? '';
    const basic = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : '';

    // Sending SMS: Twilio Messages.json (form), Telnyx /v2/messages (JSON), Plivo Message/ (JSON, numbers without "+").
    if (req.method === 'POST') {
      const twm = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(url.pathname);
      if (twm) {
        const [sid, ...rest] = basic.split(':');
        if (sid !== state.twilio.sid || rest.join(':') !== state.twilio.token || twm[1] !== sid)
          return send(401, { code: 20003, message: 'Authenticate', status: 401 });
        const f = new URLSearchParams(rawBody);
        const to = f.get('To') ?? '';
        if (state.refusedDestinations.has(to))
          return send(400, {
            code: 21211,
            message: `The 'To' number ${to} is not a valid phone number.`,
            more_info: 'https://www.twilio.com/docs/errors/21211',
            status: 400,
          });
        const id = `SM${hex(32)}`;
        state.sent.push({ carrier: 'twilio', id, from: f.get('From') ?? '', to, body: f.get('Body') ?? '', callback: f.get('StatusCallback') });
        return send(201, {
          sid: id,
          account_sid: sid,
          from: f.get('From'),
          to,
          body: f.get('Body'),
          status: 'queued',
          num_segments: '1',
          direction: 'outbound-api',
        });
      }
      if (url.pathname === '/v2/messages') {
        if (auth !== `Bearer ${state.telnyx.apiKey}`) return send(401, { errors: [{ code: '10009', title: 'Authentication failed' }] });
        const j = JSON.parse(rawBody || '{}') as { from?: string; to?: string; text?: string; webhook_url?: string };
        if (state.refusedDestinations.has(j.to ?? ''))
          return send(422, { errors: [{ code: '40310', title: "Invalid 'to' address", detail: 'The destination number is invalid.' }] });
        const id = crypto.randomUUID();
        state.sent.push({ carrier: 'telnyx', id, from: j.from ?? '', to: j.to ?? '', body: j.text ?? '', callback: j.webhook_url ?? null });
        return send(200, {
          data: {
            record_type: 'message',
            id,
            direction: 'outbound',
            from: { phone_number: j.from },
            to: [{ phone_number: j.to, status: 'queued' }],
            text: j.text,
            parts: 1,
          },
        });
      }
      const plm = /^\/v1\/Account\/([^/]+)\/Message\/$/.exec(url.pathname);
      if (plm) {
        const [id, ...rest] = basic.split(':');
        if (id !== state.plivo.authId || rest.join(':') !== state.plivo.token || plm[1] !== id)
          return send(401, { api_id: hex(8), error: 'Authentication credentials invalid.' });
        const j = JSON.parse(rawBody || '{}') as { src?: string; dst?: string; text?: string; url?: string };
        if (state.refusedDestinations.has(`+${j.dst ?? ''}`)) return send(400, { api_id: hex(8), error: 'dst parameter not valid' });
        const uuid = crypto.randomUUID();
        state.sent.push({ carrier: 'plivo', id: uuid, from: `+${j.src ?? ''}`, to: `+${j.dst ?? ''}`, body: j.text ?? '', callback: j.url ?? null });
        return send(202, { api_id: hex(8), message: 'message(s) queued', message_uuid: [uuid] });
      }
    }

    // Twilio: https://www.twilio.com/docs/usage/api, errors {code,message,more_info,status}
    const tw = /^\/2010-04-01\/Accounts\/([^/]+?)(\.json|\/IncomingPhoneNumbers\.json)$/.exec(url.pathname);
    if (tw) {
      const [sid, ...rest] = basic.split(':');
      if (sid !== state.twilio.sid || rest.join(':') !== state.twilio.token) {
        return send(401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
      }
      if (tw[1] !== sid) return send(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
      if (tw[2] === '.json') return send(200, { sid, friendly_name: 'My account', status: 'active', type: 'Full' });
      const size = Math.min(Number(url.searchParams.get('PageSize') ?? 50), state.pageSize);
      const page = Number(url.searchParams.get('Page') ?? 0);
      const slice = state.twilio.numbers.slice(page * size, page * size + size);
      const more = (page + 1) * size < state.twilio.numbers.length;
      const base = `/2010-04-01/Accounts/${sid}/IncomingPhoneNumbers.json`;
      return send(200, {
        first_page_uri: `${base}?PageSize=${size}&Page=0`,
        next_page_uri: more ? `${base}?PageSize=${size}&Page=${page + 1}&PageToken=PA${hex(32)}` : null,
        previous_page_uri: page > 0 ? `${base}?PageSize=${size}&Page=${page - 1}` : null,
        page,
        page_size: size,
        start: page * size,
        end: page * size + slice.length - 1,
        uri: `${base}?PageSize=${size}&Page=${page}`,
        incoming_phone_numbers: slice.map((n) => ({
          sid: `PN${hex(32)}`,
          account_sid: sid,
          phone_number: n.number,
          friendly_name: n.name ?? n.number,
          capabilities: { voice: n.voice ?? true, sms: n.sms ?? false, mms: n.mms ?? false, fax: n.fax ?? false },
          status: 'in-use',
        })),
      });
    }

    // Telnyx: Bearer key, errors {errors:[{code,title,detail}]}, meta {page_number,page_size,total_pages,total_results}
    if (url.pathname === '/v2/balance' || url.pathname === '/v2/phone_numbers') {
      if (auth !== `Bearer ${state.telnyx.apiKey}`) {
        return send(401, {
          errors: [{ code: '10009', title: 'Authentication failed', detail: 'The API key looks malformed. Check that you copied it correctly.' }],
        });
      }
      if (url.pathname === '/v2/balance') return send(200, { data: { record_type: 'balance', balance: '300.00', currency: 'USD' } });
      const size = Math.min(Number(url.searchParams.get('page[size]') ?? 20), state.pageSize);
      const pageNumber = Number(url.searchParams.get('page[number]') ?? 1);
      const all = state.telnyx.numbers;
      const slice = all.slice((pageNumber - 1) * size, pageNumber * size);
      return send(200, {
        data: slice.map((n) => ({
          id: hex(16),
          record_type: 'phone_number',
          phone_number: n.number,
          status: 'active',
          tags: [],
          customer_reference: n.name ?? null,
          connection_id: '1293384261075731499',
          messaging_profile_id: n.sms ? '3fa85f64-5717-4562-b3fc-2c963f66afa6' : null,
          t38_fax_gateway_enabled: n.fax ?? false,
        })),
        meta: { total_pages: Math.max(1, Math.ceil(all.length / size)), total_results: all.length, page_number: pageNumber, page_size: size },
      });
    }

    // Plivo: Basic auth_id:auth_token, meta {limit,next,offset,previous,total_count}, numbers without "+"
    const pl = /^\/v1\/Account\/([^/]+)\/(Number\/)?$/.exec(url.pathname);
    if (pl) {
      const [id, ...rest] = basic.split(':');
      if (id !== state.plivo.authId || rest.join(':') !== state.plivo.token || pl[1] !== id) {
        return send(401, { api_id: hex(8), error: 'Authentication credentials invalid.' });
      }
      if (!pl[2]) return send(200, { api_id: hex(8), auth_id: id, name: 'My account', account_type: 'standard', resource_uri: `/v1/Account/${id}/` });
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 20), state.pageSize);
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const all = state.plivo.numbers;
      const slice = all.slice(offset, offset + limit);
      const base = `/v1/Account/${id}/Number/`;
      return send(200, {
        api_id: hex(8),
        meta: {
          limit,
          next: offset + limit < all.length ? `${base}?limit=${limit}&offset=${offset + limit}` : null,
          offset,
          previous: offset > 0 ? `${base}?limit=${limit}&offset=${Math.max(0, offset - limit)}` : null,
          total_count: all.length,
        },
        objects: slice.map((n) => ({
          number: n.number.replace(/^\+/, ''),
          alias: n.name ?? null,
          voice_enabled: n.voice ?? true,
          sms_enabled: n.sms ?? false,
          mms_enabled: n.mms ?? false,
          resource_uri: `${base}${n.number.replace(/^\+/, '')}/`,
        })),
      });
    }
    send(404, { message: 'not found' });
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}
