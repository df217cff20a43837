import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/switchboard.js');

export interface ServerProcess {
  baseUrl: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A second, separate `switchboard serve` process on the same database: what
 * proves that revocations are read from the database and not from a cache in
 * one process (two apps in one process would share sequelize model classes).
 */
export async function startServerProcess(
  databaseUrl: string,
  masterKey: string,
  extraEnv: Record<string, string> = {},
  /** A loaded machine starts tsx slowly. */
  startTimeoutMs = 60_000,
): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      MASTER_KEY: masterKey,
      PORT: '0',
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const port = await new Promise<number>((resolve, reject) => {
    // From sources (no dist/) on MariaDB with the shared two cores busy, a start was measured at about 20 s.
    const timer = setTimeout(() => {
      // Do not leave it running (and the test runner waiting on its pipes).
      child.kill('SIGKILL');
      reject(new Error(`server process did not start: ${stderr}`));
    }, startTimeoutMs);
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}: ${stderr}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'switchboard HTTP API listening' && entry.port) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        /* not a log line */
      }
    });
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
