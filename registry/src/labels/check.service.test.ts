import assert from 'node:assert/strict';
import { test } from 'vitest';
import type { Application } from './application.entity.ts';
import type { RegistryConfig } from '../config/registry-config.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { VerificationOptions } from '../verification/check.types.ts';
import { CheckService, type Lookup, type RunChecks } from './check.service.ts';

const app = {
  id: 'a1',
  domain: 'alpha.example',
  endpoints: { https: 'https://alpha.example:8443' },
  certificatePem: '',
  keyThumbprints: { signing: 's', encryption: 'e' },
  challenge: { token: 't', value: 'v' },
  declaration: { doesEmail: false },
} as unknown as Application;

function service(lookup: Lookup, checks: Partial<RegistryConfig['checks']> = {}) {
  const calls: VerificationOptions[] = [];
  const runChecks: RunChecks = async (_target, options) => {
    calls.push(options);
    return [];
  };
  const stored: unknown[] = [];
  const storage = { checkRuns: { add: async (run: unknown) => void stored.push(run) } } as unknown as RegistryStorage;
  const config = {
    checks: { recheckIntervalHours: 6, timeoutMs: 1000, connectTo: {}, allowPrivateTargets: false, ...checks },
  } as unknown as RegistryConfig;
  const resolver = { txt: async () => [], mx: async () => [], tlsa: async () => [] };
  return {
    svc: new CheckService(storage, runChecks, resolver, config, () => new Date('2026-11-22T00:00:00Z'), lookup),
    calls,
    stored,
  };
}

test('an endpoint resolving to a loopback or private address is refused without any connection', async () => {
  for (const address of ['127.0.0.1', '10.1.2.3', '169.254.169.254', '::1', 'fd00::1']) {
    const { svc, calls } = service(async () => [{ address }]);
    const run = await svc.run(app, 'applicant');
    assert.equal(calls.length, 0, `no check ran against ${address}`);
    assert.equal(run.mandatoryPassed, false);
    assert.equal(run.results[0]?.id, 'network.target');
    assert.match(run.results[0]!.evidence, new RegExp(`resolves to ${address.replace(/[.]/g, '\\.')}`));
  }
});

test('a public address is pinned for the checks (no second lookup can swap it); operators may allow private targets', async () => {
  const pub = service(async () => [{ address: '93.184.216.34' }]);
  await pub.svc.run(app, 'applicant');
  assert.deepEqual(pub.calls[0]?.connectTo, { host: '93.184.216.34', port: 8443 });

  const allowed = service(async () => [{ address: '10.0.0.7' }], { allowPrivateTargets: true });
  await allowed.svc.run(app, 'applicant');
  assert.deepEqual(allowed.calls[0]?.connectTo, { host: '10.0.0.7', port: 8443 });

  const configured = service(async () => assert.fail('no lookup when the operator says where to connect'), {
    connectTo: { 'alpha.example': '127.0.0.1:9443' },
  });
  await configured.svc.run(app, 'applicant');
  assert.deepEqual(configured.calls[0]?.connectTo, { host: '127.0.0.1', port: 9443 });
});
