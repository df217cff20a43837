import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Everything is bundled into console/dist and served by Switchboard itself (no CDN): the console works on an isolated network.
export default defineConfig({
  root: path.dirname(fileURLToPath(import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The preload polyfill is not needed by the browsers we support, and nothing inline may run under the CSP.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
});
