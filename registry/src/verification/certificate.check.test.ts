import { afterAll, beforeAll, beforeEach, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { generateCertificate, startTlsServer } from '../../../tests/support/tls-server.ts';
import type { TestKeyType } from '../../../tests/support/tls-server.ts';
import { assessKey, parseDeclaredCertificate, sanNameCovers } from './certificate.inspect.ts';
import { runChecks } from './run-checks.ts';
import { DOMAIN, resultOf, startConfiguredInstance } from './target.fixture.ts';
import type { ConfiguredInstance } from './target.fixture.ts';

const DAY = 24 * 3600 * 1000;

describe('certificate inspection', () => {
  it('SAN coverage: exact names, and wildcards for exactly one leftmost label', () => {
    const cases: [string, string, boolean][] = [
      ['alpha.example.org', 'alpha.example.org', true],
      ['ALPHA.example.org.', 'alpha.EXAMPLE.org', true],
      ['*.example.org', 'alpha.example.org', true],
      ['*.example.org', 'example.org', false],
      ['*.example.org', 'a.b.example.org', false],
      ['*.org', 'example.org', false],
      ['a*.example.org', 'ab.example.org', false],
      ['*.*.example.org', 'a.b.example.org', false],
      ['alpha.*.org', 'alpha.example.org', false],
      ['beta.example.org', 'alpha.example.org', false],
      ['example.org', 'alpha.example.org', false],
      ['', 'alpha.example.org', false],
    ];
    for (const [san, domain, expected] of cases)
      assert.equal(sanNameCovers(san, domain), expected, `${san} vs ${domain}`);
  });

  it('key assessment: RSA >= 2048, ECDSA P-256/P-384 and Ed25519 only', async () => {
    const expectations: [TestKeyType, boolean, string][] = [
      ['P-256', true, 'ECDSA P-256'],
      ['P-384', true, 'ECDSA P-384'],
      ['P-521', false, 'ECDSA P-521'],
      ['Ed25519', true, 'Ed25519'],
      ['RSA-2048', true, 'RSA 2048 bits'],
      ['RSA-1024', false, 'RSA 1024 bits'],
    ];
    for (const [key, acceptable, description] of expectations) {
      const assessment = assessKey(
        parseDeclaredCertificate((await generateCertificate({ names: [DOMAIN], key })).certPem),
      );
      assert.equal(assessment.acceptable, acceptable, key);
      assert.equal(assessment.description, description);
    }
  });

  it('refuses what is not a certificate, saying why', () => {
    assert.throws(() => parseDeclaredCertificate(''), /no certificate was declared/);
    assert.throws(() => parseDeclaredCertificate('hello'), /not a PEM "CERTIFICATE" block/);
    assert.throws(
      () => parseDeclaredCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'),
      /does not parse as X\.509/,
    );
    assert.throws(() => parseDeclaredCertificate('x'.repeat(70_000)), /longer than/);
  });
});

describe('certificate checks', () => {
  let instance: ConfiguredInstance;
  beforeAll(async () => {
    instance = await startConfiguredInstance();
  });
  afterAll(() => instance.close());
  beforeEach(() => instance.reset());

  /** Declares `certPem` and serves it from the instance, then runs the checks. */
  async function declareAndServe(options: Parameters<typeof generateCertificate>[0], now = new Date()) {
    const certificate = await generateCertificate(options);
    instance.tls.setCertificate(certificate);
    await instance.serveDescriptor({ certificateSha256: certificate.fingerprintSha256 });
    const results = await runChecks(
      { ...instance.target, certificatePem: certificate.certPem },
      instance.options({ now }),
    );
    return { certificate, results };
  }

  it('passes SAN, validity, key, live endpoint and TLS 1.3 for the configured instance, with evidence', async () => {
    const results = await runChecks(instance.target, instance.options());
    assert.equal(resultOf(results, 'tls.certificate.san').evidence, `certificate SAN [${DOMAIN}] covers ${DOMAIN}`);
    assert.match(
      resultOf(results, 'tls.certificate.validity').evidence,
      /^the certificate is valid from .* to .*, \d+ days left$/,
    );
    assert.equal(
      resultOf(results, 'tls.certificate.key').evidence,
      'the certificate key is ECDSA P-256, signed with SHA-256',
    );
    assert.equal(
      resultOf(results, 'tls.version').evidence,
      `127.0.0.1:${instance.tls.port} (SNI ${DOMAIN}) negotiated TLS 1.3`,
    );
  });

  it('accepts a wildcard that covers the domain', async () => {
    const { results } = await declareAndServe({ names: ['*.caliopen.test'] });
    const san = resultOf(results, 'tls.certificate.san');
    assert.equal(san.status, 'pass');
    assert.equal(san.evidence, `certificate SAN [*.caliopen.test] covers ${DOMAIN} (by *.caliopen.test)`);
  });

  it('fails when the SAN does not cover the domain, or there is no SAN', async () => {
    const { results } = await declareAndServe({ names: ['beta.caliopen.test', '*.alpha.caliopen.test'] });
    const san = resultOf(results, 'tls.certificate.san');
    assert.equal(san.status, 'fail');
    assert.equal(san.mandatory, true);
    assert.equal(san.evidence, `certificate SAN [beta.caliopen.test, *.alpha.caliopen.test] does not cover ${DOMAIN}`);
    assert.equal(
      resultOf(results, 'tls.certificate.live').status,
      'pass',
      'the endpoint does present the declared certificate',
    );

    const bare = await declareAndServe({ names: [], commonName: DOMAIN });
    assert.equal(
      resultOf(bare.results, 'tls.certificate.san').evidence,
      `the certificate has no DNS name in a SAN extension; it must name ${DOMAIN}`,
    );
  });

  it('fails an expired certificate, and one not valid yet', async () => {
    const notBefore = new Date(Date.now() - 400 * DAY);
    const notAfter = new Date(Date.now() - 5 * DAY);
    const { results } = await declareAndServe({ names: [DOMAIN], notBefore, notAfter });
    const validity = resultOf(results, 'tls.certificate.validity');
    assert.equal(validity.status, 'fail');
    assert.equal(validity.points, 0);
    assert.equal(
      validity.evidence,
      `the certificate expired: valid from ${notBefore.toISOString().replace(/\.\d+Z/, '.000Z')} to ${notAfter.toISOString().replace(/\.\d+Z/, '.000Z')}`,
    );

    const future = await declareAndServe({
      names: [DOMAIN],
      notBefore: new Date(Date.now() + 2 * DAY),
      notAfter: new Date(Date.now() + 90 * DAY),
    });
    assert.match(resultOf(future.results, 'tls.certificate.validity').evidence, /^the certificate is not valid yet/);
  });

  it('gives a notice with half the points under 14 days left', async () => {
    const { results } = await declareAndServe({
      names: [DOMAIN],
      notBefore: new Date(Date.now() - 80 * DAY),
      notAfter: new Date(Date.now() + 10 * DAY + 3600_000),
    });
    const validity = resultOf(results, 'tls.certificate.validity');
    assert.equal(validity.status, 'notice');
    assert.equal(validity.points, 5);
    assert.match(validity.evidence, /^the certificate expires in 10 day\(s\)/);
  });

  it('fails a weak key (RSA 1024) and accepts Ed25519 and RSA 2048', async () => {
    const weak = await generateCertificate({ names: [DOMAIN], key: 'RSA-1024' });
    const results = await runChecks({ ...instance.target, certificatePem: weak.certPem }, instance.options());
    const key = resultOf(results, 'tls.certificate.key');
    assert.equal(key.status, 'fail');
    assert.equal(key.evidence, 'the certificate key is RSA 1024 bits: RSA keys need at least 2048 bits');
    for (const type of ['Ed25519', 'RSA-2048'] as const) {
      const certificate = await generateCertificate({ names: [DOMAIN], key: type });
      const accepted = resultOf(
        await runChecks({ ...instance.target, certificatePem: certificate.certPem }, instance.options()),
        'tls.certificate.key',
      );
      assert.equal(accepted.status, 'pass', `${type}: ${accepted.evidence}`);
    }
  });

  it('fails the live check when the endpoint presents another certificate, with both fingerprints', async () => {
    const other = await generateCertificate({ names: [DOMAIN] });
    instance.tls.setCertificate(other);
    const results = await runChecks(instance.target, instance.options());
    const live = resultOf(results, 'tls.certificate.live');
    assert.equal(live.status, 'fail');
    assert.equal(live.mandatory, true);
    assert.equal(
      live.evidence,
      `127.0.0.1:${instance.tls.port} (SNI ${DOMAIN}) presents certificate SHA-256 ${other.fingerprintSha256}, not the declared ${instance.certificate.fingerprintSha256}`,
    );
    // The declared certificate itself is still fine.
    assert.equal(resultOf(results, 'tls.certificate.san').status, 'pass');
  });

  it('fails the live check and TLS version when nothing listens', async () => {
    const closed = await startTlsServer({ domain: DOMAIN });
    const port = closed.port;
    await closed.close();
    const results = await runChecks(instance.target, instance.options({ connectTo: { host: '127.0.0.1', port } }));
    assert.match(
      resultOf(results, 'tls.certificate.live').evidence,
      new RegExp(
        `^no TLS handshake with 127\\.0\\.0\\.1:${port} \\(SNI ${DOMAIN}\\): TLS connection to 127\\.0\\.0\\.1:${port} failed: .*ECONNREFUSED`,
      ),
    );
    assert.equal(resultOf(results, 'tls.version').status, 'fail');
  });

  it('gives TLS 1.2 a notice with partial points', async () => {
    const tls12 = await startTlsServer({ domain: DOMAIN, certificate: instance.certificate, maxVersion: 'TLSv1.2' });
    try {
      const results = await runChecks(
        instance.target,
        instance.options({ connectTo: { host: tls12.host, port: tls12.port } }),
      );
      const version = resultOf(results, 'tls.version');
      assert.equal(version.status, 'notice');
      assert.equal(version.points, 3);
      assert.match(version.evidence, /negotiated TLS 1\.2; enable TLS 1\.3$/);
      assert.equal(resultOf(results, 'tls.certificate.live').status, 'pass');
    } finally {
      await tls12.close();
    }
  });
});
