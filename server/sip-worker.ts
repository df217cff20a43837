import { AggregatorRegistry } from 'prom-client';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { bootstrapSip } from '../src/sip-runtime.js';
import { startBuiltinSip } from './builtin-sip.js';
import type { SipPrimaryMessage, SipWorkerMessage } from './sip-worker-messages.js';
import { WorkerDeviceRelay } from './worker-device-relay.js';
import { applyHeapGrowth } from '../src/heap-growth.js';

/** A SIP worker process (see sip-workers.ts): waits for its configuration, runs the built-in edge, stops when told. */
export async function runSipWorker(): Promise<void> {
  const toPrimary = (m: SipWorkerMessage) => process.send?.(m);
  // Ctrl-C reaches the whole process group; the primary stops the workers in order.
  process.on('SIGINT', () => {});
  const first = await new Promise<Extract<SipPrimaryMessage, { type: 'config' }>>((resolve) => {
    const onMessage = (m: SipPrimaryMessage) => {
      if (m.type !== 'config') return;
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
    toPrimary({ type: 'hello' });
  });
  let stop: () => Promise<void> = async () => {};
  try {
    const config = parseConfig(first.config);
    applyHeapGrowth(config.memory.heapGrowingPercent);
    const logger = createLogger(config.log.level).child({ sipWorker: first.index });
    const services = await bootstrapSip(config, logger);
    const relay = new WorkerDeviceRelay(first.config.sip.nodeId, toPrimary);
    const sip = await startBuiltinSip(services, {
      onUnmatchedResponse: (text, source, transport) => toPrimary({ type: 'sip-response', text, source, transport }),
      socketSiblings: first.siblings,
      relayDeviceRequest: relay.send,
      // The primary receives the carrier's SMS and sends their MESSAGEs through us (server/primary-device-port.ts).
      smsToDevices: false,
      udpSocket: first.udpReusePort ? 'reusePort' : 'cluster',
    });
    relay.serveWith(sip.devices);
    // /metrics in the primary sums every worker's registrar metrics.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([sip.runtime.metrics.registry]);
    let stopping: Promise<void> | undefined;
    stop = () =>
      (stopping ??= (async () => {
        await sip.stop().catch((err: unknown) => logger.error({ err }, 'SIP worker stop failed'));
        // This worker's buffered usage (registrations, device peaks) is written before its database closes.
        await services.usage.stop().catch((err: unknown) => logger.error({ err }, 'SIP worker usage flush failed'));
        await services.db.close();
      })());
    process.on('message', (m: SipPrimaryMessage) => {
      if (m.type === 'sip-response') {
        if (!sip.requests.onResponse(m.text)) sip.devices.onResponse(m.text);
      } else if (m.type === 'device-request' || m.type === 'device-response') relay.receive(m);
      else if (m.type === 'shutdown') void stop().finally(() => process.exit(0));
    });
    logger.info({ listeners: sip.boundAddresses(), nodeId: sip.runtime.nodeId }, 'SIP worker listening');
    toPrimary({ type: 'ready', listeners: sip.boundAddresses() });
  } catch (err) {
    toPrimary({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
    await stop();
    process.exit(1);
  }
  // The primary went away without telling us: stop rather than serve orphaned.
  process.on('disconnect', () => void stop().finally(() => process.exit(0)));
  process.on('SIGTERM', () => void stop().finally(() => process.exit(0)));
}
