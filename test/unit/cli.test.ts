import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { openDatabase } from '../../src/db/database.js';
import { freshDatabaseUrl, type TestDatabaseUrl } from '../helpers/test-database.js';

const BIN = path.resolve('bin/switchboard.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI from an unrelated directory, as an operator would with npx. */
function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: os.tmpdir(), env: { ...process.env, NODE_ENV: 'test', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('switchboard CLI', function () {
  this.timeout(30_000);
  let db: TestDatabaseUrl;
  let env: Record<string, string>;

  before(() => {
    db = freshDatabaseUrl();
    env = { DATABASE_URL: db.url, MASTER_KEY: crypto.randomBytes(32).toString('base64') };
  });
  after(async () => db.drop());

  it('migrates, then creates an account with its owner and prints the ids as JSON, from any directory', async () => {
    const m = await cli(['migrate'], env);
    expect(m.code, m.stderr).to.equal(0);
    expect(JSON.parse(m.stdout).applied).to.include('0001-foundation');
    const again = await cli(['migrate'], env);
    expect(JSON.parse(again.stdout).applied).to.deep.equal([]);

    const r = await cli(
      [
        'account',
        'create',
        '--name',
        'Acme Clinic',
        '--sip-domain',
        'acme-cli.example',
        '--owner-email',
        'owner@acme-cli.example',
        '--owner-password',
        'a long passphrase',
        '--owner-username',
        'owner-cli',
      ],
      env,
    );
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout);
    expect(out).to.include({ sip_domain: 'acme-cli.example', owner_username: 'owner-cli' });
    const database = await openDatabase({ url: db.url });
    try {
      const owner = await database.models.User.findByPk(out.owner_user_id);
      expect(owner?.role).to.equal('owner');
      expect(owner?.account_id).to.equal(out.account_id);
    } finally {
      await database.close();
    }
  });

  it('refuses bad input with the JSON error shape and exit code 1', async () => {
    const r = await cli(
      ['account', 'create', '--name', 'Ac', '--sip-domain', 'not a domain', '--owner-email', 'x@y.example', '--owner-password', 'a long passphrase'],
      env,
    );
    expect(r.code).to.equal(1);
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!).error).to.include({ code: 'name_too_short', field: 'name' });
  });

  it('refuses a heap growth setting out of range at start, naming the setting', async () => {
    const r = await cli(['migrate'], { ...env, HEAP_GROWING_PERCENT: '1000' });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('memory.heapGrowingPercent');
  });

  it('shows help for every command', async () => {
    const r = await cli(['account', 'create', '--help'], env);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.include('--sip-domain').and.include('--owner-password');
  });
});
