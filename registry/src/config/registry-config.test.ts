import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'vitest';
import { loadRegistryConfig, RegistryConfigError } from './registry-config.ts';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'registry-config-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('defaults < file < environment < overrides', () => {
  withDir((dir) => {
    writeFileSync(
      join(dir, 'registry.json'),
      JSON.stringify({ origin: 'reg.example', audit: { approvalsRequired: 3 }, http: { port: 9000 } }),
    );
    const config = loadRegistryConfig({
      dataDir: dir,
      env: {
        CALIOPEN_REGISTRY_HTTP_PORT: '9100',
        CALIOPEN_REGISTRY_CONNECT_TO: 'a.test=127.0.0.1:8443, b.test=[::1]:443',
      },
      overrides: { labels: { lifetimeDays: 3 } },
    });
    assert.equal(config.origin, 'reg.example');
    assert.equal(config.audit.approvalsRequired, 3);
    assert.equal(config.http.port, 9100);
    assert.equal(config.labels.lifetimeDays, 3);
    assert.equal(config.labels.renewAtFraction, 0.5);
    assert.deepEqual(config.checks.connectTo, { 'a.test': '127.0.0.1:8443', 'b.test': '[::1]:443' });
    assert.equal(config.configFile, join(dir, 'registry.json'));
  });
});

test('a bad value names its key and where it came from; a missing origin says how to set one', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ origin: 'reg.example', labels: { lifetimeDays: 30 } }));
    assert.throws(
      () => loadRegistryConfig({ dataDir: dir, env: {} }),
      (e: Error) =>
        e instanceof RegistryConfigError && /labels\.lifetimeDays/.test(e.message) && /registry\.json/.test(e.message),
    );
    assert.throws(
      () => loadRegistryConfig({ dataDir: dir, env: { CALIOPEN_REGISTRY_APPROVALS: 'two' } }),
      /CALIOPEN_REGISTRY_APPROVALS \(audit\.approvalsRequired\) must be an integer/,
    );
    assert.throws(
      () => loadRegistryConfig({ dataDir: dir, env: { CALIOPEN_REGISTRY_CONNECT_TO: 'nonsense' } }),
      /domain=host:port/,
    );
  });
  withDir((dir) => {
    assert.throws(
      () => loadRegistryConfig({ dataDir: dir, env: {} }),
      /"origin" is missing: run `caliopen registry init/,
    );
  });
  withDir((dir) => {
    writeFileSync(
      join(dir, 'registry.json'),
      JSON.stringify({ origin: 'reg.example', labels: { lifetimeDays: 7, colour: 'red' } }),
    );
    assert.throws(() => loadRegistryConfig({ dataDir: dir, env: {} }), /colour/);
  });
});

test('distributed engines need their settings', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ origin: 'reg.example' }));
    assert.throws(
      () => loadRegistryConfig({ dataDir: dir, env: { CALIOPEN_STORAGE: 'cassandra' } }),
      /CASSANDRA_CONTACT_POINTS/,
    );
    assert.throws(() => loadRegistryConfig({ dataDir: dir, env: { CALIOPEN_QUEUE: 'bullmq' } }), /REDIS_URL/);
  });
});
