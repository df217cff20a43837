import { createRequire } from 'node:module';
import { z } from 'zod';
import { deepMerge } from './shared/deep-merge.js';

/**
 * Configuration is read once, from node-config files in config/ plus the
 * environment overrides in config/custom-environment-variables.json, validated
 * with zod and frozen. Nothing else in the code reads process.env.
 */
const SipListenerConfig = z.object({ enabled: z.boolean(), port: z.number().int().min(0).max(65535), host: z.string().optional() });
const SipTlsListenerConfig = SipListenerConfig.extend({ certFile: z.string(), keyFile: z.string() });

const ConfigSchema = z
  .object({
    env: z.enum(['development', 'test', 'production']),
    http: z.object({
      host: z.string().min(1),
      port: z.number().int().min(0).max(65535),
      trustProxy: z.boolean(),
      /** The built web console served at / (relative paths from the working directory); missing = API only. */
      consoleDir: z.string(),
    }),
    memory: z.object({
      /** How the V8 heap grows: 1 + heapGrowingPercent/100 times the live heap after each full GC; 0 leaves V8's own choice. */
      heapGrowingPercent: z.number().int().min(0).max(300),
      /** A SIP worker's young generation: V8's --max-semi-space-size in MB (0 leaves V8's 16). */
      workerSemiSpaceMb: z.number().int().min(0).max(64),
    }),
    database: z.object({
      url: z.string().min(1, 'DATABASE_URL (database.url) is required'),
      logging: z.boolean(),
      pool: z.object({ max: z.number().int().min(1) }),
      /** SQLite durability under WAL (see the README's "SQLite durability"): normal = a process crash loses nothing committed. */
      sqlite: z.object({ synchronous: z.enum(['normal', 'full']) }),
    }),
    secrets: z.object({
      /** base64 of 32 bytes; encrypts stored SIP passwords and OTP secrets (AES-256-GCM). */
      masterKey: z.string(),
      /** Where development keeps a generated key; empty disables generation. */
      masterKeyFile: z.string(),
      /** Comma-separated base64 keys still accepted for decryption while `keys rotate-master` runs. */
      previousMasterKeys: z.string(),
    }),
    auth: z.object({
      accessTokenTtlSeconds: z.number().int().min(60),
      bcryptRounds: z.number().int().min(4).max(15),
      throttle: z.object({
        usernameFailures: z.number().int().min(1),
        ipFailures: z.number().int().min(1),
        windowSeconds: z.number().int().min(1),
        blockSeconds: z.number().int().min(1),
      }),
    }),
    /** Failure throttles (login, OnCall PIN, SIP digest) shared by every node: Redis when url is set, else MySQL when that is the database, else in-process. */
    redis: z.object({
      url: z.string(),
      /** Prepended to every key, so several deployments (or test runs) can share one Redis. */
      keyPrefix: z.string(),
    }),
    accounts: z.object({
      extensionMinLength: z.number().int().min(1).max(15),
      extensionMaxLength: z.number().int().min(1).max(15),
    }),
    sip: z
      .object({
        /** After a SIP password rotation, the previous one still registers devices this long (0 = never). */
        passwordGraceSeconds: z.number().int().min(0),
        /** Which SIP edge serves SIP: built-in sockets, a drachtio-server through drachtio-srf, or none (HTTP only). */
        edge: z.enum(['builtin', 'drachtio', 'none']),
        /** Default bind address of every listener. */
        host: z.string().min(1),
        /** Host put in Via/Contact of requests we send; empty = the bind address. */
        advertisedHost: z.string(),
        /** Names this process in stored bindings (connection clean-up after restart); empty = hostname:udp-port. */
        nodeId: z.string(),
        /** Built-in edge only: run the registrar in this many cluster worker processes (0 = in the serve process). */
        workers: z.number().int().min(0).max(64),
        /**
         * The built-in edge's server transactions, per process: those in progress and the completed ones a UDP
         * answer is kept with for Timer J (32 s) to answer retransmissions; past it the oldest completed goes first.
         */
        transactions: z.object({ maxEntries: z.number().int().min(1024).max(1_048_576) }),
        /**
         * reusePort: with SIP workers, each binds a UDP socket of its own to the port (SO_REUSEPORT) and
         * the kernel keeps a source address and port on one worker; false shares one socket between them
         * (a single upstream flow, such as one SBC, then reaches every worker instead of one).
         */
        udp: SipListenerConfig.extend({ reusePort: z.boolean(), receiveBufferBytes: z.number().int().min(65_536).max(1_073_741_824) }),
        tcp: SipListenerConfig,
        /** TLS starts only when certFile and keyFile are set. */
        tls: SipTlsListenerConfig,
        ws: SipListenerConfig,
        /** WSS starts only when certFile and keyFile are set. */
        wss: SipTlsListenerConfig,
        registrar: z.object({
          minExpires: z.number().int().min(1),
          defaultExpires: z.number().int().min(1),
          maxExpires: z.number().int().min(1),
          sweepIntervalSeconds: z.number().int().min(1),
          /** Remove a binding made over TCP/TLS/WS/WSS without Path when that connection closes. */
          removeOnConnectionClose: z.boolean(),
          /** Credential rows are cached this long; safe to keep long: every binding decision re-reads the user's version with the bindings and re-authenticates from the database when it moved. */
          credentialCacheSeconds: z.number().min(0),
          /** MySQL: REGISTERs of different users written in one transaction (group commit), and how many such transactions run at once. */
          writeBatch: z.object({ maxSize: z.number().int().min(1).max(500), concurrency: z.number().int().min(1).max(64) }),
          /**
           * MySQL: plain refreshes (same device, same address) answered from an
           * unlocked read and written in one transaction every flushMs; only
           * while the binding's stored expiry is more than safetySeconds away,
           * so the database never shows a live binding as expired.
           */
          refreshWriteBehind: z
            .object({
              enabled: z.boolean(),
              flushMs: z.number().int().min(10).max(10_000),
              safetySeconds: z.number().int().min(5),
              maxBatch: z.number().int().min(1).max(5000),
            })
            .refine((w) => w.safetySeconds * 1000 >= 5 * w.flushMs, {
              message: 'safetySeconds must be at least five flush intervals',
              path: ['safetySeconds'],
            }),
          /**
           * REGISTERs one process works on at once; past it a REGISTER gets 503 with
           * Retry-After (RFC 3261 §21.5.4) at once instead of queueing past the phone's timeout.
           */
          overload: z.object({
            maxInFlight: z.number().int().min(1),
            targetLatencyMs: z.number().int().min(1),
            /** 0 (default) turns the queue rule off; T1 (500 ms) is where phones start retransmitting what waits. */
            maxQueueWaitMs: z.number().int().min(0).max(60_000),
            retryAfterSeconds: z.number().int().min(1).max(3600),
          }),
        }),
        /** OPTIONS qualify of bindings (evict_unreachable needs it; on the drachtio edge it is how dead WS bindings are found). */
        qualify: z.object({
          enabled: z.boolean(),
          /** Each binding is probed again once its last probe is older than this. */
          intervalSeconds: z.number().int().min(5),
          /** How often the sweeper looks for bindings due a probe. */
          tickSeconds: z.number().int().min(1),
          /** Most bindings probed per tick per node. */
          batchSize: z.number().int().min(1),
          /** Probes in flight at once. */
          concurrency: z.number().int().min(1),
          /** Built-in edge: no final answer by then = unreachable (drachtio: sip.drachtio.qualifyTimeoutMs). */
          timeoutMs: z.number().int().min(100),
          /** Remove a binding after two unanswered probes in a row: on the drachtio edge only (default; it sees no connection close), always, or never. */
          removeUnreachable: z.enum(['never', 'drachtio', 'always']),
        }),
        /** Voicemail message-waiting (RFC 3842): unsolicited NOTIFYs and SUBSCRIBE. */
        mwi: z.object({
          enabled: z.boolean(),
          /** How often each node looks for counts changed through any node (the mwi_changes table). */
          pollMs: z.number().int().min(20),
          /** NOTIFYs in flight at once per node. */
          concurrency: z.number().int().min(1),
          /** mwi_changes rows older than this are deleted (every node has read them long before). */
          retainSeconds: z.number().int().min(60),
          /** SUBSCRIBE Expires bounds (RFC 6665 §4.2.1.1): below min → 423 with Min-Expires, above max → shortened, none → default. */
          minExpires: z.number().int().min(1),
          defaultExpires: z.number().int().min(1),
          maxExpires: z.number().int().min(1),
        }),
        digest: z.object({
          /** HMAC key of the stateless nonces; empty = derived from the master key (same on every node). */
          nonceSecret: z.string(),
          nonceTtlSeconds: z.number().int().min(5),
          /** Challenges offered, most preferred first (RFC 8760 §2.4). Default MD5 first: sip.js and sipp take the first challenge and give up on SHA-256. */
          algorithms: z.array(z.enum(['SHA-256', 'MD5'])).min(1),
          /** Challenges over WS/WSS: sip.js 0.21 and JsSIP read one challenge and abort on anything but MD5. */
          websocketAlgorithms: z.array(z.enum(['SHA-256', 'MD5'])).min(1),
          /** User-Agent substrings (case-insensitive) challenged with MD5 only: baresip's libre aborts on a SHA-256 challenge. */
          md5OnlyUserAgents: z.array(z.string()),
          /** Nonces whose highest nonce-count is remembered (in-process LRU). */
          nonceCountCacheSize: z.number().int().min(100),
        }),
        protection: z.object({
          ipFailures: z.number().int().min(1),
          usernameFailures: z.number().int().min(1),
          windowSeconds: z.number().int().min(1),
          banSeconds: z.number().int().min(1),
          /** A source that authenticated as a user this recently keeps registering while that user is blocked (0 = no exception). */
          trustedSourceSeconds: z.number().int().min(0),
          /** User-Agent substrings (case-insensitive) whose requests are dropped silently; [] disables. */
          scannerUserAgents: z.array(z.string().min(1)),
        }),
        drachtio: z
          .object({
            /** inbound: we connect to drachtio-server's admin port; outbound: it connects to listenPort. */
            mode: z.enum(['inbound', 'outbound']),
            host: z.string().min(1),
            port: z.number().int().min(1).max(65535),
            secret: z.string(),
            listenHost: z.string().min(1),
            listenPort: z.number().int().min(0).max(65535),
            /** Granted expiry cap for WS/WSS bindings: drachtio-server does not report connection close. */
            wsMaxExpires: z.number().int().min(60),
            /** OPTIONS qualify answer timeout. */
            qualifyTimeoutMs: z.number().int().min(100),
            reconnectMinMs: z.number().int().min(10),
            reconnectMaxMs: z.number().int().min(10),
            /** Delay cap for the first reconnectFastWindowMs of an outage (a restart comes back within seconds). */
            reconnectFastMs: z.number().int().min(10),
            reconnectFastWindowMs: z.number().int().min(0),
          })
          .refine((d) => d.reconnectMaxMs >= d.reconnectMinMs, { message: 'reconnectMaxMs must be at least reconnectMinMs', path: ['reconnectMaxMs'] }),
      })
      .passthrough()
      .refine((s) => s.edge !== 'drachtio' || s.drachtio.secret !== '', {
        message: 'DRACHTIO_SECRET (sip.drachtio.secret) is required when SIP_EDGE=drachtio',
        path: ['drachtio', 'secret'],
      }),
    smtp: z.object({
      /** smtp://user:pass@host:port or smtps://… (SMTP_URL); when set it overrides every other smtp setting. */
      url: z.string().refine((u) => u === '' || /^smtps?:\/\/[^\s]+$/.test(u), 'must be empty or smtp://user:pass@host:port (smtps:// for TLS)'),
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535),
      /** true = TLS from the first byte (port 465); false = STARTTLS when the server offers it. */
      secure: z.boolean(),
      auth: z.object({ user: z.string(), pass: z.string() }),
      from: z.string().min(3),
      timeoutMs: z.number().int().min(100),
    }),
    jobs: z.object({
      /** Runs the node-cron jobs inside `serve`; turn off on nodes that should only answer HTTP/SIP. */
      enabled: z.boolean(),
      oncallReminders: z.object({
        /** node-cron expression; every minute by default. */
        schedule: z.string().min(9),
        batchSize: z.number().int().min(1).max(100_000),
        /** Emails in flight at once (the SMTP pool size). */
        concurrency: z.number().int().min(1).max(100),
        /** A claim older than this is presumed dead (crashed process) and the reminder is retried. */
        leaseSeconds: z.number().int().min(10),
        /** A reminder sent more than this after its time is marked late. */
        lateGraceSeconds: z.number().int().min(0),
        /** A reminder not sent by this long after its shift started is skipped (reason too_late) instead of sent. */
        maxLateMinutes: z.number().int().min(0),
        retryBaseSeconds: z.number().int().min(1),
        retryMaxSeconds: z.number().int().min(1),
      }),
    }),
    oncall: z.object({
      /** How far ahead rotations are materialised into shifts. */
      rotationHorizonDays: z.number().int().min(1).max(366),
      pinThrottle: z.object({
        userFailures: z.number().int().min(1),
        ipFailures: z.number().int().min(1),
        windowSeconds: z.number().int().min(1),
        blockSeconds: z.number().int().min(1),
      }),
    }),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) }),
    mail: z.object({
      /** From: of invitation emails; the OnCall reminders keep smtp.from. */
      invitationFrom: z.string().min(3),
    }),
    /** Base URL people open (invitation links, logo URLs). */
    publicUrl: z.string().url(),
    invitations: z.object({
      ttlHours: z
        .number()
        .int()
        .min(1)
        .max(24 * 30),
    }),
    callPlans: z.object({
      /** Users whose call-plan profile a process keeps (each entry is checked against the database on every read). */
      cacheMaxEntries: z.number().int().min(1),
      /** Dialled strings that are emergency calls. */
      emergencyNumbers: z.array(z.string().regex(/^\d{2,6}$/)).min(1),
      freeswitch: z.object({
        profile: z.string().min(1),
        gateway: z.string().min(1),
        emergencyGateway: z.string().min(1),
        announcement: z.string().min(1),
        voicemailProfile: z.string().min(1),
      }),
    }),
    telephony: z.object({
      /** Carrier API roots; tests point them at loopback servers. */
      twilioApiBaseUrl: z.string().url(),
      telnyxApiBaseUrl: z.string().url(),
      plivoApiBaseUrl: z.string().url(),
      requestTimeoutMs: z.number().int().min(100).max(120_000),
      /** Further attempts after a 429, 5xx or network failure, with exponential backoff (Retry-After honoured). */
      maxRetries: z.number().int().min(0).max(10),
      retryBaseMs: z.number().int().min(1),
      retryMaxMs: z.number().int().min(1),
      /** Each carrier's numbers are imported again this often (0 = only on create and on demand). */
      syncIntervalMinutes: z.number().int().min(0),
      syncTickSeconds: z.number().int().min(1),
      /** SIP trunk registration (sip/trunks): one node per trunk holds a lease in the database. */
      trunks: z.object({
        enabled: z.boolean(),
        /** How often each node looks for trunks to register, refresh, take over or unregister. */
        tickSeconds: z.number().min(0.05),
        leaseSeconds: z.number().int().min(2),
        /** A registration is refreshed this long before it expires (at the latest at half its lifetime). */
        refreshBeforeSeconds: z.number().int().min(1),
        /** Between refreshes, the trunk's bindings are listed this often to notice a carrier that forgot us. */
        verifySeconds: z.number().min(0.05),
        retryMinSeconds: z.number().min(0.05),
        retryMaxSeconds: z.number().min(0.05),
        /** RFC 3261 §17.1.2.2 Timer F (64·T1 by default). */
        transactionTimeoutMs: z.number().int().min(100),
        t1Ms: z.number().int().min(10),
        /** PEM file of CAs trusted for TLS trunks besides Node's public roots (a carrier with a private CA); empty = the public roots only. */
        tlsCaFile: z.string(),
      }),
    }),
    usage: z.object({
      /** How often each process writes its buffered usage into the daily rows (and at shutdown). */
      flushIntervalMs: z.number().int().min(50).max(300_000),
      /** Distinct (account, user, type, day) amounts one process holds between flushes; past it new keys are dropped (and counted). */
      maxBufferedKeys: z.number().int().min(100),
      /** Live bindings are counted into active_devices_peak this often (where jobs run; 0 = only at REGISTER time). */
      devicesSampleSeconds: z.number().int().min(0),
      /** SMS messages (received + sent) per account and UTC month past which the billing contacts get one email; 0 = off. */
      smsMonthlyThreshold: z.number().int().min(0),
      /** From: of the threshold email. */
      alertFrom: z.string().min(3),
      alertLeaseSeconds: z.number().int().min(5),
      /** After a failed send the email is tried again this much later. */
      alertRetrySeconds: z.number().int().min(1),
      alertMaxAttempts: z.number().int().min(1),
    }),
    messaging: z.object({
      /** Longest SMS body accepted (characters); carriers concatenate up to about ten segments. */
      maxBodyLength: z.number().int().min(1).max(10_000),
      /** Telnyx webhooks whose telnyx-timestamp is further off than this are refused (replay). */
      telnyxToleranceSeconds: z.number().int().min(1),
      /** Timer F of the SIP MESSAGE to each of the recipient's devices (RFC 3261 §17.1.2.2, 64·T1 by default): no final answer by then = failed, 408. */
      deviceTimeoutMs: z.number().int().min(100).max(120_000),
      outbox: z.object({
        /** Run the SMS sender job in this process (`serve`, with jobs.enabled). */
        enabled: z.boolean(),
        intervalMs: z.number().int().min(50),
        batchSize: z.number().int().min(1).max(1000),
        /** A claimed send not finished by then is presumed dead (crashed node) and tried again. */
        leaseSeconds: z.number().int().min(5),
        retryBaseMs: z.number().int().min(1),
        retryMaxMs: z.number().int().min(1),
        /** Attempts after which a send that keeps meeting 429/5xx is failed (provider_unavailable). */
        maxAttempts: z.number().int().min(1).max(100),
      }),
    }),
    webhooks: z.object({
      /** Lets webhooks target 127.0.0.0/8 and ::1 (tests only). Private, link-local and metadata ranges stay refused. */
      allowLoopbackTargets: z.boolean(),
      /** Lets webhooks target RFC 1918 and unique-local addresses, for receivers on an on-premises network. Off by default. */
      allowPrivateTargets: z.boolean(),
      requestTimeoutMs: z.number().int().min(100).max(60_000),
      maxResponseBytes: z.number().int().min(0).max(1_048_576),
      /** A delivery is retried with exponential backoff until it is this old (at least 24 h). */
      retryWindowSeconds: z.number().int().min(86_400),
      backoffBaseSeconds: z.number().int().min(1),
      backoffMaxSeconds: z.number().int().min(1),
      leaseSeconds: z.number().int().min(5),
      delivery: z.object({
        /** Run the delivery job in this process (`serve`); tests drive it by hand. */
        enabled: z.boolean(),
        intervalMs: z.number().int().min(100),
        batchSize: z.number().int().min(1).max(500),
      }),
    }),
  })
  .passthrough();

export type AppConfig = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {}

/** Validates a plain object (used directly by tests that need a variant). */
export function parseConfig(raw: unknown): AppConfig {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return deepFreeze(result.data);
}

/** Loads node-config (NODE_ENV picks config/<env>.json) and validates it. */
export function loadConfig(overrides: Record<string, unknown> = {}): AppConfig {
  const require = createRequire(import.meta.url);
  const nodeConfig = require('config') as { util: { toObject(o?: unknown): Record<string, unknown> } };
  const raw = structuredClone(nodeConfig.util.toObject());
  return parseConfig(deepMerge(raw, overrides));
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
