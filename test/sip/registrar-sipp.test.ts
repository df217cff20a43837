import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './helpers.js';
import { createSipUser, registerThroughCore, startRegistrar, type RegistrarHarness } from './registrar-helpers.js';

const run = promisify(execFile);
const scenarios = path.join(repoRoot, 'test/sip/scenarios');

/** Runs one sipp call of a scenario against the registrar; resolves with sipp's exit code (0 = every call passed). */
async function sipp(h: RegistrarHarness, scenario: string, transport: 'u1' | 't1', fields: string[]): Promise<{ code: number; errors: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipp-'));
  const csv = path.join(dir, 'users.csv');
  fs.writeFileSync(csv, `SEQUENTIAL\n${fields.join(';')}\n`);
  const port = h.edge!.port(transport === 'u1' ? 'udp' : 'tcp');
  const errorFile = path.join(dir, 'errors.log');
  try {
    await run(
      'sipp',
      [
        '-sf',
        path.join(scenarios, scenario),
        '-inf',
        csv,
        '-t',
        transport,
        '-au',
        fields[0]!,
        '-ap',
        fields[2]!,
        // sipp's digest uri is the remote address by default; RFC 7616 §3.4.6 wants the Request-URI (sip:<domain>).
        '-auth_uri',
        fields[1]!,
        '-i',
        '127.0.0.1',
        '-p',
        '0',
        '-m',
        '1',
        '-timeout',
        '10s',
        '-timeout_error',
        '-nostdin',
        '-trace_err',
        '-error_file',
        errorFile,
        `127.0.0.1:${port}`,
      ],
      { timeout: 20_000 },
    );
    return { code: 0, errors: '' };
  } catch (err) {
    const e = err as { code?: number };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      errors: fs.existsSync(errorFile) ? fs.readFileSync(errorFile, 'utf8').slice(0, 2000) : String(err),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('SIP registrar with sipp (UDP and TCP)', function () {
  this.timeout(30_000);
  let h: RegistrarHarness;
  before(async () => {
    // sipp answers MD5 challenges only; the default order (MD5 first) lets it pick that one.
    h = await startRegistrar({ edge: ['udp', 'tcp'], realClock: true });
  });
  after(async () => h.stop());

  for (const transport of ['u1', 't1'] as const) {
    const name = transport === 'u1' ? 'UDP' : 'TCP';
    it(`registers, refreshes and unregisters with digest auth over ${name}`, async () => {
      const u = await createSipUser(h.app);
      const r = await sipp(h, 'register-auth.xml', transport, [u.username, u.domain, u.password, 'phone1']);
      expect(r, r.errors).to.include({ code: 0 });
      expect(await h.app.services.db.models.Registration.count({ where: { user_id: u.id } })).to.equal(0);
    });

    it(`gets 401 again for a wrong password over ${name}`, async () => {
      const u = await createSipUser(h.app);
      const r = await sipp(h, 'register-refused-401.xml', transport, [u.username, u.domain, 'Wrong-password-123', 'phone1']);
      expect(r, r.errors).to.include({ code: 0 });
    });

    it(`gets 403 Too Many Bindings past max_bindings over ${name}`, async () => {
      const u = await createSipUser(h.app, { max_bindings: 1 });
      // The first device (a desk phone over UDP) holds the only slot…
      const first = await registerThroughCore(h, { user: u.username, domain: u.domain, password: u.password, contacts: ['<sip:desk@192.0.2.10>'] });
      expect(first!.status).to.equal(200);
      // …and the second device is refused.
      const second = await sipp(h, 'register-refused-403.xml', transport, [u.username, u.domain, u.password, 'phone2']);
      expect(second, second.errors).to.include({ code: 0 });
      expect(await h.app.services.db.models.Registration.count({ where: { user_id: u.id } })).to.equal(1);
    });
  }
});
