import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The association's public site (web/src/registry), built to web/dist-registry and served by the registry at `/`
 * (registry/src/http/registry-web.plugin.ts) under a CSP without inline script. The `federation-protocol` package is
 * bundled so proofs are verified in the browser: its two Node imports are replaced by small browser modules
 * (SHA-256 from @noble/hashes for `node:crypto`'s createHash; the `buffer` package for the global Buffer).
 */
export default defineConfig({
  root: `${import.meta.dirname}/src/registry`,
  base: '/',
  publicDir: `${import.meta.dirname}/public`,
  plugins: [react()],
  resolve: {
    alias: {
      'node:crypto': `${import.meta.dirname}/src/registry/shims/node-crypto.ts`,
    },
  },
  build: {
    outDir: `${import.meta.dirname}/dist-registry`,
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    proxy: { '/v1': process.env.CALIOPEN_REGISTRY ?? 'http://127.0.0.1:8090' },
  },
});
