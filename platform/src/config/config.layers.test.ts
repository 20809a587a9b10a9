import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, test } from 'vitest';
import { deepMerge, layerConfig, readConfigFile, valuesFromEnv } from './config.layers.ts';

const dir = mkdtempSync(join(tmpdir(), 'config-layers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fail = (message: string) => new RangeError(message);

test('layers: defaults < file < environment < overrides, then the fixed values; objects merge key by key', () => {
  const merged = layerConfig({
    defaults: { http: { host: 'd', port: 1 }, log: 'info' },
    file: { http: { port: 2 } },
    env: { http: { port: 3 }, log: 'debug' },
    overrides: { log: 'warn' },
    fixed: { dataDir: '/data' },
  });
  assert.deepEqual(merged, { http: { host: 'd', port: 3 }, log: 'warn', dataDir: '/data' });
  assert.deepEqual(deepMerge({ a: [1, 2] }, { a: [3] }), { a: [3] }, 'arrays are replaced, not merged');
});

test('environment variables are typed by kind and remembered as sources; a bad value names the variable', () => {
  const keys = {
    PORT: { path: 'http.port', kind: 'integer' as const },
    PROXY: { path: 'http.trustProxy', kind: 'boolean' as const },
    HOSTS: { path: 'hosts', kind: 'list' as const },
    ROUTES: { path: 'routes', kind: 'map' as const },
  };
  const { values, sources } = valuesFromEnv(
    { PORT: '8080', PROXY: 'TRUE', HOSTS: 'a, b,', ROUTES: 'Example.org=127.0.0.1:25' },
    keys,
    fail,
  );
  assert.deepEqual(values, {
    http: { port: 8080, trustProxy: true },
    hosts: ['a', 'b'],
    routes: { 'example.org': '127.0.0.1:25' },
  });
  assert.equal(sources.get('http.port'), 'environment variable PORT');
  assert.throws(
    () => valuesFromEnv({ PORT: '80a' }, keys, fail),
    (e: Error) => e instanceof RangeError && /PORT/.test(e.message),
  );
});

test('the config file: absent is no values unless named; present it must be a JSON object', () => {
  const missing = join(dir, 'missing.json');
  assert.deepEqual(readConfigFile(missing, { explicit: false, fail }), { values: {}, exists: false });
  assert.throws(() => readConfigFile(missing, { explicit: true, fail }), /does not exist/);
  const good = join(dir, 'good.json');
  writeFileSync(good, '{"http":{"port":9}}');
  assert.deepEqual(readConfigFile(good, { explicit: true, fail }), { values: { http: { port: 9 } }, exists: true });
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '[1]');
  assert.throws(
    () => readConfigFile(bad, { explicit: false, fail, hint: 'Run init again.' }),
    (e: Error) =>
      e instanceof RangeError && /not valid JSON: the top level must be an object\. Run init again\.$/.test(e.message),
  );
});
