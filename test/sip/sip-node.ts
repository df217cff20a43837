import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import type { TestApp } from '../helpers/test-app.js';
import { sleep } from './helpers.js';

/** A separate `switchboard serve` process on the test app's database, with the built-in SIP edge on loopback. */
export interface SipNode {
  server: ServerProcess;
  udpPort: number;
}

/**
 * Starts a node: another registrar on the same database (and master key,
 * so it verifies the nonces the others issue). `nodeConfig` is merged into
 * its configuration (NODE_CONFIG); its UDP port is read from /healthz.
 */
export async function startSipNode(app: TestApp, nodeConfig: Record<string, unknown> = {}, extraEnv: Record<string, string> = {}): Promise<SipNode> {
  const server = await startServerProcess(app.config.database.url, app.config.secrets.masterKey, {
    SIP_EDGE: 'builtin',
    SIP_HOST: '127.0.0.1',
    SIP_PORT: '0',
    SIP_WS_PORT: '0',
    SIP_TLS_PORT: '0',
    SIP_WSS_PORT: '0',
    NODE_CONFIG: JSON.stringify(nodeConfig),
    ...extraEnv,
  });
  let listeners: Array<{ transport: string; port: number }> | undefined;
  for (let i = 0; i < 100 && !listeners?.length; i++) {
    const health = (await (await fetch(`${server.baseUrl}/healthz`)).json()) as { sip?: { listeners?: typeof listeners } };
    listeners = health.sip?.listeners;
    if (!listeners?.length) await sleep(100);
  }
  return { server, udpPort: listeners!.find((l) => l.transport === 'udp')!.port };
}
