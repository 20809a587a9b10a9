/**
 * The instance's public HTTPS face: it presents the instance certificate, serves a descriptor signed by the instance
 * key (what registries and peers verify) and the registry's domain-control challenge.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:https';
import { afterAll, beforeAll, test } from 'vitest';
import { verifyDescriptor } from '@caliopen/federation-protocol';
import { writeApplicationState } from '@caliopen/instance/registry-client/application.store.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';

/** GET over TLS without the system CA (the certificate is self-signed); returns the peer certificate's fingerprint. */
function get(url: string): Promise<{ status: number; body: string; fingerprint: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, servername: 'alpha.test' }, (res) => {
      const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          fingerprint: createHash('sha256').update(cert.raw).digest('hex'),
          contentType: String(res.headers['content-type']),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

let inst: TestInstance;
beforeAll(async () => {
  inst = await startTestInstance();
});
afterAll(async () => {
  await inst.stop();
});

test('the descriptor is served over TLS with the instance certificate and verifies against the instance keys', async () => {
  const url = inst.running.publicUrl!;
  assert.match(url, /^https:\/\/alpha\.test:\d+$/);
  const local = url.replace('alpha.test', '127.0.0.1');
  const r = await get(`${local}/.well-known/caliopen`);
  assert.equal(r.status, 200);
  assert.match(r.contentType, /application\/jose/);
  const identity = JSON.parse(
    await import('node:fs').then((fs) => fs.readFileSync(`${inst.dataDir}/keys/identity.json`, 'utf8')),
  );
  const verified = await verifyDescriptor(r.body, { expectedDomain: 'alpha.test', now: Math.floor(Date.now() / 1000) });
  assert.ok(verified.ok, JSON.stringify(verified));
  if (!verified.ok) return;
  assert.deepEqual(verified.value.descriptor.keys.signing, identity.signing.publicJwk);
  assert.equal(
    verified.value.descriptor.certificateSha256,
    r.fingerprint,
    'the descriptor names the certificate the endpoint presents',
  );
  assert.equal(verified.value.descriptor.endpoints.https, url);
  const wrongDomain = await verifyDescriptor(r.body, {
    expectedDomain: 'beta.test',
    now: Math.floor(Date.now() / 1000),
  });
  assert.equal(wrongDomain.ok, false);
});

test('the registry challenge is served only for the token of the current application', async () => {
  const local = inst.running.publicUrl!.replace('alpha.test', '127.0.0.1');
  assert.equal((await get(`${local}/.well-known/caliopen-challenge/abcdefghijklmnopqrstuvwxyz`)).status, 404);
  writeApplicationState(inst.dataDir, {
    registryUrl: 'https://registry.test',
    applicationId: 'app-1',
    applicantTokenSealed: 'sealed',
    challenge: { token: 'tok_0123456789abcdefghij', value: 'value-to-serve-123' },
    appliedAt: new Date().toISOString(),
  });
  const ok = await get(`${local}/.well-known/caliopen-challenge/tok_0123456789abcdefghij`);
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'value-to-serve-123');
  assert.equal((await get(`${local}/.well-known/caliopen-challenge/tok_0123456789abcdefghiX`)).status, 404);
  assert.equal((await get(`${local}/.well-known/caliopen-challenge/..%2F..%2Fkeys`)).status, 404);
});
