import { resolveMasterKey } from '../src/crypto/master-key.js';
import type { Services } from '../src/services.js';
import type { ServerComponent } from '../src/main.js';
import { RegistrarRuntime } from '../sip/registrar/registrar-runtime.js';
import { DrachtioSipEdge } from '../sip/edges/drachtio/drachtio-sip-edge.js';
import { drachtioEdgeOptions } from '../sip/edges/drachtio/drachtio-edge-config.js';
import { DrachtioQualifySender } from '../sip/edges/drachtio/drachtio-qualify-sender.js';
import { DrachtioDeviceRequestPort } from '../sip/edges/drachtio/drachtio-device-request-port.js';
import { DrachtioRequestPort } from '../sip/edges/drachtio/drachtio-request-port.js';
import { TrunkRegistrarClient } from '../sip/trunks/trunk-registrar-client.js';
import { startBuiltinSip } from './builtin-sip.js';
import { SipDeviceMessenger } from '../sip/messaging/sip-device-messenger.js';
import { startSipWorkers } from './sip-workers.js';

/**
 * The one place that joins the HTTP side (src/) and the SIP side (sip/):
 * src never imports sip, so `serve` receives this component from the bin
 * layer and starts/stops it with the HTTP server.
 */
export const sipServerComponent: ServerComponent = async (services: Services, extensions) => {
  const { config, logger } = services;
  if (config.sip.edge === 'none') return { name: 'sip', stop: async () => {} };
  const s = config.sip;
  if (s.edge === 'drachtio') {
    const sipLogger = logger.child({ component: 'sip' });
    const runtime = new RegistrarRuntime({
      db: services.db,
      config,
      secrets: services.secrets,
      logger: sipLogger,
      masterKey: resolveMasterKey(config),
      outbox: services.webhookOutbox,
      usage: services.usage.recorder,
      messages: services.messages,
      edge: 'drachtio',
    });
    await runtime.start();
    extensions.metrics.push({ metrics: () => runtime.metrics.registry.metrics() });
    // drachtio-server owns the sockets and reports no connection close; bindings expire instead.
    const edgeOptions = drachtioEdgeOptions(s.drachtio, runtime.handler, sipLogger);
    const t = config.telephony.trunks;
    let trunks: TrunkRegistrarClient | null = null;
    const drachtio: DrachtioSipEdge = new DrachtioSipEdge({
      ...edgeOptions,
      onStateChange: (st) => {
        // Trunks register from drachtio-server's listeners, known once it is connected: start then, not before
        // (a first attempt while connecting would report every trunk failed at each boot).
        if (st.status !== 'connected' || trunks || !t.enabled) return;
        trunks = new TrunkRegistrarClient({
          db: services.db,
          secrets: services.secrets,
          outbox: services.webhookOutbox,
          port: new DrachtioRequestPort(drachtio, { timeoutMs: t.transactionTimeoutMs }),
          settings: t,
          logger: sipLogger,
        });
        trunks.start();
      },
    });
    await drachtio.start();
    // Not healthy while drachtio-server is not connected: no SIP reaches this node.
    extensions.health.push({
      name: 'sip',
      check: () => {
        const st = drachtio.state();
        return { healthy: st.healthy, details: { ...st } };
      },
    });
    const devices = new DrachtioDeviceRequestPort(drachtio, { serverEndpoints: () => drachtio.state().serverEndpoints });
    runtime.startQualify(new DrachtioQualifySender(devices, { timeoutMs: s.drachtio.qualifyTimeoutMs }));
    const messenger = new SipDeviceMessenger(services.db.models, devices, { timeoutMs: config.messaging.deviceTimeoutMs });
    services.messages.attachDeviceMessenger(messenger);
    await runtime.startMwi(devices);
    logger.info({ edge: 'drachtio', mode: s.drachtio.mode, nodeId: runtime.nodeId }, 'SIP registrar mounted on drachtio-server');
    return {
      name: 'sip',
      details: { edge: 'drachtio' },
      stop: async () => {
        services.messages.detachDeviceMessenger(messenger);
        // Before the edge: handing the leases back needs no SIP, but a runner mid-request needs drachtio-server.
        await trunks?.stop();
        await drachtio.stop();
        await runtime.stop();
      },
    };
  }
  if (s.workers > 0) return startSipWorkers(services, extensions);
  const sip = await startBuiltinSip(services);
  extensions.metrics.push({ metrics: () => sip.runtime.metrics.registry.metrics() });
  extensions.health.push({
    name: 'sip',
    check: () => {
      const listeners = sip.boundAddresses();
      return { healthy: listeners.length > 0, details: { edge: 'builtin', status: listeners.length ? 'listening' : 'stopped', listeners } };
    },
  });
  logger.info({ listeners: sip.boundAddresses(), nodeId: sip.runtime.nodeId }, 'SIP registrar listening');
  return { name: 'sip', details: { sip: sip.boundAddresses() }, stop: () => sip.stop() };
};
