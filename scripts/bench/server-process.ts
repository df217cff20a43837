import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// What the benchmarks run and read of the server under test: the built server in a process of its own, and its /proc figures.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * `node bin/switchboard.js serve` from the repository root, configured by
 * the environment (config/custom-environment-variables), logging warnings
 * only, HTTP on 127.0.0.1; `env` adds to or overrides that, `extraNodeArgs`
 * go to node after BENCH_NODE_ARGS.
 * BENCH_NODE_ARGS (e.g. --cpu-prof) go to node; BENCH_SERVER_OUT=file keeps
 * what the server prints (e.g. with BENCH_NODE_ARGS=--trace-gc).
 */
export function spawnBuiltServer(env: NodeJS.ProcessEnv, extraNodeArgs: readonly string[] = []): ChildProcess {
  const nodeArgs = [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), ...extraNodeArgs];
  const stdout = process.env.BENCH_SERVER_OUT ? fs.openSync(process.env.BENCH_SERVER_OUT, 'w') : 'ignore';
  return spawn(process.execPath, [...nodeArgs, path.join(root, 'bin/switchboard.js'), 'serve'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'development', HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
}

function statFields(pid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The server and its SIP workers (children). */
export function processTree(pid: number): number[] {
  const children = fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => {
      try {
        return Number(statFields(p)[1]) === pid;
      } catch {
        return false;
      }
    });
  return [pid, ...children.flatMap(processTree)];
}

/** [user, system] clock ticks (1/100 s, USER_HZ) of the process tree. */
export function cpuTicks(pid: number): [number, number] {
  return processTree(pid).reduce<[number, number]>(
    (sum, p) => {
      let f: string[];
      try {
        f = statFields(p);
      } catch {
        return sum; // exited between the listing and the read
      }
      return [sum[0] + Number(f[11]), sum[1] + Number(f[12])];
    },
    [0, 0],
  );
}

/** Resident memory of the process tree, MB. */
export function rssMb(pid: number): number {
  return Math.round(treeMb(pid, 'status', 'VmRSS'));
}

/**
 * Proportional resident memory of the process tree, MB: each shared page
 * (the node binary, a forked worker's inherited pages, Kamailio's shared
 * memory) counted once across the processes sharing it, where RSS counts it
 * in every one of them.
 */
export function pssMb(pid: number): number {
  return Math.round(treeMb(pid, 'smaps_rollup', 'Pss'));
}

/** A kB field of /proc/<pid>/<file> summed over the process tree, in MB. */
function treeMb(pid: number, file: string, field: string): number {
  const pattern = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm');
  return processTree(pid).reduce((sum, p) => {
    let text = '';
    try {
      text = fs.readFileSync(`/proc/${p}/${file}`, 'utf8');
    } catch {
      return sum; // exited between the listing and the read
    }
    const m = pattern.exec(text);
    return sum + (m ? Number(m[1]) / 1024 : 0);
  }, 0);
}

/**
 * [steal, total] clock ticks of the whole machine (/proc/stat). On a
 * virtual machine, time the hypervisor gave to other guests shows up in
 * every latency tail; a phase's share of it says how far to trust that tail.
 */
export function machineTicks(): { steal: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { steal: f[7] ?? 0, total: f.reduce((a, b) => a + b, 0) };
}
