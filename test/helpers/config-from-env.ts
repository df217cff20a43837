import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A number from the configuration a fresh process loads with `env` added
 * (node-config reads the environment once, at its first import, so an
 * override can only be seen from a new process). `path` is a property path
 * below the loaded configuration, e.g. `sip.udp.receiveBufferBytes`.
 */
export async function configNumberWithEnv(path: string, env: Record<string, string>): Promise<number> {
  const script = `import('./src/config.ts').then((m) => console.log(m.loadConfig().${path}))`;
  const base = { ...process.env, NODE_ENV: 'test', DATABASE_URL: 'sqlite::memory:', MASTER_KEY: crypto.randomBytes(32).toString('base64') };
  return Number((await run(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...base, ...env } })).stdout);
}
