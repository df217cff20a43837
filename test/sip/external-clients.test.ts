import path from 'node:path';
import os from 'node:os';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { BuiltinSipEdge } from '../../sip/edges/builtin/builtin-sip-edge.js';
import { fixturesDir, startEdge } from './helpers.js';

// Real SIP clients (Debian packages sipsak and sip-tester, installed by CI).
// execFile is asynchronous: the edge under test runs in this same process.
const run = promisify(execFile);

describe('SIP edge with real SIP clients', function () {
  let edge: BuiltinSipEdge;
  let workDir: string;
  before(async () => {
    edge = await startEdge();
    workDir = mkdtempSync(path.join(os.tmpdir(), 'sip-edge-clients-'));
  });
  after(async () => {
    await edge.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('answers a sipsak OPTIONS ping over UDP with 200', async () => {
    const { stdout } = await run('sipsak', ['-vv', '-s', `sip:test@127.0.0.1:${edge.port('udp')}`], { timeout: 10_000 });
    expect(stdout).to.match(/SIP\/2\.0 200 OK/);
  });

  it('answers a sipsak OPTIONS ping over TCP with 200', async () => {
    const { stdout } = await run('sipsak', ['-vv', '-E', 'tcp', '-s', `sip:test@127.0.0.1:${edge.port('tcp')}`], { timeout: 10_000 });
    expect(stdout).to.match(/SIP\/2\.0 200 OK/);
  });

  for (const transport of ['u1', 't1'] as const) {
    it(`registers 50 sipp calls over ${transport === 'u1' ? 'UDP' : 'TCP'} without a failure`, async () => {
      const port = edge.port(transport === 'u1' ? 'udp' : 'tcp');
      await run(
        'sipp',
        [
          '-sf',
          path.join(fixturesDir, 'sipp-register.xml'),
          '-t',
          transport,
          '-i',
          '127.0.0.1',
          '-p',
          '0',
          '-m',
          '50',
          '-r',
          '500',
          '-timeout',
          '15s',
          '-timeout_error',
          '-nostdin',
          '-trace_err',
          '-error_file',
          path.join(workDir, `errors-${transport}.log`),
          `127.0.0.1:${port}`,
        ],
        { timeout: 20_000, cwd: workDir },
      );
      // sipp exits 0 only when every call succeeded.
    });
  }
});
