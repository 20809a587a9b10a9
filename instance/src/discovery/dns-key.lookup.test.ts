import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import fc from 'fast-check';
import pino from 'pino';
import { startDnsServer, type DnsBehaviour, type TestDnsServer } from '../../../tests/support/dns-server.ts';
import { tempDir } from '../../../tests/support/tmp.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { createInstanceIdentity, type InstanceIdentity } from '../identity/instance-identity.ts';
import { buildDnsZone } from './dns-zone.ts';
import { startDnsResponder, type DnsResponder } from './dns.responder.ts';
import type { DnsResolverErrorCode } from '@caliopen/platform/dns/dns.resolver.ts';
import { lookupOpenPgpKey, lookupTlsa } from './dns-key.lookup.ts';
import { openPgpKeyName } from './key-names.ts';
import { LocalPartDirectory } from './local-part.directory.ts';
import { MemoryPublishedKeys } from './published-keys.memory.ts';

describe('the resolver against the instance responder', () => {
  const tmp = tempDir('caliopen-resolver-');
  const keys = new MemoryPublishedKeys();
  const aliceKey = randomBytes(500);
  const bigKey = randomBytes(4000);
  let identity: InstanceIdentity;
  let responder: DnsResponder;
  let servers: string[];

  beforeAll(async () => {
    identity = await createInstanceIdentity(tmp.dir, 'alpha.test', new SecretBox(randomBytes(32)));
    keys.set('alice', aliceKey).set('big', bigKey);
    const localParts = new LocalPartDirectory({
      listUsernames: async (after) => (after === undefined ? ['alice', 'big'] : []),
    });
    const zone = buildDnsZone({ identity, addresses: ['127.0.0.1'], keys, localParts });
    responder = await startDnsResponder({ host: '127.0.0.1', port: 0, zone, logger: pino({ level: 'silent' }) });
    servers = [`127.0.0.1:${responder.udpPort}`];
  });
  afterAll(async () => {
    await responder.stop();
    tmp.cleanup();
  });

  it('finds a user key by RFC 7929, over UDP, and a large one over TCP after truncation', async () => {
    const found = await lookupOpenPgpKey('alice@alpha.test', { servers });
    assert.equal(found.error, null);
    assert.deepEqual(found.key, new Uint8Array(aliceKey));
    assert.equal(found.keys.length, 1);
    assert.deepEqual(
      [found.rcode, found.transport, found.server, found.name],
      ['NOERROR', 'udp', servers[0], openPgpKeyName('alice', 'alpha.test')],
    );
    assert.equal(found.dnssecValidated, false, 'our zone is unsigned; no AD bit');
    const big = await lookupOpenPgpKey('big@alpha.test', { servers });
    assert.equal(big.transport, 'tcp');
    assert.deepEqual(big.key, new Uint8Array(bigKey));
  });

  it('a capitalised local part falls back to lowercase; an unknown user is NXDOMAIN without error', async () => {
    const capital = await lookupOpenPgpKey('Alice@Alpha.Test', { servers });
    assert.deepEqual(capital.key, new Uint8Array(aliceKey));
    assert.equal(capital.name, openPgpKeyName('alice', 'alpha.test'));
    const nobody = await lookupOpenPgpKey('nobody@alpha.test', { servers });
    assert.deepEqual([nobody.key, nobody.rcode, nobody.error], [null, 'NXDOMAIN', null]);
  });

  it('TLSA of the instance services', async () => {
    const tlsa = await lookupTlsa('alpha.test', 443, { servers });
    assert.equal(tlsa.error, null);
    assert.deepEqual(tlsa.records, [{ usage: 3, selector: 1, matchingType: 1, data: identity.tls.spkiSha256 }]);
    assert.equal(tlsa.name, '_443._tcp.alpha.test');
    const refused = await lookupTlsa('example.org', 443, { servers });
    assert.equal(refused.error?.code, 'dns_refused', 'the responder is authoritative for its zone only');
  });
});

describe('the resolver against a hostile DNS server', () => {
  let server: TestDnsServer;
  let servers: string[];
  const key = randomBytes(64);
  const name = openPgpKeyName('carol', 'remote.test');

  beforeAll(async () => {
    server = await startDnsServer({
      zone: {
        [name]: [{ type: 'UNKNOWN_61', data: key }],
        '_25._tcp.remote.test': [{ type: 'TXT', data: 'not tlsa' }],
      },
    });
    servers = [`127.0.0.1:${server.port}`];
  });
  afterAll(() => server.close());

  const expectations: [DnsBehaviour, DnsResolverErrorCode | null][] = [
    ['normal', null],
    ['truncated', null],
    ['garbage', 'dns_malformed_reply'],
    ['garbage-random-id', 'dns_timeout'],
    ['wrong-id', 'dns_timeout'],
    ['wrong-question', 'dns_mismatched_reply'],
    ['not-response', 'dns_mismatched_reply'],
    ['cut', 'dns_malformed_reply'],
    ['truncated-tcp-closed', 'dns_malformed_reply'],
    ['compression-loop', 'dns_malformed_reply'],
    ['servfail', 'dns_server_failure'],
    ['refused', 'dns_refused'],
    ['silent', 'dns_timeout'],
  ];
  for (const [behaviour, code] of expectations) {
    it(`${behaviour}: ${code ?? 'the key'}`, async () => {
      server.behaviour = behaviour;
      try {
        const result = await lookupOpenPgpKey('carol@remote.test', { servers, timeoutMs: 400 });
        if (code === null) {
          assert.equal(result.error, null);
          assert.deepEqual(result.key, new Uint8Array(key));
          if (behaviour === 'truncated') assert.equal(result.transport, 'tcp');
        } else {
          assert.equal(result.error?.code, code, result.error?.message);
          assert.equal(result.key, null);
          assert.equal(result.dnssecValidated, false);
          assert.ok(result.error.message.length > 0 && result.error.message.length < 400);
        }
      } finally {
        server.behaviour = 'normal';
      }
    });
  }

  it('the AD bit counts only from a trusted resolver', async () => {
    server.authenticatedData = true;
    try {
      assert.equal((await lookupOpenPgpKey('carol@remote.test', { servers })).dnssecValidated, false);
      assert.equal((await lookupOpenPgpKey('carol@remote.test', { servers, trustAd: true })).dnssecValidated, true);
    } finally {
      server.authenticatedData = false;
    }
    assert.equal((await lookupOpenPgpKey('carol@remote.test', { servers, trustAd: true })).dnssecValidated, false);
  });

  it('the next server is asked when one fails', async () => {
    const dead = await startDnsServer();
    dead.behaviour = 'silent';
    try {
      const result = await lookupOpenPgpKey('carol@remote.test', {
        servers: [`127.0.0.1:${dead.port}`, ...servers],
        timeoutMs: 300,
      });
      assert.equal(result.error, null);
      assert.equal(result.server, servers[0]);
    } finally {
      await dead.close();
    }
  });

  it('oversized, empty and wrongly typed records are refused, not passed on', async () => {
    const oversize = await lookupOpenPgpKey('carol@remote.test', { servers, maxKeyBytes: 32 });
    assert.equal(oversize.error?.code, 'dns_bad_record');
    assert.equal(oversize.key, null);
    server.zone[name] = [{ type: 'UNKNOWN_61', data: Buffer.alloc(0) }];
    try {
      assert.equal((await lookupOpenPgpKey('carol@remote.test', { servers })).error?.code, 'dns_bad_record');
    } finally {
      server.zone[name] = [{ type: 'UNKNOWN_61', data: key }];
    }
    // A TXT record where TLSA was asked is not a TLSA record: none found.
    const tlsa = await lookupTlsa('remote.test', 25, { servers });
    assert.deepEqual([tlsa.records, tlsa.error], [[], null]);
  });

  it('random bytes with our id never throw (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        server.behaviour = ({ id }) => {
          const raw = Buffer.concat([Buffer.from([id >> 8, id & 0xff]), Buffer.from(bytes)]);
          return { raw };
        };
        const result = await lookupOpenPgpKey('carol@remote.test', { servers, timeoutMs: 300 });
        assert.equal(result.key === null || result.error === null, true);
        if (result.error) assert.match(result.error.code, /^dns_/);
      }),
      { numRuns: 60 },
    );
    server.behaviour = 'normal';
  });

  it('bad input is an error object: not an address, no server, a bad server', async () => {
    assert.equal((await lookupOpenPgpKey('not an address', { servers })).error?.code, 'dns_invalid_query');
    assert.equal((await lookupOpenPgpKey('a@b.test', { servers: [] })).error?.code, 'dns_no_server');
    assert.equal((await lookupOpenPgpKey('a@b.test', { servers: ['dns.example.org'] })).error?.code, 'dns_no_server');
    assert.equal((await lookupTlsa('bad host', 443, { servers })).error?.code, 'dns_invalid_query');
  });
});
