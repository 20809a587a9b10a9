import assert from 'node:assert/strict';
import { beforeAll, beforeEach, describe, test } from 'vitest';
import type { OpenPgpKeyLookup } from '../discovery/dns-key.lookup.ts';
import type { WkdLookup, WkdLookupOptions } from '../discovery/wkd.ts';
import type { MessageFacts } from '../mail/message.facts.ts';
import { autocryptHeader, autocryptKeydata, withHeader } from '../openpgp/openpgp.compose.ts';
import { generateTestKey, pgpMimeSigned, revokedPublicKey, type TestKey } from '../openpgp/openpgp.fixture.ts';
import { anAccount } from '../storage/storage.conformance.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import type { AccountKeys } from './account-key.port.ts';
import { KeyDiscoveryService, type FederationKeyLookup, type KeyDiscoveryOptions } from './key-discovery.service.ts';
import { CorrespondentKeyService } from './public-key.service.ts';

const DOMAIN = 'alpha.test';
const DKIM_ALIGNED = (domain: string): MessageFacts => ({
  transport: {
    via: 'smtp',
    tls: null,
    clientIp: '192.0.2.1',
    helo: `mx.${domain}`,
    receivedChain: [],
    externalHops: 0,
    plaintextHops: 0,
  },
  authentication: {
    spf: { result: 'pass', domain },
    dkim: [{ result: 'pass', domain, selector: 's', aligned: true }],
    dmarc: { result: 'pass', domain, policy: 'none' },
  },
});
const LOCAL: MessageFacts = {
  transport: {
    via: 'local',
    tls: null,
    clientIp: null,
    helo: null,
    receivedChain: [],
    externalHops: 0,
    plaintextHops: 0,
  },
  authentication: null,
};

describe('key discovery: keys to encrypt to, lookups (WKD, DNS) and Autocrypt', () => {
  let bob: TestKey;
  let bob2: TestKey;
  let carol: TestKey;
  let local: TestKey;
  let storage: SqliteStorage;
  let keys: CorrespondentKeyService;
  let accountId: string;
  let clock: Date;
  let calls: { wkd: string[]; dns: string[]; hosts: string[]; wkdOptions: WkdLookupOptions[] };
  let wkdAnswer: (address: string) => WkdLookup;
  let dnsAnswer: (address: string) => OpenPgpKeyLookup;
  let localAccountId: string;

  const none: OpenPgpKeyLookup = {
    key: null,
    keys: [],
    dnssecValidated: false,
    name: 'x',
    server: '127.0.0.1:53',
    rcode: 'NXDOMAIN',
    transport: 'udp',
    error: null,
  };
  const dnsWith = (bytes: Uint8Array, ad: boolean): OpenPgpKeyLookup => ({
    ...none,
    key: bytes,
    keys: [bytes],
    dnssecValidated: ad,
    rcode: 'NOERROR',
  });
  const accountKeys: AccountKeys = {
    mode: async (id) => (id === localAccountId ? 'server' : 'none'),
    publicKey: async (id) =>
      id === localAccountId
        ? { fingerprint: local.fingerprint, publicKey: local.publicKey.write(), armored: local.armoredPublic }
        : null,
    unlocked: async () => null,
  };

  function service(options: Partial<KeyDiscoveryOptions> = {}, federation?: FederationKeyLookup): KeyDiscoveryService {
    return new KeyDiscoveryService(
      {
        keys,
        accountKeys,
        accounts: storage.accounts,
        domain: DOMAIN,
        clock: () => clock,
        ...(federation ? { federation } : {}),
      },
      {
        dns: { resolvers: ['127.0.0.1:53'], trustAd: true },
        wkd: { allowPrivateHosts: false },
        lookups: {
          wkd: async (address, o) => {
            calls.wkd.push(address);
            calls.wkdOptions.push(o);
            return wkdAnswer(address);
          },
          dns: async (address) => {
            calls.dns.push(address);
            return dnsAnswer(address);
          },
          resolveHost: async (host) => {
            calls.hosts.push(host);
            return host.startsWith('intranet') ? ['10.1.2.3'] : ['203.0.114.7'];
          },
        },
        ...options,
      },
    );
  }

  beforeAll(async () => {
    [bob, bob2, carol, local] = await Promise.all([
      generateTestKey('bob@example.org'),
      generateTestKey('bob@example.org'),
      generateTestKey('carol@example.org'),
      generateTestKey(`lou@${DOMAIN}`),
    ]);
  });
  beforeEach(async () => {
    storage = SqliteStorage.open(':memory:');
    const account = anAccount();
    await storage.accounts.create(account);
    accountId = account.id;
    const lou = anAccount({ username: 'lou' });
    await storage.accounts.create(lou);
    localAccountId = lou.id;
    clock = new Date(Date.now() + 60_000);
    keys = new CorrespondentKeyService({ keys: storage.keys, clock: () => clock });
    calls = { wkd: [], dns: [], hosts: [], wkdOptions: [] };
    wkdAnswer = () => ({ key: null, url: 'https://x/', status: 404, error: null });
    dnsAnswer = () => none;
  });

  test('WKD first: the key found is filed (source wkd) and used; the answer is cached', async () => {
    wkdAnswer = () => ({
      key: bob.publicKey.write(),
      url: 'https://example.org/.well-known/openpgpkey/hu/x',
      status: 200,
      error: null,
    });
    const d = service();
    const key = await d.keyFor(accountId, 'Bob@Example.org', { discover: true });
    assert.equal(key?.fingerprint, bob.fingerprint);
    assert.equal(key?.source, 'wkd');
    assert.deepEqual(calls.dns, [], 'DNS is not asked once WKD answered');
    assert.deepEqual(
      calls.wkdOptions[0]?.connectTo,
      { 'example.org': '203.0.114.7:443' },
      'the connection is pinned to the address checked',
    );
    const filed = await keys.keysForAddress(accountId, 'bob@example.org');
    assert.deepEqual(
      filed.map((k) => [k.source, k.status]),
      [['wkd', 'active']],
    );
    // Held now: no lookup at all.
    assert.equal((await d.keyFor(accountId, 'bob@example.org', { discover: true }))?.fingerprint, bob.fingerprint);
    assert.equal(calls.wkd.length, 1);
    // Another account asking: served from the cache, filed for it too.
    const other = anAccount();
    await storage.accounts.create(other);
    const r = await d.discover(other.id, 'bob@example.org');
    assert.equal(r.cached, true);
    assert.equal(r.outcome, 'new');
    assert.equal(calls.wkd.length, 1);
  });

  test('DNS OPENPGPKEY: dnssec only with the AD bit from a trusted resolver, dns otherwise', async () => {
    dnsAnswer = () => dnsWith(bob.publicKey.write(), true);
    assert.equal((await service().keyFor(accountId, 'bob@example.org', { discover: true }))?.source, 'dnssec');
    dnsAnswer = () => dnsWith(carol.publicKey.write(), false);
    assert.equal((await service().keyFor(accountId, 'carol@example.org', { discover: true }))?.source, 'dns');
    assert.deepEqual(calls.wkd, ['bob@example.org', 'carol@example.org'], 'WKD was asked first');
  });

  test('refused keys: another address, revoked, garbage — nothing filed, DNS asked after a refused WKD key', async () => {
    wkdAnswer = () => ({ key: carol.publicKey.write(), url: 'u', status: 200, error: null });
    dnsAnswer = () => dnsWith(Buffer.from('garbage, not a key'), false);
    const r = await service().discover(accountId, 'bob@example.org');
    assert.equal(r.key, null);
    assert.deepEqual(
      r.attempts.map((a) => [a.method, a.result]),
      [
        ['wkd', 'refused'],
        ['dns', 'refused'],
      ],
      JSON.stringify(r.attempts),
    );
    assert.match(r.attempts[0]!.detail!, /key_address_mismatch/);
    assert.match(r.attempts[1]!.detail!, /key_malformed/);
    dnsAnswer = () => none;
    wkdAnswer = () => ({
      key: Buffer.from(new TextEncoder().encode(revokedPublicKeyText)),
      url: 'u',
      status: 200,
      error: null,
    });
    const revoked = await service().discover(accountId, 'bob@example.org');
    assert.equal(revoked.key, null);
    assert.match(revoked.attempts[0]!.detail!, /key_revoked/);
    assert.deepEqual(await keys.keysForAddress(accountId, 'bob@example.org'), []);
  });

  test('errors and absences are remembered for the TTL, within a bounded cache; concurrent askers share one lookup', async () => {
    wkdAnswer = () => ({ key: null, url: 'u', status: null, error: { code: 'wkd_timeout', message: 'slow' } });
    dnsAnswer = () => ({ ...none, error: { code: 'dns_malformed_reply', message: 'garbage' } });
    const d = service({ negativeTtlMs: 60_000, maxEntries: 2 });
    const [a, b] = await Promise.all([d.discover(accountId, 'x@one.example'), d.discover(accountId, 'x@one.example')]);
    assert.equal(calls.wkd.length, 1, 'one lookup for both');
    assert.deepEqual(
      a.attempts.map((t) => t.result),
      ['error', 'error'],
    );
    assert.deepEqual(b.attempts, a.attempts);
    assert.equal((await d.discover(accountId, 'x@one.example')).cached, true);
    assert.equal(calls.wkd.length, 1);
    clock = new Date(clock.getTime() + 61_000);
    assert.equal((await d.discover(accountId, 'x@one.example')).cached, false, 'looked up again after the TTL');
    await d.discover(accountId, 'x@two.example');
    await d.discover(accountId, 'x@three.example');
    assert.equal(d.cacheSize(), 2, 'bounded');
  });

  test("an absence at a labelled member instance's key directory is remembered 5 minutes, not the hour of WKD and DNS", async () => {
    wkdAnswer = () => ({ key: null, url: 'u', status: 404, error: null });
    dnsAnswer = () => ({ ...none, rcode: 'NXDOMAIN' });
    let asked = 0;
    const d = service({}, async (address) => {
      asked++;
      return address.endsWith('@peer.example') ? { found: null, detail: 'key_not_found: no key yet' } : null;
    });
    await d.discover(accountId, 'new@peer.example');
    await d.discover(accountId, 'x@elsewhere.example');
    assert.equal((await d.discover(accountId, 'new@peer.example')).cached, true);
    clock = new Date(clock.getTime() + 5 * 60_000 + 1000);
    assert.equal((await d.discover(accountId, 'new@peer.example')).cached, false, 'asked again after 5 minutes');
    assert.equal((await d.discover(accountId, 'x@elsewhere.example')).cached, true, 'elsewhere: still the hour');
    assert.equal(asked, 3);
  });

  test('WKD never reaches non-public addresses unless allowed', async () => {
    const r = await service().discover(accountId, 'bob@intranet.example');
    assert.deepEqual(calls.wkd, []);
    assert.equal(r.attempts[0]!.result, 'skipped');
    assert.match(r.attempts[0]!.detail!, /non-public/);
    await service({ wkd: { allowPrivateHosts: true } }).discover(accountId, 'bob@intranet.example');
    assert.deepEqual(calls.wkdOptions.at(-1)?.connectTo, { 'intranet.example': '10.1.2.3:443' });
    await service({ wkd: false, dns: false }).discover(accountId, 'zed@example.net');
    assert.equal(calls.dns.filter((a) => a === 'zed@example.net').length, 0);
  });

  test('trust on first use: a different key found later is a conflict, and the pinned key stays the one used', async () => {
    await keys.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'autocrypt');
    wkdAnswer = () => ({ key: bob2.publicKey.write(), url: 'u', status: 200, error: null });
    const r = await service().discover(accountId, 'bob@example.org');
    assert.equal(r.outcome, 'conflict');
    assert.equal(
      (await service().keyFor(accountId, 'bob@example.org', { discover: true }))?.fingerprint,
      bob.fingerprint,
    );
  });

  test('same-instance recipients: their own key, never a lookup', async () => {
    const d = service();
    const key = await d.keyFor(accountId, `Lou@${DOMAIN}`, { discover: true });
    assert.equal(key?.source, 'local');
    assert.equal(key?.fingerprint, local.fingerprint);
    assert.equal(await d.keyFor(accountId, `nobody@${DOMAIN}`, { discover: true }), null);
    assert.deepEqual(calls.wkd, []);
    assert.deepEqual(calls.dns, []);
  });

  describe('Autocrypt learning', () => {
    async function withAutocrypt(from: string, key: TestKey, addr = from): Promise<Buffer> {
      const keydata = await autocryptKeydata(key.publicKey.write(), key.publicKey.users[0]!.userID!.email, clock);
      return withHeader(
        Buffer.from(`From: ${from}\r\nTo: a@${DOMAIN}\r\nSubject: hi\r\n\r\nhello\r\n`),
        autocryptHeader({ address: addr, keydata, preferEncrypt: true }),
      );
    }

    test('learnt when the From domain vouches (aligned DKIM) or over local delivery; TOFU applies', async () => {
      const d = service();
      assert.deepEqual(
        await d.learnAutocrypt(
          accountId,
          'bob@example.org',
          await withAutocrypt('bob@example.org', bob),
          DKIM_ALIGNED('example.org'),
        ),
        { learned: 'new', problem: null },
      );
      const [k] = await keys.keysForAddress(accountId, 'bob@example.org');
      assert.equal(k?.source, 'autocrypt');
      assert.deepEqual(
        await d.learnAutocrypt(
          accountId,
          'bob@example.org',
          await withAutocrypt('bob@example.org', bob2),
          DKIM_ALIGNED('example.org'),
        ),
        { learned: 'conflict', problem: null },
      );
      assert.equal(
        (await d.learnAutocrypt(accountId, `lou@${DOMAIN}`, await withAutocrypt(`lou@${DOMAIN}`, local), LOCAL))
          .learned,
        'new',
      );
    });

    test('ignored: not vouched, addr not the sender, a key for another address, garbage, a report', async () => {
      const d = service();
      const cases: [string, Promise<{ learned: unknown; problem: string | null }>][] = [
        [
          'no DKIM',
          d.learnAutocrypt(accountId, 'bob@example.org', await withAutocrypt('bob@example.org', bob), {
            transport: null,
            authentication: null,
          }),
        ],
        [
          'DKIM of another domain',
          d.learnAutocrypt(
            accountId,
            'bob@example.org',
            await withAutocrypt('bob@example.org', bob),
            DKIM_ALIGNED('evil.example'),
          ),
        ],
        [
          'addr is not the sender',
          d.learnAutocrypt(
            accountId,
            'bob@example.org',
            await withAutocrypt('bob@example.org', carol, 'carol@example.org'),
            DKIM_ALIGNED('example.org'),
          ),
        ],
        [
          'key for another address',
          d.learnAutocrypt(
            accountId,
            'bob@example.org',
            await withAutocrypt('bob@example.org', carol, 'bob@example.org'),
            DKIM_ALIGNED('example.org'),
          ),
        ],
        [
          'malformed armour',
          d.learnAutocrypt(
            accountId,
            'bob@example.org',
            Buffer.from('Autocrypt: addr=bob@example.org; keydata=-----BEGIN PGP\r\nFrom: bob@example.org\r\n\r\nx'),
            DKIM_ALIGNED('example.org'),
          ),
        ],
        [
          'a report',
          d.learnAutocrypt(
            accountId,
            'bob@example.org',
            Buffer.concat(
              [await withAutocrypt('bob@example.org', bob)].map((b) =>
                Buffer.from(
                  b
                    .toString('latin1')
                    .replace('Subject: hi', 'Content-Type: multipart/report; report-type=delivery-status; boundary=x'),
                  'latin1',
                ),
              ),
            ),
            DKIM_ALIGNED('example.org'),
          ),
        ],
        ['no From', d.learnAutocrypt(accountId, '', await withAutocrypt('bob@example.org', bob), LOCAL)],
      ];
      for (const [what, p] of cases) {
        const r = await p;
        assert.equal(r.learned, null, what);
        assert.ok(r.problem, `${what}: a reason`);
      }
      assert.deepEqual(await keys.keysForAddress(accountId, 'bob@example.org'), [], 'nothing filed');
    });
  });

  describe('a signature by another key than the pinned one (point 11)', () => {
    const signedBy = (signer: TestKey) =>
      pgpMimeSigned({ from: 'Bob <bob@example.org>', to: `a@${DOMAIN}`, subject: 'hi', signer });
    const vouched = DKIM_ALIGNED('example.org');

    test('filed as a conflict without key material, when vouched for and a key is pinned; its own signatures file nothing', async () => {
      const d = service();
      // Nothing pinned yet: nothing to conflict with.
      assert.deepEqual(await d.learnSignatureConflict(accountId, 'bob@example.org', await signedBy(bob2), vouched), {
        recorded: null,
        problem: null,
      });
      await keys.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'autocrypt');
      // Signed by the pinned key: no conflict.
      assert.equal(
        (await d.learnSignatureConflict(accountId, 'bob@example.org', await signedBy(bob), vouched)).recorded,
        null,
      );
      // Not vouched for: nothing filed (anyone could forge the address), with a reason.
      const forged = await d.learnSignatureConflict(accountId, 'bob@example.org', await signedBy(bob2), {
        transport: null,
        authentication: null,
      });
      assert.equal(forged.recorded, null);
      assert.match(forged.problem ?? '', /not vouched/);
      assert.equal((await keys.keysForAddress(accountId, 'bob@example.org')).length, 1);
      // Vouched for: the signer's fingerprint, as a conflict.
      assert.deepEqual(await d.learnSignatureConflict(accountId, 'bob@example.org', await signedBy(bob2), vouched), {
        recorded: bob2.fingerprint,
        problem: null,
      });
      const filed = (await keys.keysForAddress(accountId, 'bob@example.org')).find(
        (k) => k.fingerprint === bob2.fingerprint,
      );
      assert.deepEqual([filed?.source, filed?.status, filed?.publicKey.length], ['signature', 'conflict', 0]);
      // Not signed at all, or garbage: nothing, and nothing thrown.
      for (const raw of [Buffer.from('From: bob@example.org\r\n\r\nhello'), Buffer.from([0xff, 0x00, 0x2d])])
        assert.deepEqual(await d.learnSignatureConflict(accountId, 'bob@example.org', raw, vouched), {
          recorded: null,
          problem: null,
        });
    });
  });
});

let revokedPublicKeyText = '';
beforeAll(async () => {
  revokedPublicKeyText = await revokedPublicKey(await generateTestKey('bob@example.org'));
});
