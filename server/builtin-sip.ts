import { readFileSync } from 'node:fs';
import type { SipServices } from '../src/sip-runtime.js';
import { resolveMasterKey } from '../src/crypto/master-key.js';
import { BuiltinSipEdge, type BoundSipListener, type SipListenerOptions } from '../sip/edges/builtin/builtin-sip-edge.js';
import { BuiltinQualifySender } from '../sip/edges/builtin/builtin-qualify-sender.js';
import { RegistrarRuntime } from '../sip/registrar/registrar-runtime.js';
import type { SipAddress, SipTransportName } from '../sip/message/types.js';
import { BuiltinRequestPort } from '../sip/edges/builtin/builtin-request-port.js';
import { TrunkRegistrarClient } from '../sip/trunks/trunk-registrar-client.js';
import { BuiltinDeviceRequestPort } from '../sip/edges/builtin/builtin-device-request-port.js';
import type { DeviceRequest, DeviceResponse } from '../sip/registrar/device-request-port.js';
import { SipDeviceMessenger } from '../sip/messaging/sip-device-messenger.js';
import { loadUdpSocketAddon } from '../sip/transports/udp-socket-addon.js';

export interface BuiltinSip {
  runtime: RegistrarRuntime;
  qualify: BuiltinQualifySender;
  /** Requests to registered devices (MWI NOTIFY, MESSAGE, OPTIONS) over this process's sockets. */
  devices: BuiltinDeviceRequestPort;
  /** Requests this process originates (trunk REGISTERs); a relayed response goes to onResponse. */
  requests: BuiltinRequestPort;
  /** SIP trunk registrations (null when telephony.trunks.enabled is false). */
  trunks: TrunkRegistrarClient | null;
  boundAddresses(): BoundSipListener[];
  stop(): Promise<void>;
}

/**
 * The registrar on the built-in edge, as one process runs it: in `serve`
 * itself, or in each SIP worker. `onUnmatchedResponse` receives responses
 * no transaction of this process waits for (in a worker: an OPTIONS answer
 * whose flow the kernel hashed to another worker of the UDP port).
 */
export async function startBuiltinSip(
  services: SipServices,
  opts: {
    onUnmatchedResponse?: (text: string, source: SipAddress, transport: SipTransportName) => void;
    socketSiblings?: string[];
    /** SIP workers: sends a device request on a connection a sibling worker holds (through the primary). */
    relayDeviceRequest?: (nodeId: string, request: DeviceRequest) => Promise<DeviceResponse>;
    /**
     * Deliver inbound SMS to phones through this process's port (default). A SIP worker does not: the carrier's
     * webhook reaches the primary, which hands each MESSAGE to a worker itself (server/primary-device-port.ts).
     */
    smsToDevices?: boolean;
    /**
     * How the UDP listener gets its socket: its own (default: `serve`), its own with SO_REUSEPORT (a SIP worker,
     * server/sip-workers.ts), or the one Node's cluster shares between SIP workers where SO_REUSEPORT is unavailable.
     */
    udpSocket?: 'own' | 'reusePort' | 'cluster';
  } = {},
): Promise<BuiltinSip> {
  const { config } = services;
  const s = config.sip;
  const sipLogger = services.logger.child({ component: 'sip' });
  const runtime = new RegistrarRuntime({
    db: services.db,
    config,
    secrets: services.secrets,
    logger: sipLogger,
    masterKey: resolveMasterKey(config),
    outbox: services.webhookOutbox,
    usage: services.usage.recorder,
    ...(services.messages ? { messages: services.messages } : {}),
    edge: 'builtin',
    ...(opts.socketSiblings ? { socketSiblings: opts.socketSiblings } : {}),
  });
  await runtime.start();
  const udpSocket = opts.udpSocket ?? 'own';
  const loaded = udpSocket === 'cluster' ? null : loadUdpSocketAddon();
  if (loaded && !loaded.addon && s.udp.enabled)
    sipLogger.warn({ reason: loaded.reason }, 'native UDP socket addon unavailable: the overload gate cannot see the UDP receive queue');
  const listeners: SipListenerOptions[] = [
    {
      transport: 'udp',
      port: s.udp.port,
      host: s.udp.host ?? s.host,
      enabled: s.udp.enabled,
      ...(loaded?.addon ? { addon: loaded.addon, reusePort: udpSocket === 'reusePort' } : {}),
    },
    { transport: 'tcp', port: s.tcp.port, host: s.tcp.host ?? s.host, enabled: s.tcp.enabled },
    { transport: 'ws', port: s.ws.port, host: s.ws.host ?? s.host, enabled: s.ws.enabled },
  ];
  // TLS and WSS start only when a certificate is configured.
  for (const t of ['tls', 'wss'] as const) {
    const l = s[t];
    if (l.enabled && l.certFile && l.keyFile)
      listeners.push({ transport: t, port: l.port, host: l.host ?? s.host, tls: { certPath: l.certFile, keyPath: l.keyFile } });
  }
  const devices = new BuiltinDeviceRequestPort({
    nodeId: runtime.nodeId,
    ...(opts.relayDeviceRequest ? { relay: opts.relayDeviceRequest } : {}),
  });
  const qualify = new BuiltinQualifySender({ timeoutMs: s.qualify.timeoutMs, port: devices });
  const unmatched = opts.onUnmatchedResponse;
  const t = config.telephony.trunks;
  const requests = new BuiltinRequestPort({
    t1Ms: t.t1Ms,
    timeoutMs: t.transactionTimeoutMs,
    ...(t.tlsCaFile ? { extraCa: readFileSync(t.tlsCaFile, 'utf8') } : {}),
  });
  const edge = new BuiltinSipEdge({
    onResponse: (text, source, transport) => {
      if (requests.onResponse(text) || devices.onResponse(text)) return;
      unmatched?.(text, source, transport);
    },
    handler: runtime.handler,
    events: {
      connectionClosed: (connectionId) => {
        devices.connectionClosed(connectionId);
        runtime.events.connectionClosed(connectionId);
      },
    },
    isBanned: runtime.isBanned,
    listeners,
    host: s.host,
    logger: sipLogger,
    limits: { udpReceiveBufferBytes: s.udp.receiveBufferBytes },
    maxTransactions: s.transactions.maxEntries,
    ...(s.advertisedHost ? { advertisedHost: s.advertisedHost } : {}),
  });
  try {
    await edge.start();
  } catch (err) {
    await runtime.stop();
    throw err;
  }
  devices.attach(edge);
  requests.attach(edge);
  // Inbound SMS reach the phones as SIP MESSAGE through this process's sockets.
  const messenger =
    opts.smsToDevices === false ? undefined : new SipDeviceMessenger(services.db.models, devices, { timeoutMs: config.messaging.deviceTimeoutMs });
  if (messenger) services.messages?.attachDeviceMessenger(messenger);
  runtime.startQualify(qualify);
  await runtime.startMwi(devices);
  // In SIP workers each worker runs a client too: the lease in the database already makes one of them the holder
  // (as between nodes), and when that worker dies another takes the trunk over once the lease runs out. Its UDP
  // answers reach the worker the carrier's flow hashes to; the others relay them (sip-worker.ts).
  const trunks = t.enabled
    ? new TrunkRegistrarClient({ db: services.db, secrets: services.secrets, outbox: services.webhookOutbox, port: requests, settings: t, logger: sipLogger })
    : null;
  trunks?.start();
  return {
    runtime,
    qualify,
    devices,
    requests,
    trunks,
    boundAddresses: () => edge.boundAddresses(),
    stop: async () => {
      if (messenger) services.messages?.detachDeviceMessenger(messenger);
      await trunks?.stop();
      requests.close();
      await edge.stop();
      await runtime.stop();
    },
  };
}
