import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Every file the entry points load through relative imports, transitively (Docker cannot run here; this reads instead). */
function reachableFiles(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      let target = path.resolve(path.dirname(file), m[1]!);
      if (!fs.existsSync(target) && target.endsWith('.js')) target = target.replace(/\.js$/, '.ts');
      if (fs.existsSync(target) && fs.statSync(target).isFile()) queue.push(target);
    }
  }
  return seen;
}

describe('Dockerfile', () => {
  const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('copies into the runtime image the build and every directory the server and SIP worker load code from', () => {
    const copied = new Set([...runtimeStage.matchAll(/^COPY (?:--from=\S+ )?(\S+) \.\/\S*$/gm)].map((m) => m[1]!.replace(/^\/app\//, '').replace(/\/$/, '')));
    // The entry points load the application from dist/ (compiled src/, sip/, server/): those must be built and copied.
    const files = reachableFiles([path.join(root, 'bin/switchboard.js'), path.join(root, 'bin/sip-worker.js')]);
    const dirs = new Set([...files].map((f) => path.relative(root, f).split(path.sep)[0]!));
    dirs.add('config'); // read by node-config at run time, not imported
    dirs.add('dist');
    expect([...dirs].filter((d) => !copied.has(d))).to.deep.equal([]);
    const build = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    const entryModules = [
      ...fs.readFileSync(path.join(root, 'bin/switchboard.js'), 'utf8').matchAll(/importApp\('([^']+)'\)/g),
      ...fs.readFileSync(path.join(root, 'bin/sip-worker.js'), 'utf8').matchAll(/importApp\('([^']+)'\)/g),
    ].map((m) => m[1]!.split('/')[0]!);
    expect(entryModules).to.not.be.empty;
    expect(build.include).to.include.members(entryModules);
    expect(dockerfile).to.match(/npm run build/);
  });

  it('runs as a non-root user and checks /healthz', () => {
    expect(runtimeStage).to.match(/^USER node$/m);
    expect(runtimeStage).to.match(/^HEALTHCHECK .*\n\s+CMD .*\/healthz/m);
  });
});
