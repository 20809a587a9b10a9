import assert from 'node:assert/strict';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Answer } from 'dns-packet';
import { tempDir } from '../../../tests/support/tmp.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { dkimTxtValue } from '../identity/dkim-key.ts';
import { createInstanceIdentity, dnsRecords, type InstanceIdentity } from '../identity/instance-identity.ts';
import { buildDnsZone, type DnsZone } from './dns-zone.ts';
import { openPgpKeyHash, openPgpKeyName } from './key-names.ts';
import { LocalPartDirectory } from './local-part.directory.ts';
import { MemoryPublishedKeys } from './published-keys.memory.ts';

const data = <T>(record: Answer | undefined) => (record as unknown as { data: T }).data;

describe('the instance zone', () => {
  const tmp = tempDir('caliopen-zone-');
  let identity: InstanceIdentity;
  let zone: DnsZone;
  const keys = new MemoryPublishedKeys();
  const aliceKey = randomBytes(300);
  let usernames = ['alice', 'bob'];

  beforeAll(async () => {
    identity = await createInstanceIdentity(tmp.dir, 'alpha.test', new SecretBox(randomBytes(32)));
    keys.set('alice', aliceKey);
    const localParts = new LocalPartDirectory({
      listUsernames: async (after) => (after === undefined ? usernames : []),
      missRefreshMs: 0,
    });
    zone = buildDnsZone({ identity, addresses: ['192.0.2.10', '2001:db8::10'], keys, localParts, serial: 2024010101 });
  });
  afterAll(() => tmp.cleanup());

  it('has SOA and NS at the apex, the name server at the configured addresses', async () => {
    const soa = await zone.answer('alpha.test', 'SOA');
    assert.equal(soa.rcode, 'NOERROR');
    assert.ok(soa.rcode === 'NOERROR');
    const value = data<{ mname: string; rname: string; serial: number; minimum: number }>(soa.answers[0]);
    assert.deepEqual(
      [value.mname, value.rname, value.serial, value.minimum],
      ['ns.alpha.test', 'hostmaster.alpha.test', 2024010101, 60],
    );
    const ns = await zone.answer('alpha.test', 'NS');
    assert.ok(ns.rcode === 'NOERROR');
    assert.deepEqual(
      ns.answers.map((a) => data<string>(a)),
      ['ns.alpha.test'],
    );
    const glue = await zone.answer('ns.alpha.test', 'A');
    assert.ok(glue.rcode === 'NOERROR');
    assert.deepEqual(
      glue.answers.map((a) => data<string>(a)),
      ['192.0.2.10'],
    );
    const glue6 = await zone.answer('ns.alpha.test', 'AAAA');
    assert.ok(glue6.rcode === 'NOERROR');
    assert.deepEqual(
      glue6.answers.map((a) => data<string>(a)),
      ['2001:db8::10'],
    );
  });

  it('serves every record dnsRecords() prints, with the same values', async () => {
    for (const record of dnsRecords(identity)) {
      const name = record.name.replace(/\.$/, '');
      const types = record.type === 'A/AAAA' ? ['A', 'AAAA'] : [record.type];
      for (const type of types) {
        const answer = await zone.answer(name, type);
        assert.ok(answer.rcode === 'NOERROR' && answer.answers.length > 0, `${type} ${name}`);
      }
    }
    const apex = await zone.answer('alpha.test', 'A');
    assert.ok(apex.rcode === 'NOERROR');
    assert.deepEqual(
      apex.answers.map((a) => data<string>(a)),
      ['192.0.2.10'],
    );
    const mx = await zone.answer('alpha.test', 'MX');
    assert.ok(mx.rcode === 'NOERROR');
    assert.deepEqual(data(mx.answers[0]), { preference: 10, exchange: 'alpha.test' });
    const dkim = await zone.answer('caliopen1._domainkey.alpha.test', 'TXT');
    assert.ok(dkim.rcode === 'NOERROR');
    const strings = data<Buffer[]>(dkim.answers[0]);
    assert.ok(
      strings.length > 1 && strings.every((s) => s.length <= 255),
      'the DKIM key is cut into character-strings',
    );
    assert.equal(Buffer.concat(strings).toString(), dkimTxtValue(identity.dkim.publicKeyPem));
    const discovery = await zone.answer('_caliopen.alpha.test', 'TXT');
    assert.ok(discovery.rcode === 'NOERROR');
    assert.equal(
      Buffer.concat(data<Buffer[]>(discovery.answers[0])).toString(),
      `v=caliopen1; sig=ed25519:${identity.signing.thumbprint}; enc=x25519:${identity.encryption.thumbprint}`,
    );
  });

  it('TLSA 3 1 1 for HTTPS and SMTP is the SHA-256 of the certificate SubjectPublicKeyInfo', async () => {
    const spki = new X509Certificate(identity.tls.certPem).publicKey.export({ type: 'spki', format: 'der' });
    const expected = createHash('sha256').update(spki).digest();
    for (const name of ['_443._tcp.alpha.test', '_25._tcp.alpha.test']) {
      const tlsa = await zone.answer(name, 'TLSA');
      assert.ok(tlsa.rcode === 'NOERROR');
      const value = data<{ usage: number; selector: number; matchingType: number; certificate: Buffer }>(
        tlsa.answers[0],
      );
      assert.deepEqual([value.usage, value.selector, value.matchingType], [3, 1, 1]);
      assert.deepEqual(value.certificate, expected);
    }
  });

  it('answers OPENPGPKEY from the key source, by the hash of the username', async () => {
    const name = openPgpKeyName('alice', 'alpha.test');
    const answer = await zone.answer(name, 'UNKNOWN_61');
    assert.ok(answer.rcode === 'NOERROR');
    assert.equal(answer.answers.length, 1);
    assert.equal(answer.answers[0]!.type, 'UNKNOWN_61');
    assert.deepEqual(data<Buffer>(answer.answers[0]), aliceKey);
    // ANY includes it; another type at that name is NODATA.
    const any = await zone.answer(name, 'ANY');
    assert.ok(any.rcode === 'NOERROR' && any.answers.length === 1);
    const txt = await zone.answer(name, 'TXT');
    assert.ok(txt.rcode === 'NOERROR' && txt.answers.length === 0 && txt.authorities[0]!.type === 'SOA');
  });

  it('a user without a key, an unknown user, a case variant and junk labels are NXDOMAIN with the SOA', async () => {
    for (const name of [
      openPgpKeyName('bob', 'alpha.test'),
      openPgpKeyName('carol', 'alpha.test'),
      openPgpKeyName('Alice', 'alpha.test'),
      `zz${openPgpKeyHash('alice').slice(2)}x._openpgpkey.alpha.test`,
      `x.${openPgpKeyName('alice', 'alpha.test')}`,
      'nothing.alpha.test',
    ]) {
      const answer = await zone.answer(name, 'UNKNOWN_61');
      assert.equal(answer.rcode, 'NXDOMAIN', name);
      assert.ok(answer.rcode === 'NXDOMAIN' && answer.authorities[0]!.type === 'SOA');
    }
  });

  it('a user created after the map was built is found (a miss rebuilds it)', async () => {
    keys.set('dave', randomBytes(40));
    usernames = [...usernames, 'dave'];
    const answer = await zone.answer(openPgpKeyName('dave', 'alpha.test'), 'UNKNOWN_61');
    assert.equal(answer.rcode, 'NOERROR');
  });

  it('empty non-terminals are NODATA, names elsewhere REFUSED', async () => {
    for (const name of ['_tcp.alpha.test', '_domainkey.alpha.test', '_openpgpkey.alpha.test']) {
      const answer = await zone.answer(name, 'A');
      assert.ok(answer.rcode === 'NOERROR' && answer.answers.length === 0, name);
    }
    assert.equal((await zone.answer('beta.test', 'A')).rcode, 'REFUSED');
    assert.equal((await zone.answer('xalpha.test', 'A')).rcode, 'REFUSED');
    assert.equal((await zone.answer('openpgpkey.alpha.test', 'A')).rcode, 'NXDOMAIN', 'no WKD advanced-method host');
  });

  it('a failing key source is SERVFAIL, not a crash', async () => {
    const broken = buildDnsZone({
      identity,
      addresses: ['127.0.0.1'],
      keys: { publicKeyOf: async () => Promise.reject(new Error('database down')) },
      localParts: new LocalPartDirectory({ listUsernames: async () => ['alice'] }),
    });
    assert.equal((await broken.answer(openPgpKeyName('alice', 'alpha.test'), 'UNKNOWN_61')).rcode, 'SERVFAIL');
  });

  it('refuses to build with an address that is not one', () => {
    const localParts = new LocalPartDirectory({ listUsernames: async () => [] });
    assert.throws(
      () => buildDnsZone({ identity, addresses: ['example.org'], keys, localParts }),
      /not an IPv4 or IPv6 address/,
    );
    assert.throws(() => buildDnsZone({ identity, addresses: [], keys, localParts }), /at least one address/);
  });
});
