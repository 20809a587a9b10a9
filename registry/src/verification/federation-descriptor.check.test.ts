import { afterAll, beforeAll, beforeEach, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { decodeBase64Url, encodeBase64Url } from '@caliopen/federation-protocol';
import { generateCertificate } from '../../../tests/support/tls-server.ts';
import { runChecks } from './run-checks.ts';
import { DOMAIN, instanceKeys, resultOf, startConfiguredInstance } from './target.fixture.ts';
import type { ConfiguredInstance } from './target.fixture.ts';

const PATH = '/.well-known/caliopen';

describe('federation descriptor checks', () => {
  let instance: ConfiguredInstance;
  beforeAll(async () => {
    instance = await startConfiguredInstance();
  });
  afterAll(() => instance.close());
  beforeEach(() => instance.reset());

  const run = async (target = instance.target) => {
    const results = await runChecks(target, instance.options());
    return {
      descriptor: resultOf(results, 'federation.descriptor'),
      keys: resultOf(results, 'federation.descriptor.keys'),
    };
  };

  it('passes: fetched over the pinned certificate, verified, keys and certificate match', async () => {
    const { descriptor, keys } = await run();
    assert.equal(descriptor.status, 'pass', descriptor.evidence);
    assert.match(
      descriptor.evidence,
      new RegExp(
        `served with the declared certificate, verifies with its signing key ${instance.keys.signing.kid} for ${DOMAIN}`,
      ),
    );
    assert.equal(keys.status, 'pass', keys.evidence);
    assert.equal(instance.tls.requests.filter((r) => r.path === PATH).length, 1);
  });

  it('fails the keys check when the application declares other keys than the descriptor carries', async () => {
    const other = instanceKeys();
    const { descriptor, keys } = await run({
      ...instance.target,
      signingKeyThumbprint: other.signing.kid,
      encryptionKeyThumbprint: other.encryptionThumbprint,
    });
    assert.equal(descriptor.status, 'pass');
    assert.equal(keys.status, 'fail');
    assert.equal(keys.mandatory, true);
    assert.equal(
      keys.evidence,
      `the descriptor does not match the application: signing key ${instance.keys.signing.kid} instead of ${other.signing.kid}; encryption key ${instance.keys.encryptionThumbprint} instead of ${other.encryptionThumbprint}`,
    );
  });

  it('fails the keys check when the instance serves a descriptor of other keys, or of another certificate', async () => {
    const other = instanceKeys();
    await instance.serveDescriptor({}, other);
    assert.match(
      (await run()).keys.evidence,
      new RegExp(`signing key ${other.signing.kid} instead of ${instance.keys.signing.kid}`),
    );
    await instance.serveDescriptor({ certificateSha256: 'ee'.repeat(32) });
    assert.match(
      (await run()).keys.evidence,
      new RegExp(`certificate SHA-256 ${'ee'.repeat(32)} instead of ${instance.certificate.fingerprintSha256}`),
    );
  });

  it('fails on a bad signature, with the protocol code, and then cannot compare keys', async () => {
    const jws = await instance.serveDescriptor();
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    const bytes = decodeBase64Url(signature)!;
    bytes[0]! ^= 0x01;
    instance.tls.routes.set(PATH, `${header}.${payload}.${encodeBase64Url(bytes)}`);
    const { descriptor, keys } = await run();
    assert.equal(descriptor.status, 'fail');
    assert.match(
      descriptor.evidence,
      /is refused: descriptor_bad_signature: The signature does not verify with the carried signing key/,
    );
    assert.equal(keys.status, 'fail');
    assert.match(keys.evidence, /^no verified descriptor to compare the keys with \(/);
  });

  it('fails a descriptor for another domain, or one that is not a descriptor', async () => {
    await instance.serveDescriptor({ domain: 'mallory.example' });
    assert.match(
      (await run()).descriptor.evidence,
      /descriptor_wrong_domain: The descriptor is for "mallory\.example", not "alpha\.caliopen\.test"/,
    );
    instance.tls.routes.set(PATH, '<html>hello</html>');
    assert.match((await run()).descriptor.evidence, /descriptor_malformed/);
  });

  it('keeps evidence built from hostile input to one bounded line', async () => {
    const header = Buffer.from(
      JSON.stringify({ alg: `X\n${'A'.repeat(5000)}`, typ: 'caliopen-descriptor+jws' }),
    ).toString('base64url');
    instance.tls.routes.set(PATH, `${header}.e30.${'A'.repeat(86)}`);
    const { descriptor } = await run();
    assert.equal(descriptor.status, 'fail');
    assert.match(descriptor.evidence, /descriptor_malformed: The JWS algorithm must be EdDSA, not X\?AAAA/);
    assert.ok(descriptor.evidence.length <= 1000, `${descriptor.evidence.length} characters`);
    assert.ok(!/[\u0000-\u001f]/.test(descriptor.evidence));
  });

  it('refuses a descriptor served under another certificate, sending nothing to that server', async () => {
    const impostor = await generateCertificate({ names: [DOMAIN] });
    instance.tls.setCertificate(impostor);
    instance.tls.requests.length = 0;
    const { descriptor } = await run();
    assert.equal(descriptor.status, 'fail');
    assert.match(
      descriptor.evidence,
      new RegExp(
        `presented certificate SHA-256 ${impostor.fingerprintSha256}, not the declared ${instance.certificate.fingerprintSha256}; nothing was sent`,
      ),
    );
    assert.equal(instance.tls.requests.length, 0);
  });

  it('fails when the descriptor is missing, redirected or oversized', async () => {
    instance.tls.routes.delete(PATH);
    assert.match((await run()).descriptor.evidence, /\/\.well-known\/caliopen answered 404$/);
    instance.tls.routes.set(PATH, { status: 302, headers: { location: 'https://elsewhere.example/' } });
    assert.match((await run()).descriptor.evidence, /answered 302$/);
    instance.tls.routes.set(PATH, 'e'.repeat(100_000));
    assert.match((await run()).descriptor.evidence, /8192/);
  });
});
