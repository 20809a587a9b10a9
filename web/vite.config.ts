import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The user's app, built to web/dist and served by every instance at `/` (instance/src/http/web-app.plugin.ts).
 * The instance's CSP allows scripts and styles from its own origin only: the build emits no inline script
 * (the module-preload polyfill is off; every chunk is a file under /assets).
 */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    // `npm run dev -w web`: the API of a local instance (npm start's alpha) behind the dev server.
    proxy: { '/api': process.env.CALIOPEN_API ?? 'http://127.0.0.1:8080' },
  },
});
