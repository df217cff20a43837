import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AppConfig } from '../config.js';

/**
 * Production refuses to start without MASTER_KEY; development and test keep a
 * generated key in a file so restarts can still decrypt what they stored.
 */
export function resolveMasterKey(config: AppConfig): Buffer {
  const configured = config.secrets.masterKey.trim();
  if (configured) return decodeKey(configured, 'MASTER_KEY');
  if (config.env === 'production' || !config.secrets.masterKeyFile) {
    throw new Error('MASTER_KEY is not set. Generate one with: openssl rand -base64 32');
  }
  const file = path.resolve(config.secrets.masterKeyFile);
  if (fs.existsSync(file)) return decodeKey(fs.readFileSync(file, 'utf8').trim(), file);
  const key = crypto.randomBytes(32);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

/** Keys from MASTER_KEY_PREVIOUS: still decrypt, never encrypt. */
export function resolvePreviousMasterKeys(config: AppConfig): Buffer[] {
  return config.secrets.previousMasterKeys
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map((k, i) => decodeKey(k, `MASTER_KEY_PREVIOUS[${i}]`));
}

function decodeKey(text: string, source: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) throw new Error(`${source} must be base64 of exactly 32 bytes (got ${key.length})`);
  return key;
}
