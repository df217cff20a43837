import { resolveMasterKey } from '../src/crypto/master-key.js';
import type { Services } from '../src/services.js';
import type { ServerComponent } from '../src/main.js';
import { BuiltinSipEdge, type SipListenerOptions } from '../sip/edges/builtin/builtin-sip-edge.js';
import { RegistrarRuntime } from '../sip/registrar/registrar-runtime.js';
import { DrachtioSipEdge } from '../sip/edges/drachtio/drachtio-sip-edge.js';
import { drachtioEdgeOptions } from '../sip/edges/drachtio/drachtio-edge-config.js';
import { DrachtioQualifySender } from '../sip/edges/drachtio/drachtio-qualify-sender.js';
import { BuiltinQualifySender } from '../sip/edges/builtin/builtin-qualify-sender.js';

/**
 * The one place that joins the HTTP side (src/) and the SIP side (sip/):
 * src never imports sip, so `serve` receives this component from the bin
 * layer and starts/stops it with the HTTP server.
 */
export const sipServerComponent: ServerComponent = async (services: Services, extensions) => {
  const { config, logger } = services;
  if (config.sip.edge === 'none') return { name: 'sip', stop: async () => {} };
  const sipLogger = logger.child({ component: 'sip' });
  const runtime = new RegistrarRuntime({ db: services.db, config, secrets: services.secrets, logger: sipLogger, masterKey: resolveMasterKey(config), outbox: services.webhookOutbox, edge: config.sip.edge });
  await runtime.start();
  extensions.metrics.push({ metrics: () => runtime.metrics.registry.metrics() });
  const s = config.sip;
  if (s.edge === 'drachtio') {
    // drachtio-server owns the sockets and reports no connection close; bindings expire instead.
    const drachtio = new DrachtioSipEdge(drachtioEdgeOptions(s.drachtio, runtime.handler, sipLogger));
    await drachtio.start();
    // Not healthy while drachtio-server is not connected: no SIP reaches this node.
    extensions.health.push({ name: 'sip', check: () => { const st = drachtio.state(); return { healthy: st.healthy, details: { ...st } }; } });
    runtime.startQualify(new DrachtioQualifySender(drachtio, { timeoutMs: s.drachtio.qualifyTimeoutMs }));
    logger.info({ edge: 'drachtio', mode: s.drachtio.mode, nodeId: runtime.nodeId }, 'SIP registrar mounted on drachtio-server');
    return { name: 'sip', details: { edge: 'drachtio' }, stop: async () => { await drachtio.stop(); await runtime.stop(); } };
  }
  const listeners: SipListenerOptions[] = [
    { transport: 'udp', port: s.udp.port, host: s.udp.host ?? s.host, enabled: s.udp.enabled },
    { transport: 'tcp', port: s.tcp.port, host: s.tcp.host ?? s.host, enabled: s.tcp.enabled },
    { transport: 'ws', port: s.ws.port, host: s.ws.host ?? s.host, enabled: s.ws.enabled },
  ];
  // TLS and WSS start only when a certificate is configured.
  for (const t of ['tls', 'wss'] as const) {
    const l = s[t];
    if (l.enabled && l.certFile && l.keyFile) listeners.push({ transport: t, port: l.port, host: l.host ?? s.host, tls: { certPath: l.certFile, keyPath: l.keyFile } });
  }
  const qualify = new BuiltinQualifySender({ timeoutMs: s.qualify.timeoutMs });
  const edge = new BuiltinSipEdge({
    onResponse: qualify.onResponse,
    handler: runtime.handler,
    events: runtime.events,
    isBanned: runtime.isBanned,
    listeners,
    host: s.host,
    logger: sipLogger,
    ...(s.advertisedHost ? { advertisedHost: s.advertisedHost } : {}),
  });
  try {
    await edge.start();
  } catch (err) {
    await runtime.stop();
    throw err;
  }
  qualify.attach(edge);
  extensions.health.push({ name: 'sip', check: () => { const listeners = edge.boundAddresses(); return { healthy: listeners.length > 0, details: { edge: 'builtin', status: listeners.length ? 'listening' : 'stopped', listeners } }; } });
  runtime.startQualify(qualify);
  logger.info({ listeners: edge.boundAddresses(), nodeId: runtime.nodeId }, 'SIP registrar listening');
  return {
    name: 'sip',
    details: { sip: edge.boundAddresses() },
    stop: async () => {
      await edge.stop();
      await runtime.stop();
    },
  };
};
