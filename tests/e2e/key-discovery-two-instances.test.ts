/**
 * Key discovery between two instances (issue 5: "a second instance finds the key through its resolver pointed at the
 * first; WKD works the same way"), every piece real and on loopback:
 * - instance A (alpha.test) runs its authoritative DNS responder (`dns.enabled`, UDP and TCP on one free port) and its
 *   public HTTPS face (self-signed certificate); alice@alpha.test makes her key through the API (server mode), and A
 *   publishes it: the test's own raw DNS queries (UDP and TCP) get the OPENPGPKEY record (RFC 7929 owner name computed
 *   here) whose bytes are the key A stores;
 * - instance B (beta.test), its resolver pointed at A's responder (`CALIOPEN_DNS_RESOLVERS`) and WKD off: bob's route
 *   preview to alice finds her key by DNS — openpgp-email, source `dns` — and bob's contact for her lists it;
 * - a fresh B (another account, WKD on and pointed at A's HTTPS face trusting exactly A's certificate, DNS off): the
 *   same key, source `wkd`, and the contact PI the model gives for the stronger source;
 * - a B whose resolver answers garbage (tests/support/dns-server.ts misbehaving, or records holding no usable key):
 *   no key, no crash, no higher PI.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import * as openpgp from 'openpgp';
import { generateTestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { CONTACT_POINTS } from '@caliopen/instance/pi-model/contact-pi.model.ts';
import { KEY_TRUST_RANK } from '@caliopen/instance/pi-model/pi.shared.ts';
import { encodeQuery, tcpQuery, udpQuery } from '../support/dns-client.ts';
import { startDnsServer, type DnsBehaviour, type TestDnsServer } from '../support/dns-server.ts';
import { ok } from '../support/api-client.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { explain, type Pi } from '../support/pi.ts';

/** A route's key without its armoured form, after checking that the armoured form is that very key. */
async function keyOf(route: any): Promise<unknown> {
  const { armored, ...known } = route.key;
  assert.equal((await openpgp.readKey({ armoredKey: armored })).getFingerprint().toLowerCase(), known.fingerprint);
  return known;
}

/** RFC 7929 §3, computed here rather than with the code under test: SHA-256 of the local part, 28 octets, hex. */
const ownerName = (localPart: string, domain: string) =>
  `${createHash('sha256').update(localPart, 'utf8').digest().subarray(0, 28).toString('hex')}._openpgpkey.${domain}`;

/** An account on `inst` with its own key (server mode, so that its mail can be encrypted for itself too). */
async function userWithKey(
  inst: TestInstance,
  username: string,
): Promise<{ id: string; token: string; fingerprint: string }> {
  const u = await inst.user(username);
  const created = ok(
    await inst.api('POST', '/api/v1/keys', { token: u.token, body: { mode: 'server', password: u.password } }),
    201,
  );
  return { id: u.id, token: u.token, fingerprint: created.key.fingerprint };
}

/** A contact for `address` on `inst`; resolves its id. */
async function contactFor(inst: TestInstance, token: string, address: string, displayName: string): Promise<string> {
  return ok(
    await inst.api('POST', '/api/v1/contacts', { token, body: { displayName, identities: [{ address }] } }),
    201,
  ).id;
}

describe('key discovery between two instances: DNS (RFC 7929) and WKD', () => {
  let a: TestInstance;
  let dnsPort: number;
  let httpsPort: number;
  let certA: string;
  let alice: { id: string; token: string; fingerprint: string };
  /** The key as A stores and publishes it (binary transferable public key). */
  let published: Uint8Array;
  /** The contact PI bob's contact for alice had with her key known by DNS (for the WKD comparison). */
  let dnsContactPi: Pi;

  beforeAll(async () => {
    a = await startTestInstance({
      domain: 'alpha.test',
      env: { CALIOPEN_DNS_ENABLED: 'true', CALIOPEN_DNS_PORT: '0', CALIOPEN_DNS_ADDRESSES: '127.0.0.1' },
      services: { keyDiscovery: { wkd: false, dns: false } },
    });
    assert.ok(a.running.dns, 'dns.enabled starts the responder');
    dnsPort = a.running.dns.udpPort;
    assert.equal(a.running.dns.tcpPort, dnsPort, 'UDP and TCP on one port, as a resolver expects');
    httpsPort = Number(new URL(a.running.publicUrl!).port);
    certA = readFileSync(join(a.dataDir, 'keys', 'tls.crt'), 'utf8');
    alice = await userWithKey(a, 'alice');
    published = (await a.running.services.storage.accountKeys.get(alice.id, alice.fingerprint))!.publicKey;
  });
  afterAll(async () => {
    await a?.stop();
  });

  test('A answers the test’s own DNS queries, over UDP and over TCP, with the OPENPGPKEY record of the key alice made', async () => {
    const own = ok(await a.api('GET', '/api/v1/keys', { token: alice.token }));
    assert.equal(own.items[0].fingerprint, alice.fingerprint);
    const name = ownerName('alice', 'alpha.test');
    const udp = await udpQuery(dnsPort, encodeQuery(name, 'UNKNOWN_61'));
    const tcp = await tcpQuery(dnsPort, encodeQuery(name, 'UNKNOWN_61'));
    for (const [transport, reply] of [
      ['udp', udp],
      ['tcp', tcp],
    ] as const) {
      assert.equal(reply.rcode, 'NOERROR', transport);
      assert.ok(reply.flag_aa, `${transport}: authoritative`);
      assert.ok(!reply.flag_tc, `${transport}: not truncated`);
      assert.equal(reply.answers?.length, 1, transport);
      const record = reply.answers![0] as unknown as { name: string; type: string; data: Buffer };
      assert.equal(record.type, 'UNKNOWN_61', `${transport}: type 61 (OPENPGPKEY)`);
      assert.equal(record.name.toLowerCase(), name);
      assert.deepEqual(new Uint8Array(record.data), published, `${transport}: the record is the key A stores`);
      const key = await openpgp.readKey({ binaryKey: new Uint8Array(record.data) });
      assert.equal(key.getFingerprint(), alice.fingerprint);
      assert.equal(key.isPrivate(), false);
      assert.ok(key.getUserIDs().some((u) => u.includes('<alice@alpha.test>')));
    }
    // Who has no key has no record (the name does not exist in the zone).
    await a.user('nokey');
    assert.equal(
      (await udpQuery(dnsPort, encodeQuery(ownerName('nokey', 'alpha.test'), 'UNKNOWN_61'))).rcode,
      'NXDOMAIN',
    );
  });

  test('B, its resolver pointed at A and WKD off, finds alice’s key by DNS: route openpgp-email, source dns, on bob’s contact', async () => {
    const b = await startTestInstance({
      domain: 'beta.test',
      env: { CALIOPEN_DNS_RESOLVERS: `127.0.0.1:${dnsPort}` },
      services: { keyDiscovery: { wkd: false } },
    });
    try {
      const bob = await userWithKey(b, 'bob');
      const contactId = await contactFor(b, bob.token, 'alice@alpha.test', 'Alice');
      const before: Pi = ok(await b.api('GET', `/api/v1/contacts/${contactId}`, { token: bob.token })).pi;
      assert.deepEqual(ok(await b.api('GET', `/api/v1/contacts/${contactId}/keys`, { token: bob.token })).items, []);

      const preview = ok(await b.api('GET', '/api/v1/routes?to=alice@alpha.test', { token: bob.token }));
      assert.equal(preview.chosen, 'openpgp-email');
      assert.equal(preview.encrypted, true);
      const e2e = preview.routes.find((r: any) => r.route === 'openpgp-email');
      assert.equal(e2e.status, 'available', e2e.reason);
      assert.deepEqual(await keyOf(e2e), { fingerprint: alice.fingerprint, source: 'dns', verified: false });

      const keys = ok(await b.api('GET', `/api/v1/contacts/${contactId}/keys`, { token: bob.token })).items;
      assert.deepEqual(
        keys.map((k: any) => [k.fingerprint, k.source, k.status, k.address]),
        [[alice.fingerprint, 'dns', 'active', 'alice@alpha.test']],
      );
      const held = (await b.running.services.storage.keys.get(bob.id, 'alice@alpha.test', alice.fingerprint))!;
      assert.equal((await openpgp.readKey({ binaryKey: held.publicKey })).getFingerprint(), alice.fingerprint);

      dnsContactPi = ok(await b.api('GET', `/api/v1/contacts/${contactId}`, { token: bob.token })).pi;
      assert.equal(
        dnsContactPi.score - before.score,
        CONTACT_POINTS.keyKnown + KEY_TRUST_RANK.dns * CONTACT_POINTS.keyTrustStep,
        `${explain(dnsContactPi)} vs ${explain(before)}`,
      );
      assert.match(dnsContactPi.factors.find((f) => f.id === 'e2e.key_trust')!.evidence, /DNS without DNSSEC/);
    } finally {
      await b.stop();
    }
  });

  test('a fresh B with WKD on (trusting exactly A’s certificate) and DNS off finds the same key, source wkd', async () => {
    const b = await startTestInstance({
      domain: 'beta.test',
      // connectTo pins alpha.test to A's HTTPS face (no name resolution, so no private-address check to lift).
      services: {
        keyDiscovery: { dns: false, wkd: { ca: certA, connectTo: { 'alpha.test': `127.0.0.1:${httpsPort}` } } },
      },
    });
    try {
      const carl = await userWithKey(b, 'carl');
      const contactId = await contactFor(b, carl.token, 'alice@alpha.test', 'Alice');
      const preview = ok(await b.api('GET', '/api/v1/routes?to=alice@alpha.test', { token: carl.token }));
      assert.equal(preview.chosen, 'openpgp-email');
      assert.deepEqual(await keyOf(preview.routes.find((r: any) => r.route === 'openpgp-email')), {
        fingerprint: alice.fingerprint,
        source: 'wkd',
        verified: false,
      });
      const keys = ok(await b.api('GET', `/api/v1/contacts/${contactId}/keys`, { token: carl.token })).items;
      assert.deepEqual(
        keys.map((k: any) => [k.fingerprint, k.source, k.status]),
        [[alice.fingerprint, 'wkd', 'active']],
      );
      const held = (await b.running.services.storage.keys.get(carl.id, 'alice@alpha.test', alice.fingerprint))!;
      assert.deepEqual(held.publicKey, published, 'WKD serves the very bytes DNS does');
      // The same facts but a stronger source: the contact PI is higher by exactly the model's step.
      const pi: Pi = ok(await b.api('GET', `/api/v1/contacts/${contactId}`, { token: carl.token })).pi;
      assert.equal(
        pi.score - dnsContactPi.score,
        (KEY_TRUST_RANK.wkd - KEY_TRUST_RANK.dns) * CONTACT_POINTS.keyTrustStep,
        `${explain(pi)} vs ${explain(dnsContactPi)}`,
      );
    } finally {
      await b.stop();
    }
  });
});

describe('key lookups through a resolver that answers garbage: no key, no crash, no higher PI', () => {
  let dns: TestDnsServer;
  let b: TestInstance;

  beforeAll(async () => {
    dns = await startDnsServer();
    b = await startTestInstance({
      domain: 'beta.test',
      services: {
        keyDiscovery: { wkd: false, dns: { resolvers: [`${dns.host}:${dns.port}`], trustAd: false, timeoutMs: 1500 } },
      },
    });
  });
  afterAll(async () => {
    await b?.stop();
    await dns?.close();
  });

  test('each hostile answer leaves the contact without a key and its PI where it was', async () => {
    const [valid, mallory] = await Promise.all([
      generateTestKey('victim@hostile.example'),
      generateTestKey('mallory@evil.example'),
    ]);
    const bytes = valid.publicKey.write();
    // Per address (its own local part, so that no answer is served from the lookup cache): what the resolver does.
    const cases: { local: string; behaviour?: DnsBehaviour; record?: Buffer }[] = [
      { local: 'garbage', behaviour: 'garbage' },
      { local: 'cut', behaviour: 'cut', record: Buffer.from(bytes) },
      { local: 'loop', behaviour: 'compression-loop' },
      { local: 'servfail', behaviour: 'servfail' },
      { local: 'notakey', record: Buffer.from('this is not an OpenPGP key at all') },
      { local: 'truncated', record: Buffer.from(bytes.subarray(0, Math.floor(bytes.length / 2))) },
      { local: 'private', record: Buffer.from(valid.privateKey.write()) },
      { local: 'someoneelse', record: Buffer.from(mallory.publicKey.write()) },
    ];
    for (const c of cases)
      if (c.record) dns.zone[ownerName(c.local, 'hostile.example')] = [{ type: 'UNKNOWN_61', data: c.record }];
    const byName = new Map(cases.map((c) => [ownerName(c.local, 'hostile.example'), c.behaviour ?? 'normal']));
    dns.behaviour = (q) => byName.get(q.name) ?? 'normal';

    const dora = await userWithKey(b, 'dora');
    for (const c of cases) {
      const address = `${c.local}@hostile.example`;
      const contactId = await contactFor(b, dora.token, address, c.local);
      const before: Pi = ok(await b.api('GET', `/api/v1/contacts/${contactId}`, { token: dora.token })).pi;
      const preview = ok(await b.api('GET', `/api/v1/routes?to=${address}`, { token: dora.token }));
      const e2e = preview.routes.find((r: any) => r.route === 'openpgp-email');
      assert.deepEqual(
        [e2e.status, e2e.key, preview.encrypted],
        ['unavailable', null, false],
        `${c.local}: ${e2e.reason}`,
      );
      assert.notEqual(preview.chosen, 'openpgp-email', c.local);
      assert.deepEqual(
        ok(await b.api('GET', `/api/v1/contacts/${contactId}/keys`, { token: dora.token })).items,
        [],
        `${c.local}: no key filed`,
      );
      const after: Pi = ok(await b.api('GET', `/api/v1/contacts/${contactId}`, { token: dora.token })).pi;
      assert.ok(after.score <= before.score, `${c.local}: ${explain(after)} vs ${explain(before)}`);
      assert.equal(
        after.factors.find((f) => f.id === 'e2e.key_known'),
        undefined,
        c.local,
      );
    }
    assert.ok(
      byName.size === cases.length && dns.queries.filter((q) => q.type === 'UNKNOWN_61').length >= cases.length,
      'the resolver was asked for each',
    );
    // Still serving, and a well-behaved answer still works through the same resolver.
    dns.zone[ownerName('victim', 'hostile.example')] = [{ type: 'UNKNOWN_61', data: Buffer.from(bytes) }];
    const fine = ok(await b.api('GET', '/api/v1/routes?to=victim@hostile.example', { token: dora.token }));
    assert.deepEqual(await keyOf(fine.routes.find((r: any) => r.route === 'openpgp-email')), {
      fingerprint: valid.fingerprint,
      source: 'dns',
      verified: false,
    });
    assert.equal((await b.api('GET', '/healthz')).status, 200);
  });
});
