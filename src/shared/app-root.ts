import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The application root (bin/, config/, package.json): the nearest directory
 * above this module that holds package.json. The same whether this module
 * runs from src/ or from the build in dist/src/, where a fixed `../..` would
 * point into dist/.
 */
export const APP_ROOT = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above the application code');
    dir = up;
  }
  return dir;
})();
