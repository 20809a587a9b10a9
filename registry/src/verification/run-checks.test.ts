import { afterAll, beforeAll, beforeEach, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { DnsPacketResolver } from '@caliopen/platform/dns/dns.resolver.ts';
import { runChecks } from './run-checks.ts';
import { DOMAIN, resultOf, startConfiguredInstance } from './target.fixture.ts';
import type { ConfiguredInstance } from './target.fixture.ts';

const ALL_IDS = [
  'domain.control',
  'tls.certificate.san',
  'tls.certificate.validity',
  'tls.certificate.key',
  'tls.certificate.live',
  'tls.version',
  'dns.discovery',
  'dns.tlsa.https',
  'dns.mx',
  'dns.spf',
  'dns.dmarc',
  'dns.dkim',
  'dns.mta-sts',
  'dns.tlsa.smtp',
  'federation.descriptor',
  'federation.descriptor.keys',
];

describe('runChecks', () => {
  let instance: ConfiguredInstance;
  beforeAll(async () => {
    instance = await startConfiguredInstance();
  });
  afterAll(() => instance.close());
  beforeEach(() => instance.reset());

  it('passes every check against a correctly configured instance (real DNS, TLS endpoint and signed descriptor)', async () => {
    const now = new Date();
    const results = await runChecks(instance.target, instance.options({ now }));
    assert.deepEqual(
      results.map((r) => r.id),
      ALL_IDS,
    );
    for (const result of results) {
      assert.equal(result.status, 'pass', `${result.id}: ${result.evidence}`);
      assert.equal(result.points, result.maxPoints, result.id);
      assert.equal(result.checkedAt, now.toISOString());
      assert.ok(result.evidence.length > 0);
    }
    assert.equal(
      resultOf(results, 'tls.certificate.live').evidence,
      `127.0.0.1:${instance.tls.port} (SNI ${DOMAIN}) presents the declared certificate (SHA-256 ${instance.certificate.fingerprintSha256})`,
    );
    assert.ok(
      instance.tls.requests.every(
        (request) => request.servername === DOMAIN && request.host === `${DOMAIN}:${instance.tls.port}`,
      ),
    );
    const mandatory = results.filter((r) => r.mandatory).map((r) => r.id);
    // The totals README.md states.
    assert.equal(
      results.reduce((sum, r) => sum + r.maxPoints, 0),
      109,
    );
    assert.equal(
      results.filter((r) => r.mandatory).reduce((sum, r) => sum + r.maxPoints, 0),
      65,
    );
    assert.deepEqual(mandatory, [
      'domain.control',
      'tls.certificate.san',
      'tls.certificate.validity',
      'tls.certificate.key',
      'tls.certificate.live',
      'federation.descriptor',
      'federation.descriptor.keys',
    ]);
  });

  it('reports only the discovery and HTTPS DANE records for an instance that does no email', async () => {
    const results = await runChecks({ ...instance.target, doesEmail: false }, instance.options());
    assert.deepEqual(
      results.filter((r) => r.id.startsWith('dns.')).map((r) => r.id),
      ['dns.discovery', 'dns.tlsa.https'],
    );
    assert.equal(
      results.reduce((sum, r) => sum + r.maxPoints, 0),
      82,
    );
  });

  it('never throws: a target that makes no sense yields a fail per check, with the reason', async () => {
    const results = await runChecks(
      { ...instance.target, httpsUrl: 'ftp://nowhere', certificatePem: 'not a certificate', domain: 'alpha..test' },
      instance.options(),
    );
    assert.deepEqual(
      results.map((r) => r.id),
      ALL_IDS,
    );
    for (const id of [
      'tls.certificate.san',
      'tls.certificate.live',
      'federation.descriptor',
      'federation.descriptor.keys',
      'domain.control',
    ]) {
      assert.equal(resultOf(results, id).status, 'fail', id);
    }
    assert.match(resultOf(results, 'tls.certificate.san').evidence, /not a PEM "CERTIFICATE" block/);
    assert.match(resultOf(results, 'tls.version').evidence, /ftp:\/\/nowhere\/ is not https:\/\//);
    assert.match(resultOf(results, 'dns.discovery').evidence, /could not verify: .*not a DNS name/);
  });

  it('a check group that runs out of time fails each of its checks with the reason, and the others still report', async () => {
    // A TCP listener that never completes a TLS handshake, and a DNS server that never answers.
    const sockets = new Set<Socket>();
    const tarpit: Server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => tarpit.listen(0, '127.0.0.1', resolve));
    const port = (tarpit.address() as { port: number }).port;
    instance.dns.behaviour = 'silent';
    const patientResolver = new DnsPacketResolver({
      host: instance.dns.host,
      port: instance.dns.port,
      timeoutMs: 5000,
    });
    try {
      const results = await runChecks(
        instance.target,
        instance.options({ connectTo: { host: '127.0.0.1', port }, resolver: patientResolver, timeoutMs: 1000 }),
      );
      assert.deepEqual(
        results.map((r) => r.id),
        ALL_IDS,
      );
      for (const id of ['tls.certificate.live', 'federation.descriptor', 'domain.control']) {
        const result = resultOf(results, id);
        assert.equal(result.status, 'fail', id);
        assert.match(result.evidence, /within \d+ ms/, `${id}: ${result.evidence}`);
      }
      // The certificate itself is still judged: only the live part needed the endpoint.
      assert.equal(resultOf(results, 'tls.certificate.san').status, 'pass');
      for (const id of ['dns.discovery', 'dns.mx', 'dns.tlsa.smtp']) {
        const result = resultOf(results, id);
        assert.equal(result.status, 'fail', id);
        assert.equal(result.points, 0);
        assert.match(result.evidence, /the DNS configuration checks did not finish within 1000 ms/, id);
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => tarpit.close(resolve));
    }
  });
});
