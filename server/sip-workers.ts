import path from 'node:path';
import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import os from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import type { Services } from '../src/services.js';
import type { AppExtensions } from '../src/http/app-extensions.js';
import type { BoundSipListener } from '../sip/edges/builtin/builtin-sip-edge.js';
import type { SipWorkerMessage, SipPrimaryMessage } from './sip-worker-messages.js';
import { APP_ROOT } from '../src/shared/app-root.js';
import { SipDeviceMessenger } from '../sip/messaging/sip-device-messenger.js';
import { PrimaryDevicePort } from './primary-device-port.js';
import { loadUdpSocketAddon } from '../sip/transports/udp-socket-addon.js';

interface Slot {
  index: number;
  worker: Worker | undefined;
  ready: boolean;
  nodeId: string;
  listeners: BoundSipListener[];
}

const STOP_GRACE_MS = 10_000;
const RESTART_DELAY_MS = 1_000;

/**
 * `sip.workers: N` (SIP_WORKERS): the built-in edge runs in N cluster
 * workers, one registrar each, while this process keeps the HTTP API and
 * the jobs. Node's cluster shares the stream listeners: the primary deals
 * out TCP/WS connections, and a connection stays with the worker that
 * accepted it. UDP is different: every worker binds a socket of its own to
 * the one port with SO_REUSEPORT, and the kernel keeps each source address
 * and port (a phone) on one of them, so a phone's retransmissions meet the
 * server transaction that holds the answer, its challenge and its answer
 * meet one credential cache, and a datagram wakes one worker. On a socket
 * the cluster shares, every datagram woke every worker (at 1,000
 * REGISTERs/s two workers burned 89 % of a core where one process burned
 * 45-58 %) and half of the retransmissions reached a worker with no
 * transaction for them. Without the SO_REUSEPORT addon
 * (native/udp-reuseport) the workers share the socket as before.
 * Everything that must hold across workers already holds across nodes
 * (the per-user row lock in the database, stateless HMAC nonces), so a
 * worker is one more node with its own node id (`<node>/w<i>`).
 */
export async function startSipWorkers(
  services: Services,
  extensions: AppExtensions,
): Promise<{ name: string; details: Record<string, unknown>; stop(): Promise<void> }> {
  const { config, logger } = services;
  const reuse = loadUdpSocketAddon();
  // SO_REUSEPORT binds an address, not a name: a host name keeps the shared socket.
  const wanted = config.sip.udp.enabled && config.sip.udp.reusePort;
  const udpReusePort = wanted && reuse.addon !== null && net.isIP(config.sip.udp.host ?? config.sip.host) !== 0;
  if (wanted && !reuse.addon) logger.warn({ reason: reuse.reason }, 'SO_REUSEPORT unavailable: the SIP workers share one UDP socket');
  // The port every worker's own UDP socket binds: the configured one, or (port 0) the one the first worker got.
  let udpPort = config.sip.udp.port;
  const baseNodeId = config.sip.nodeId || `${os.hostname()}:${config.sip.udp.port || `pid${process.pid}`}`;
  cluster.setupPrimary({ exec: path.join(APP_ROOT, 'bin/sip-worker.js'), execArgv: workerExecArgv(process.execArgv, config.memory.workerSemiSpaceMb) });
  const slots: Slot[] = Array.from({ length: config.sip.workers }, (_, i) => ({
    index: i + 1,
    worker: undefined,
    ready: false,
    nodeId: `${baseNodeId}/w${i + 1}`,
    listeners: [],
  }));
  let started = false;
  let stopping = false;

  const send = (w: Worker | undefined, m: SipPrimaryMessage) => {
    if (w?.isConnected()) w.send(m);
  };
  // The carrier's SMS webhook reaches this process, which has no SIP socket: its MESSAGEs to the phones go through the workers.
  const devices = new PrimaryDevicePort({
    nodeId: baseNodeId,
    workers: () => slots.map((s) => ({ nodeId: s.nodeId, ready: s.ready, send: (m) => send(s.worker, m) })),
    local: (transport) => {
      const listeners = slots.find((s) => s.ready)?.listeners ?? slots[0]!.listeners;
      const l = listeners.find((x) => x.transport === transport) ?? listeners[0];
      return { host: config.sip.advertisedHost || l?.address || '127.0.0.1', port: l?.port ?? 5060 };
    },
  });

  const spawn = (slot: Slot) =>
    new Promise<void>((resolve, reject) => {
      const w = cluster.fork();
      slot.worker = w;
      slot.ready = false;
      w.on('message', (m: SipWorkerMessage) => {
        if (m.type === 'hello') {
          // The configuration (secrets included) goes over the IPC channel, not the environment.
          send(w, {
            type: 'config',
            index: slot.index,
            config: { ...config, sip: { ...config.sip, workers: 0, nodeId: slot.nodeId, udp: { ...config.sip.udp, port: udpPort } } },
            siblings: slots.map((s) => s.nodeId),
            udpReusePort,
          });
        } else if (m.type === 'ready') {
          slot.ready = true;
          slot.listeners = m.listeners;
          if (udpReusePort && !udpPort) udpPort = m.listeners.find((l) => l.transport === 'udp')?.port ?? 0;
          resolve();
        } else if (m.type === 'failed') {
          reject(new Error(`SIP worker ${slot.index} could not start: ${m.error}`));
        } else if (m.type === 'sip-response') {
          // An answer to another worker's OPTIONS probe or trunk REGISTER: only the sender knows the branch.
          for (const other of slots) if (other !== slot) send(other.worker, m);
        } else if (m.type === 'device-request') {
          // Only the worker that accepted a connection can write to it.
          const owner = slots.find((s) => s.nodeId === m.to && s.ready);
          if (owner) send(owner.worker, m);
          else send(w, { type: 'device-response', id: m.id, to: m.from, status: 503, reason: 'Service Unavailable', origin: 'unreachable', headers: {} });
        } else if (m.type === 'device-response') {
          if (m.to === baseNodeId) devices.receive(m);
          else send(slots.find((s) => s.nodeId === m.to)?.worker, m);
        }
      });
      w.once('exit', (code, signal) => {
        slot.ready = false;
        devices.workerGone(slot.nodeId);
        reject(new Error(`SIP worker ${slot.index} exited (${signal ?? code}) before it was ready`));
        if (stopping || !started) return;
        logger.error({ worker: slot.index, code, signal }, 'SIP worker exited; starting it again');
        setTimeout(() => {
          if (!stopping) spawn(slot).catch((err: unknown) => logger.error({ err, worker: slot.index }, 'SIP worker restart failed'));
        }, RESTART_DELAY_MS).unref();
      });
    });

  const messenger = new SipDeviceMessenger(services.db.models, devices, { timeoutMs: config.messaging.deviceTimeoutMs });
  const stop = async () => {
    stopping = true;
    services.messages.detachDeviceMessenger(messenger);
    await Promise.all(
      slots.map(async (slot) => {
        const w = slot.worker;
        if (!w || w.isDead()) return;
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        send(w, { type: 'shutdown' });
        const timer = setTimeout(() => w.process.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
    devices.close();
  };

  try {
    // With SO_REUSEPORT on port 0, the others bind the port the first one was given.
    if (udpReusePort && !udpPort) await spawn(slots[0]!);
    await Promise.all(slots.filter((s) => !s.ready).map(spawn));
  } catch (err) {
    await stop();
    throw err;
  }
  started = true;
  services.messages.attachDeviceMessenger(messenger);

  const aggregator = new AggregatorRegistry();
  extensions.metrics.push({ metrics: () => aggregator.clusterMetrics() });
  extensions.health.push({
    name: 'sip',
    check: () => {
      const healthy = slots.every((s) => s.ready);
      return {
        healthy,
        details: {
          edge: 'builtin',
          status: healthy ? 'listening' : 'degraded',
          listeners: slots[0]!.listeners,
          workers: slots.map((s) => ({ index: s.index, pid: s.worker?.process.pid ?? null, ready: s.ready, nodeId: s.nodeId })),
        },
      };
    },
  });
  logger.info({ workers: slots.length, listeners: slots[0]!.listeners, nodeIds: slots.map((s) => s.nodeId) }, 'SIP registrar listening in worker processes');
  return { name: 'sip', details: { sip: slots[0]!.listeners, workers: slots.length }, stop };
}

/**
 * A SIP worker's Node options: this process's, with the young generation
 * capped. V8 sizes it when the process starts, so it can only be a flag.
 * A registrar's garbage is nearly all young and short-lived (parsed
 * messages, query rows), so scavenges cost the same few survivors at any
 * size while the default 16 MB semi-spaces keep 32 MB resident per worker
 * once load has grown them: measured with two workers at 2,000-3,000
 * REGISTERs/s, 4 MB took 40 MB off the processes' RSS at the same CPU.
 */
export function workerExecArgv(execArgv: readonly string[], semiSpaceMb: number): string[] {
  const own = execArgv.filter((a) => !a.startsWith('--max-semi-space-size'));
  return semiSpaceMb > 0 ? [...own, `--max-semi-space-size=${semiSpaceMb}`] : [...execArgv];
}
