/**
 * A separate Switchboard process that runs the OnCall reminder job once, for
 * the exactly-once test. It opens its own database connection from the
 * config overrides in argv[2], prints "ready", waits for "go" on stdin (so
 * two processes start claiming at the same moment), runs one tick and prints
 * the result as JSON.
 */
import readline from 'node:readline';
import { loadConfig } from '../../src/config.js';
import { bootstrap } from '../../src/runtime.js';
import { createLogger } from '../../src/logger.js';
import { createOncallReminderJob } from '../../src/jobs/oncall-reminder-job.js';

const overrides = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const config = loadConfig(overrides);
const services = await bootstrap(config, { migrate: false, logger: createLogger('silent', { toStderr: true }) });
const job = createOncallReminderJob(services);
process.stdout.write('ready\n');
const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) if (line.trim() === 'go') break;
rl.close();
try {
  process.stdout.write(JSON.stringify(await job.runOnce()) + '\n');
} finally {
  job.close();
  await services.db.close();
}
