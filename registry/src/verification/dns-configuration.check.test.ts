import { afterAll, beforeAll, beforeEach, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { DnsPacketResolver } from '@caliopen/platform/dns/dns.resolver.ts';
import { runChecks } from './run-checks.ts';
import { DOMAIN, resultOf, startConfiguredInstance } from './target.fixture.ts';
import type { ConfiguredInstance } from './target.fixture.ts';
import type { CheckResult } from './check.types.ts';

const DNS_IDS = [
  'dns.discovery',
  'dns.tlsa.https',
  'dns.mx',
  'dns.spf',
  'dns.dmarc',
  'dns.dkim',
  'dns.mta-sts',
  'dns.tlsa.smtp',
];

describe('DNS configuration checks', () => {
  let instance: ConfiguredInstance;
  beforeAll(async () => {
    instance = await startConfiguredInstance();
  });
  afterAll(() => instance.close());
  beforeEach(() => instance.reset());

  const run = async (target = instance.target, options = instance.options()) => {
    const results = await runChecks(target, options);
    return (id: string): CheckResult => resultOf(results, id);
  };
  const discoveryValue = () =>
    `v=caliopen1; sig=ed25519:${instance.keys.signing.kid}; enc=x25519:${instance.keys.encryptionThumbprint}`;

  it('all pass for a correctly configured instance, none mandatory', async () => {
    const result = await run();
    for (const id of DNS_IDS) {
      assert.equal(result(id).status, 'pass', `${id}: ${result(id).evidence}`);
      assert.equal(result(id).mandatory, false);
    }
    assert.equal(
      result('dns.discovery').evidence,
      `_caliopen.${DOMAIN} names the application keys (sig ed25519:${instance.keys.signing.kid}, enc x25519:${instance.keys.encryptionThumbprint})`,
    );
    assert.equal(
      result('dns.tlsa.smtp').evidence,
      `TLSA _25._tcp.mail.${DOMAIN} 3 1 1 matches the certificate, DNSSEC-authenticated (AD bit set)`,
    );
  });

  describe('the discovery record', () => {
    it('missing: reported as missing, with the exact record to publish', async () => {
      delete instance.dns.zone[`_caliopen.${DOMAIN}`];
      const discovery = (await run())('dns.discovery');
      assert.equal(discovery.status, 'fail');
      assert.equal(discovery.points, 0);
      assert.equal(discovery.maxPoints, 10);
      assert.equal(
        discovery.evidence,
        `missing: no TXT record at _caliopen.${DOMAIN}; publish _caliopen.${DOMAIN}. TXT "${discoveryValue()}"`,
      );
    });

    it('naming other keys: fails with what differs', async () => {
      instance.dns.zone[`_caliopen.${DOMAIN}`] = [
        { type: 'TXT', data: `v=caliopen1; sig=ed25519:AAAA; enc=x25519:${instance.keys.encryptionThumbprint}` },
      ];
      const discovery = (await run())('dns.discovery');
      assert.equal(discovery.status, 'fail');
      assert.match(
        discovery.evidence,
        new RegExp(`sig="ed25519:AAAA" instead of ed25519:${instance.keys.signing.kid}; publish`),
      );
    });

    it('two records: fails, peers could not tell which holds', async () => {
      instance.dns.zone[`_caliopen.${DOMAIN}`] = [
        { type: 'TXT', data: discoveryValue() },
        { type: 'TXT', data: 'v=caliopen1; sig=ed25519:old' },
      ];
      assert.match(
        (await run())('dns.discovery').evidence,
        /^2 v=caliopen1 records at _caliopen\.alpha\.caliopen\.test/,
      );
    });
  });

  describe('a resolver that fails: a notice with no points and the reason, never a crash', () => {
    it('garbage answers', async () => {
      instance.dns.behaviour = ({ name }) => (name.startsWith('_caliopen-challenge') ? 'normal' : 'garbage');
      const result = await run();
      for (const id of DNS_IDS.filter((id) => id !== 'dns.dkim' || instance.target.dkimSelector)) {
        assert.equal(result(id).status, 'notice', `${id}: ${result(id).evidence}`);
        assert.equal(result(id).points, 0);
        assert.match(
          result(id).evidence,
          /^could not verify: the (TXT|MX|TLSA) lookup of \S+ failed: Undecodable DNS answer/,
          id,
        );
      }
      assert.equal(result('domain.control').status, 'pass');
    });

    it('timeouts', async () => {
      instance.dns.behaviour = 'silent';
      const resolver = new DnsPacketResolver({ host: instance.dns.host, port: instance.dns.port, timeoutMs: 300 });
      const result = await run(instance.target, instance.options({ resolver }));
      assert.equal(result('dns.discovery').status, 'notice');
      assert.match(
        result('dns.discovery').evidence,
        /^could not verify: the TXT lookup of _caliopen\.alpha\.caliopen\.test failed: DNS timeout: no answer within 300 ms/,
      );
      assert.match(result('dns.mx').evidence, /DNS timeout/);
    });

    it('SERVFAIL', async () => {
      instance.dns.behaviour = ({ type }) => (type === 'MX' ? 'servfail' : 'normal');
      const result = await run();
      assert.equal(result('dns.mx').status, 'notice');
      assert.match(result('dns.mx').evidence, /SERVFAIL for MX alpha\.caliopen\.test/);
      // DANE for SMTP is looked up at the domain when the MX is unknown.
      assert.match(result('dns.tlsa.smtp').evidence, new RegExp(`_25\\._tcp\\.${DOMAIN.replace(/\./g, '\\.')}`));
    });
  });

  describe('email records', () => {
    it('MX missing, or a null MX: fail with the record to publish', async () => {
      instance.dns.zone[DOMAIN] = instance.dns.zone[DOMAIN]!.filter((record) => record.type !== 'MX');
      assert.equal(
        (await run())('dns.mx').evidence,
        `missing: no MX record for ${DOMAIN}; publish ${DOMAIN}. MX 10 ${DOMAIN}.`,
      );
      instance.dns.zone[DOMAIN]!.push({ type: 'MX', data: { preference: 0, exchange: '.' } });
      assert.match((await run())('dns.mx').evidence, /null MX \(RFC 7505\)/);
    });

    it('DANE for SMTP is looked up at the primary MX host', async () => {
      instance.dns.zone[DOMAIN]!.push({ type: 'MX', data: { preference: 5, exchange: `mx0.${DOMAIN}` } });
      const smtp = (await run())('dns.tlsa.smtp');
      assert.equal(smtp.status, 'fail');
      assert.match(
        smtp.evidence,
        new RegExp(
          `^missing: no TLSA record at _25\\._tcp\\.mx0\\.${DOMAIN.replace(/\./g, '\\.')}; publish _25\\._tcp\\.mx0\\.${DOMAIN.replace(/\./g, '\\.')}\\. TLSA 3 1 1 ${instance.certificate.spkiSha256}`,
        ),
      );
    });

    it('SPF: ~all passes; +all, no all, two records and none fail', async () => {
      const spf = async (...records: string[]) => {
        instance.dns.zone[DOMAIN] = [
          ...instance.dns.zone[DOMAIN]!.filter((r) => r.type !== 'TXT'),
          ...records.map((data) => ({ type: 'TXT' as const, data })),
        ];
        return (await run())('dns.spf');
      };
      assert.equal((await spf('v=spf1 ip4:192.0.2.1 ~all')).status, 'pass');
      const open = await spf('v=spf1 +all');
      assert.equal(open.status, 'fail');
      assert.match(open.evidence, /ends with \+all, which lets anyone send as alpha\.caliopen\.test/);
      assert.match((await spf('v=spf1 mx')).evidence, /has no "all" mechanism/);
      assert.match((await spf('v=spf1 mx -all', 'v=spf1 -all')).evidence, /^2 SPF records/);
      assert.equal(
        (await spf('unrelated')).evidence,
        `missing: no SPF record (v=spf1) at ${DOMAIN}; publish ${DOMAIN}. TXT "v=spf1 mx -all"`,
      );
      assert.equal((await spf('v=spf1 redirect=_spf.example.net')).status, 'notice');
    });

    it('DMARC: quarantine passes, none is a notice with fewer points, missing fails', async () => {
      const dmarc = async (data?: string) => {
        if (data === undefined) delete instance.dns.zone[`_dmarc.${DOMAIN}`];
        else instance.dns.zone[`_dmarc.${DOMAIN}`] = [{ type: 'TXT', data }];
        return (await run())('dns.dmarc');
      };
      assert.equal((await dmarc('v=DMARC1; p=quarantine')).status, 'pass');
      const none = await dmarc('v=DMARC1; p=none; rua=mailto:x@example.org');
      assert.equal(none.status, 'notice');
      assert.equal(none.points, 2);
      assert.ok(none.points < none.maxPoints);
      const absent = await dmarc();
      assert.equal(absent.status, 'fail');
      assert.match(
        absent.evidence,
        /^missing: no DMARC record at _dmarc\.alpha\.caliopen\.test; publish _dmarc\.alpha\.caliopen\.test\. TXT "v=DMARC1; p=reject/,
      );
    });

    it('DKIM: info when no selector is known, fail when the key is missing or revoked', async () => {
      const { dkimSelector: _selector, ...withoutSelector } = instance.target;
      const unknown = (await run(withoutSelector))('dns.dkim');
      assert.equal(unknown.status, 'info');
      assert.equal(unknown.maxPoints, 0);
      instance.dns.zone[`cal1._domainkey.${DOMAIN}`] = [{ type: 'TXT', data: 'v=DKIM1; p=' }];
      assert.match((await run())('dns.dkim').evidence, /revoked or unreadable/);
      delete instance.dns.zone[`cal1._domainkey.${DOMAIN}`];
      assert.match(
        (await run())('dns.dkim').evidence,
        /^missing: no DKIM key record at cal1\._domainkey\.alpha\.caliopen\.test/,
      );
    });

    it('MTA-STS missing is a notice (nice to have), with the record to publish', async () => {
      delete instance.dns.zone[`_mta-sts.${DOMAIN}`];
      const sts = (await run())('dns.mta-sts');
      assert.equal(sts.status, 'notice');
      assert.equal(sts.maxPoints, 2);
      assert.match(
        sts.evidence,
        /^missing: no MTA-STS record at _mta-sts\.alpha\.caliopen\.test; publish _mta-sts\.alpha\.caliopen\.test\. TXT "v=STSv1; id=1"/,
      );
    });
  });

  describe('TLSA (DANE)', () => {
    it('matching but not DNSSEC-authenticated: a notice with half the points', async () => {
      instance.dns.authenticatedData = false;
      const result = await run();
      assert.equal(result('dns.tlsa.smtp').status, 'notice');
      assert.equal(result('dns.tlsa.smtp').points, 2);
      assert.match(
        result('dns.tlsa.smtp').evidence,
        /matches the certificate, but the answer was not DNSSEC-authenticated \(AD bit clear\)/,
      );
      assert.equal(result('dns.tlsa.https').points, 1);
    });

    it('3 0 1 (the whole certificate) matches too; another key does not', async () => {
      instance.dns.zone[`_443._tcp.${DOMAIN}`] = [
        {
          type: 'TLSA',
          data: { usage: 3, selector: 0, matchingType: 1, certificate: instance.certificate.fingerprintSha256 },
        },
      ];
      assert.equal((await run())('dns.tlsa.https').status, 'pass');
      instance.dns.zone[`_443._tcp.${DOMAIN}`] = [
        { type: 'TLSA', data: { usage: 3, selector: 1, matchingType: 1, certificate: 'cd'.repeat(32) } },
      ];
      const mismatch = (await run())('dns.tlsa.https');
      assert.equal(mismatch.status, 'fail');
      assert.match(
        mismatch.evidence,
        new RegExp(
          `does not match the certificate \\(SPKI SHA-256 ${instance.certificate.spkiSha256}\\); publish _443\\._tcp\\.alpha\\.caliopen\\.test\\. TLSA 3 1 1 ${instance.certificate.spkiSha256}`,
        ),
      );
    });

    it('missing for HTTPS is a notice (nice to have); for SMTP a fail (important)', async () => {
      delete instance.dns.zone[`_443._tcp.${DOMAIN}`];
      delete instance.dns.zone[`_25._tcp.mail.${DOMAIN}`];
      const result = await run();
      assert.equal(result('dns.tlsa.https').status, 'notice');
      assert.equal(result('dns.tlsa.smtp').status, 'fail');
    });
  });
});
