#!/usr/bin/env node
// Runs the whole mocha suite on SQLite, then on MySQL/MariaDB, and closes with
// one "N passed, N failed" line over both passes.
// MariaDB is required in CI (CI=true) and wherever MYSQL_URL is set; elsewhere
// the MariaDB pass runs when the default local server answers.
import { spawn } from 'node:child_process';
import net from 'node:net';

const mysqlUrl = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const required = process.env.CI === 'true' || Boolean(process.env.MYSQL_URL);
const extra = process.argv.slice(2);
const totals = { passed: 0, failed: 0, pending: 0 };
// Mocha's failure reports, kept per pass: they are printed again after the
// totals, so the end of a long log (all a CI summary may keep) names them.
const failures = [];

function run(dialect) {
  console.log(`\n=== test suite on ${dialect} ===`);
  return new Promise((resolve) => {
    const child = spawn('npx', ['mocha', ...extra], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_ENV: 'test', TEST_DATABASE: dialect, MYSQL_URL: mysqlUrl },
    });
    let tail = '';
    let report = null; // from mocha's "N failing" line to the end of its output
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const text = chunk.toString();
      if (report !== null) report = (report + text).slice(0, 200000);
      tail = (tail + text).slice(-20000);
      if (report === null) {
        const at = tail.search(/\n\s*\d+ failing\n/);
        if (at >= 0) report = tail.slice(at);
      }
    });
    child.on('close', (code) => {
      const count = (word) => Number(/(\d+) (?:passing|failing|pending)/.test(tail) ? (tail.match(new RegExp(`(\\d+) ${word}`))?.[1] ?? 0) : 0);
      totals.passed += count('passing');
      totals.failed += count('failing');
      totals.pending += count('pending');
      if (code !== 0 && count('failing') === 0) totals.failed += 1; // a crash counts as a failure
      if (report !== null) failures.push(`--- failures on ${dialect} ---${report}`);
      else if (code !== 0) failures.push(`--- mocha on ${dialect} exited with code ${code} before reporting ---\n${tail.slice(-3000)}`);
      resolve(code ?? 1);
    });
  });
}

function reachable(url) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port || 3306) });
    s.setTimeout(2000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

let status = await run('sqlite');
if (await reachable(mysqlUrl)) {
  status = (await run('mysql')) || status;
} else if (required) {
  console.error(`MariaDB/MySQL at ${mysqlUrl} is not reachable, and this run requires it`);
  totals.failed += 1;
  status = 1;
} else {
  console.warn(`\nMariaDB/MySQL at ${mysqlUrl} is not reachable: the MySQL pass did not run (set MYSQL_URL or start MariaDB)`);
}
// Nothing may be skipped in CI: a pending test there is a CI bug.
if (process.env.CI === 'true' && totals.pending > 0) {
  console.error(`${totals.pending} tests are pending/skipped; CI runs everything`);
  status = status || 1;
}
for (const f of failures) console.log(`\n${f.trim()}`);
console.log(`\n${totals.passed} passed, ${totals.failed} failed${totals.pending ? `, ${totals.pending} skipped` : ''}`);
process.exit(status);
