import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { openDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { rotateMasterKey } from '../../src/keys/master-key-rotation.js';
import { sipSecretColumns } from '../../src/users/sip-secret-fields.js';
import { freshDatabaseUrl, type TestDatabaseUrl } from '../helpers/test-database.js';

const USERS = 2000;

describe('keys rotate-master', function () {
  this.timeout(60_000);
  let dbUrl: TestDatabaseUrl;
  let db: Database;
  const oldKey = crypto.randomBytes(32);
  const newKey = crypto.randomBytes(32);

  beforeEach(async () => {
    dbUrl = freshDatabaseUrl();
    db = await openDatabase({ url: dbUrl.url });
    await migrateToLatest(db.sequelize);
    const oldBox = new SecretBox(oldKey);
    const account = await db.models.Account.create({ name: 'Rotation', sip_domain: `rot${Date.now()}.example`, website: null, default_caller_id_number: null });
    const rows = [];
    for (let i = 0; i < USERS; i++) {
      const username = `rot${i}`;
      rows.push({
        account_id: account.id,
        name: username,
        extension: String(10000 + i),
        username,
        email: null,
        password_hash: null,
        role: 'user' as const,
        binding_policy: null,
        ...sipSecretColumns(oldBox, username, account.sip_domain, `Pw-${i}-secret!`),
        sip_prev_ha1_md5: null,
        sip_prev_ha1_sha256: null,
        sip_prev_valid_until: null,
        oncall_pin_hash: 'x',
        external_caller_id_name: null,
        external_caller_id_number: null,
        mobile: null,
        forward_behavior: { mode: 'ring_devices' as const },
        location_id: null,
        mailbox_id: null,
        notification_email: null,
        voicemail_email: null,
        fax_service_id: null,
        oncall_remind_email: null,
        outbound_sms_number: null,
        sms_auto_response_text: null,
        otp_secret_enc: i % 10 === 0 ? oldBox.encrypt('JBSWY3DPEHPK3PXP') : null,
      });
    }
    for (let i = 0; i < rows.length; i += 500) await db.models.User.bulkCreate(rows.slice(i, i + 500));
  });

  afterEach(async () => {
    await db.close();
    await dbUrl.drop();
  });

  async function assertAllReadableWithNewKeyOnly(): Promise<void> {
    const onlyNew = new SecretBox(newKey);
    const users = await db.models.User.findAll({ attributes: ['username', 'sip_password_enc', 'otp_secret_enc'] });
    expect(users).to.have.length(USERS);
    for (const u of users) {
      const i = Number(u.username.slice(3));
      expect(onlyNew.decrypt(u.sip_password_enc)).to.equal(`Pw-${i}-secret!`);
      if (u.otp_secret_enc) expect(onlyNew.decrypt(u.otp_secret_enc)).to.equal('JBSWY3DPEHPK3PXP');
    }
  }

  it('re-encrypts every secret, and an interrupted run resumes where it stopped', async () => {
    const box = new SecretBox(newKey, [oldKey]);
    const abort = new AbortController();
    const seen: number[] = [];
    const first = await rotateMasterKey(db.sequelize, box, {
      batchSize: 300,
      signal: abort.signal,
      onProgress: (p) => {
        seen.push(p.done);
        if (p.done >= 900) abort.abort();
      },
    });
    expect(first.aborted).to.equal(true);
    expect(first.remaining).to.equal(USERS - 900);
    const second = await rotateMasterKey(db.sequelize, box, { batchSize: 300 });
    expect(second).to.deep.include({ aborted: false, remaining: 0, reencrypted: USERS - 900 });
    await assertAllReadableWithNewKeyOnly();
    const third = await rotateMasterKey(db.sequelize, box);
    expect(third.reencrypted).to.equal(0);
  });

  it('re-encrypts telephony provider credentials too', async () => {
    const oldBox = new SecretBox(oldKey);
    const account = await db.models.Account.findOne();
    const creds = { account_sid: `AC${'0'.repeat(32)}`, auth_token: 'carrier-secret-1234' };
    const p = await db.models.TelephonyProvider.create({
      account_id: account!.id,
      type: 'twilio',
      name: 'Twilio',
      credentials_enc: oldBox.encrypt(JSON.stringify(creds)),
      credentials_hint: '1234',
      settings: '{}',
    });
    const result = await rotateMasterKey(db.sequelize, new SecretBox(newKey, [oldKey]), { batchSize: 500 });
    expect(result).to.deep.include({ reencrypted: USERS + 1, remaining: 0 });
    await p.reload();
    expect(JSON.parse(new SecretBox(newKey).decrypt(p.credentials_enc))).to.deep.equal(creds);
  });

  it('runs from the CLI with a progress bar', async () => {
    const bin = path.resolve('bin/switchboard.js');
    const env = {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: dbUrl.url,
      MASTER_KEY: newKey.toString('base64'),
      MASTER_KEY_PREVIOUS: oldKey.toString('base64'),
    };
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, 'keys', 'rotate-master', '--batch-size', '400'], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (c) => resolve({ code: c, stdout, stderr }));
    });
    expect(code, stderr).to.equal(0);
    expect(stderr).to.match(/users \[.*\] 2000\/2000 rows/);
    expect(JSON.parse(stdout)).to.include({ reencrypted: USERS, remaining: 0, aborted: false });
    await assertAllReadableWithNewKeyOnly();
  });
});
