import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from './config.js';
import { bootstrap } from './runtime.js';
import { serve, type ServerComponent } from './main.js';
import { DomainError } from './errors.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrator.js';
import { createLogger } from './logger.js';
import { createOncallReminderJob } from './jobs/oncall-reminder-job.js';
import cliProgress from 'cli-progress';
import { rotateMasterKey } from './keys/master-key-rotation.js';

function out(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

function digits(v: string): string {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be digits');
  return v;
}

export function buildCli(opts: { components?: ServerComponent[] } = {}): Command {
  const program = new Command('switchboard')
    .description(
      'Switchboard: multi-tenant PBX provisioning API and SIP registrar.\nReads config/ and the environment (DATABASE_URL, PORT, MASTER_KEY, ...), like the server.',
    )
    .showHelpAfterError();

  program
    .command('serve')
    .description('Run migrations, then serve the HTTP API and the SIP registrar (what `npm start` runs)')
    .action(async () => {
      await serve(loadConfig(), { installSignalHandlers: true, components: opts.components ?? [] });
    });

  program
    .command('migrate')
    .description('Create the database if missing and apply pending migrations')
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.log.level, { toStderr: true });
      const db = await openDatabase({ url: config.database.url, logger });
      try {
        out({ applied: await migrateToLatest(db.sequelize, logger) });
      } finally {
        await db.close();
      }
    });

  const account = program.command('account').description('Manage accounts (workspaces)');
  account
    .command('create')
    .description('Create an account and its owner; prints the ids as JSON')
    .requiredOption('--name <name>', 'account name (at least 3 characters)')
    .requiredOption('--sip-domain <domain>', 'SIP domain; also the digest realm phones authenticate against')
    .requiredOption('--owner-email <email>', 'owner email')
    .requiredOption('--owner-password <password>', 'owner login password (at least 10 characters)')
    .option('--owner-name <name>', 'owner display name (default: the email)')
    .option('--owner-username <username>', 'owner username (default: derived from email and domain)')
    .option('--owner-extension <digits>', 'owner extension (default: 100…)', digits)
    .option('--timezone <iana>', 'account time zone, e.g. America/New_York', 'UTC')
    .action(
      async (o: {
        name: string;
        sipDomain: string;
        ownerEmail: string;
        ownerPassword: string;
        ownerName?: string;
        ownerUsername?: string;
        ownerExtension?: string;
        timezone: string;
      }) => {
        const config = loadConfig();
        const services = await bootstrap(config, { migrate: true, logger: createLogger(config.log.level, { toStderr: true }) });
        try {
          out(await services.accounts.createWithOwner({ ...o }));
        } finally {
          await services.db.close();
        }
      },
    );

  const jobs = program.command('jobs').description('Background jobs (serve runs them on their cron schedules)');
  jobs
    .command('run')
    .description('Run one job once now and print what it did as JSON (jobs: oncall-reminders)')
    .argument('<job>', 'job name', (v: string) => {
      if (v !== 'oncall-reminders') throw new InvalidArgumentError('known jobs: oncall-reminders');
      return v;
    })
    .action(async () => {
      const config = loadConfig();
      const services = await bootstrap(config, { migrate: true, logger: createLogger(config.log.level, { toStderr: true }) });
      const job = createOncallReminderJob(services);
      try {
        out(await job.runOnce());
      } finally {
        job.close();
        await services.db.close();
      }
    });

  const keys = program.command('keys').description('Manage encryption keys');
  keys
    .command('rotate-master')
    .description(
      'Re-encrypt stored secrets under MASTER_KEY; the old key goes in MASTER_KEY_PREVIOUS while this runs. Resumable: run again after an interruption',
    )
    .option(
      '--batch-size <n>',
      'rows per transaction',
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
        return n;
      },
      500,
    )
    .action(async (o: { batchSize: number }) => {
      const config = loadConfig();
      const services = await bootstrap(config, { migrate: true, logger: createLogger(config.log.level, { toStderr: true }) });
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const bar = new cliProgress.SingleBar(
        { format: '{table} [{bar}] {value}/{total} rows', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 2000 },
        cliProgress.Presets.shades_classic,
      );
      let current = '';
      try {
        const result = await rotateMasterKey(services.db.sequelize, services.secrets, {
          batchSize: o.batchSize,
          signal: abort.signal,
          onProgress: (p) => {
            if (p.table !== current) {
              if (current) bar.stop();
              current = p.table;
              bar.start(p.total, p.done, { table: p.table });
            } else bar.update(p.done);
          },
        });
        if (current) bar.stop();
        out({ ...result, key_id: services.secrets.keyId });
        if (result.aborted) process.exitCode = 130;
      } finally {
        await services.db.close();
      }
    });

  return program;
}

export async function runCli(argv: string[], opts: { components?: ServerComponent[] } = {}): Promise<void> {
  try {
    await buildCli(opts).parseAsync(argv);
  } catch (err) {
    if (err instanceof DomainError) {
      process.stderr.write(JSON.stringify({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } }) + '\n');
    } else {
      process.stderr.write(`switchboard: ${(err as Error).message}\n`);
    }
    process.exitCode = 1;
  }
}
