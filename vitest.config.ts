import { defineConfig } from 'vitest/config';

/**
 * One runner for every workspace (docs/adr/0009-vitest.md). Three projects:
 * - `unit`: the tests beside the code in each package (`<pkg>/src/**\/*.test.ts`);
 * - `web`: the web app's component and unit tests (`web/src/**\/*.test.{ts,tsx}`), in happy-dom, with web/'s Vite config;
 * - `e2e`: cross-package, multi-process and conformance tests under `tests/` (real servers on loopback ports).
 * A path filter still works: `npm test -- platform/src/crypto` runs the files whose path contains it.
 * Timeouts are generous on purpose: the suite must pass on a loaded 2-core machine, and every wait inside a test is
 * bounded by a condition of its own.
 */
const workers = Number(process.env.TEST_CONCURRENCY ?? 2);

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: workers,
    env: { NODE_ENV: process.env.NODE_ENV ?? 'test' },
    reporters: ['default', './scripts/vitest-summary.reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{platform,federation-protocol,charter,registry,instance,cli}/src/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: './web/vite.config.ts',
        test: {
          name: 'web',
          include: ['web/src/**/*.test.{ts,tsx}'],
          environment: 'happy-dom',
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          globalSetup: ['./tests/support/engines/cassandra.global-setup.ts'],
          include: ['tests/**/*.test.ts'],
          exclude: ['tests/bench/**', '**/node_modules/**'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
