import { loadConfig } from '../../src/config.js';
import { serve, type RunningServer } from '../../src/main.js';
import { deepMerge } from '../../src/shared/deep-merge.js';
import { sipServerComponent } from '../../server/sip-component.js';
import type { TestApp } from './test-app.js';

/**
 * `switchboard serve` with the SIP component, on the test app's database and master key, every listener on
 * 127.0.0.1 and an OS-chosen port: UDP and TCP on, WS/TLS/WSS off, no jobs. `overrides` merge deeply onto that
 * (nested objects merge, anything else replaces), so a test names only what it is about.
 */
export function serveForTest(app: TestApp, overrides: Record<string, unknown> = {}): Promise<RunningServer> {
  const loopback: Record<string, unknown> = {
    database: { url: app.config.database.url },
    secrets: { masterKey: app.config.secrets.masterKey },
    http: { host: '127.0.0.1', port: 0 },
    jobs: { enabled: false },
    sip: {
      edge: 'builtin',
      host: '127.0.0.1',
      udp: { port: 0 },
      tcp: { port: 0 },
      ws: { enabled: false },
      tls: { enabled: false },
      wss: { enabled: false },
    },
  };
  return serve(loadConfig(deepMerge(loopback, overrides)), { components: [sipServerComponent] });
}
