#!/usr/bin/env node
// Runs the whole mocha suite on SQLite, then on MySQL/MariaDB.
// MariaDB is required in CI (CI=true) and wherever MYSQL_URL is set; elsewhere
// the MariaDB pass runs when the default local server answers.
import { spawnSync } from 'node:child_process';
import net from 'node:net';

const mysqlUrl = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const required = process.env.CI === 'true' || Boolean(process.env.MYSQL_URL);
const extra = process.argv.slice(2);

function run(dialect) {
  console.log(`\n=== test suite on ${dialect} ===`);
  const r = spawnSync('npx', ['mocha', ...extra], { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test', TEST_DATABASE: dialect, MYSQL_URL: mysqlUrl } });
  return r.status ?? 1;
}

function reachable(url) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port || 3306) });
    s.setTimeout(2000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

let status = run('sqlite');
if (await reachable(mysqlUrl)) {
  status = run('mysql') || status;
} else if (required) {
  console.error(`MariaDB/MySQL at ${mysqlUrl} is not reachable, and this run requires it`);
  status = 1;
} else {
  console.warn(`\nMariaDB/MySQL at ${mysqlUrl} is not reachable: the MySQL pass did not run (set MYSQL_URL or start MariaDB)`);
}
process.exit(status);
