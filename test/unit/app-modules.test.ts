import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// bin/app-modules.js decides once per process whether to run dist/ or the TypeScript sources.
describe('bin/app-modules.js: compiled build or sources', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-app-modules-'));
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.copyFileSync(path.join(root, 'bin/app-modules.js'), path.join(dir, 'bin/app-modules.js'));
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
    fs.mkdirSync(path.join(dir, 'src/db'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src/db/answer.ts'), "export const from: string = 'sources';\n");
    fs.mkdirSync(path.join(dir, 'dist/src/db'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'dist/src/db/answer.js'), "export const from = 'dist';\n");
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(dir, 'src/db/answer.ts'), past, past);
    fs.writeFileSync(path.join(dir, 'dist/.built'), '');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** What a fresh process reports, and which module it actually loaded. */
  const run = (env: Record<string, string> = {}) => {
    const script = `const m = await import(${JSON.stringify(pathToFileURL(path.join(dir, 'bin/app-modules.js')).href)}); console.log(m.loadedFrom, (await m.importApp('src/db/answer')).from);`;
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    if (!('SWITCHBOARD_FROM_SOURCES' in env)) delete childEnv.SWITCHBOARD_FROM_SOURCES;
    return execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: childEnv, encoding: 'utf8' }).trim();
  };

  it('runs dist/ when the build is newer than every source', () => {
    expect(run()).to.equal('dist dist');
  });

  it('runs the sources when one was edited after the build, or when there is no build', () => {
    const future = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(dir, 'src/db/answer.ts'), future, future);
    expect(run()).to.equal('sources sources');
    fs.rmSync(path.join(dir, 'dist/.built'));
    expect(run()).to.equal('sources sources');
  });

  it('runs the sources when SWITCHBOARD_FROM_SOURCES=1, and dist/ in an image that ships no sources', () => {
    expect(run({ SWITCHBOARD_FROM_SOURCES: '1' })).to.equal('sources sources');
    fs.rmSync(path.join(dir, 'src'), { recursive: true });
    expect(run()).to.equal('dist dist');
  });
});
