/**
 * Contacts' OpenPGP keys over the API: add (the key must carry the address), list, trust on first use (a different
 * key learnt from mail is a conflict until the user decides), verify and reject, and hostile input.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { generateTestKey, revokedPublicKey, type TestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import type { SqliteStorage } from '@caliopen/instance/storage/storage.sqlite.ts';
import { problemBody } from '../support/api-client.ts';
import { startTestInstance, type ApiResponse, type TestInstance } from '../support/instance.ts';

function expectProblem(r: ApiResponse, status: number, code: string, what: string): void {
  problemBody(r, status, what);
  assert.equal(r.body?.code, code, what);
}

describe('contact keys API', () => {
  let inst: TestInstance;
  let alice: { id: string; token: string };
  let bobToken: string;
  let contactId: string;
  let twoAddressContactId: string;
  let k1: TestKey;
  let k2: TestKey;
  let k3: TestKey;

  beforeAll(async () => {
    inst = await startTestInstance();
    alice = await inst.user('alice-keys');
    bobToken = (await inst.user('bob-keys')).token;
    [k1, k2, k3] = await Promise.all([
      generateTestKey('bob@example.org'),
      generateTestKey('bob@example.org'),
      generateTestKey('Bob@Example.org'),
    ]);
    const c = await inst.api('POST', '/api/v1/contacts', {
      token: alice.token,
      body: { displayName: 'Bob', identities: [{ address: 'Bob@Example.org' }] },
    });
    assert.equal(c.status, 201, c.text);
    contactId = c.body.id;
    const two = await inst.api('POST', '/api/v1/contacts', {
      token: alice.token,
      body: { displayName: 'Carol', identities: [{ address: 'carol@example.net' }, { address: 'carol@work.example' }] },
    });
    twoAddressContactId = two.body.id;
  });
  afterAll(async () => {
    await inst.stop();
  });

  const keysOf = async (id = contactId, token = alice.token) =>
    inst.api('GET', `/api/v1/contacts/${id}/keys`, { token });
  const statusOf = async () =>
    Object.fromEntries(
      ((await keysOf()).body.items as { fingerprint: string; status: string }[]).map((k) => [k.fingerprint, k.status]),
    );

  test('a contact starts without keys; adding one pins it; adding it again is "known"', async () => {
    assert.deepEqual((await keysOf()).body, { items: [] });
    const added = await inst.api('POST', `/api/v1/contacts/${contactId}/keys`, {
      token: alice.token,
      body: { armored: k1.armoredPublic },
    });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.body.outcome, 'new');
    const key = added.body.key;
    assert.equal(key.fingerprint, k1.fingerprint);
    assert.match(key.fingerprintGrouped, /^([0-9A-F]{4} ){4}[0-9A-F]{4} {2}([0-9A-F]{4} ){4}[0-9A-F]{4}$/);
    assert.equal(key.fingerprintGrouped.replace(/\s/g, '').toLowerCase(), k1.fingerprint);
    assert.equal(key.address, 'bob@example.org');
    assert.equal(key.source, 'attached');
    assert.equal(key.status, 'active');
    assert.equal(key.verified, false);
    assert.equal(key.version, 4);
    assert.equal(key.algorithm, 'ed25519');
    assert.equal(key.expiresAt, null);
    assert.deepEqual((await keysOf()).body.items, [key]);

    const again = await inst.api('POST', `/api/v1/contacts/${contactId}/keys`, {
      token: alice.token,
      body: { armored: k1.armoredPublic, address: 'BOB@example.org' },
    });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.outcome, 'known');
    assert.equal((await keysOf()).body.items.length, 1);
  });

  test('a different key learnt from mail is a conflict; verifying it resolves the alert; rejecting refuses a key', async () => {
    const { services } = inst.running;
    const learnt = await services.keys.addKey(alice.id, 'bob@example.org', k2.armoredPublic, 'autocrypt');
    assert.equal(learnt.outcome, 'conflict');
    assert.deepEqual(await statusOf(), { [k1.fingerprint]: 'active', [k2.fingerprint]: 'conflict' });

    const verified = await inst.api(
      'POST',
      `/api/v1/contacts/${contactId}/keys/${k2.fingerprint.toUpperCase()}/verify`,
      { token: alice.token },
    );
    assert.equal(verified.status, 200, verified.text);
    type KeyItem = { fingerprint: string; status: string; verified: boolean; source: string };
    const byFp: Record<string, KeyItem> = Object.fromEntries(
      (verified.body.items as KeyItem[]).map((k) => [k.fingerprint, k]),
    );
    assert.equal(byFp[k2.fingerprint]?.status, 'active');
    assert.equal(byFp[k2.fingerprint]?.verified, true);
    assert.equal(byFp[k2.fingerprint]?.source, 'autocrypt');
    assert.equal(byFp[k1.fingerprint]?.status, 'superseded');

    const rejected = await inst.api('POST', `/api/v1/contacts/${contactId}/keys/${k1.fingerprint}/reject`, {
      token: alice.token,
    });
    assert.equal(rejected.status, 200, rejected.text);
    assert.deepEqual(await statusOf(), { [k1.fingerprint]: 'rejected', [k2.fingerprint]: 'active' });
  });

  test('a key the user adds by hand becomes the active one', async () => {
    const added = await inst.api('POST', `/api/v1/contacts/${contactId}/keys`, {
      token: alice.token,
      body: { armored: k3.armoredPublic },
    });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.body.outcome, 'new');
    assert.deepEqual(await statusOf(), {
      [k1.fingerprint]: 'rejected',
      [k2.fingerprint]: 'superseded',
      [k3.fingerprint]: 'active',
    });
  });

  test('refused keys: 422 with the key_* codes, and nothing stored', async () => {
    const before = JSON.stringify((await keysOf()).body);
    const post = (body: unknown, id = contactId) =>
      inst.api('POST', `/api/v1/contacts/${id}/keys`, { token: alice.token, body });
    const other = await generateTestKey('mallory@evil.example');
    const old = await generateTestKey('bob@example.org', {
      date: new Date(Date.now() - 10 * 24 * 3600_000),
      expiresInSeconds: 3600,
    });
    expectProblem(await post({ armored: k1.armoredPrivate }), 422, 'key_private', 'private key');
    expectProblem(await post({ armored: other.armoredPublic }), 422, 'key_address_mismatch', 'key for another address');
    expectProblem(await post({ armored: 'not a key at all' }), 422, 'key_malformed', 'garbage');
    expectProblem(await post({ armored: k1.armoredPublic.slice(0, 200) }), 422, 'key_malformed', 'truncated armour');
    expectProblem(
      await post({ armored: `${k1.armoredPublic}\n${k2.armoredPublic}` }),
      422,
      'key_malformed',
      'two keys',
    );
    expectProblem(await post({ armored: old.armoredPublic }), 422, 'key_expired', 'expired key');
    expectProblem(await post({ armored: await revokedPublicKey(k3) }), 422, 'key_revoked', 'revoked key');
    expectProblem(
      await post({ armored: k1.armoredPublic.replace('-----END', `${'QUFB'.repeat(20_000)}\n-----END`) }),
      422,
      'key_too_large',
      'oversize key',
    );
    expectProblem(await post({ armored: 'A'.repeat(300 * 1024) }), 400, 'validation_failed', 'over the schema limit');
    expectProblem(
      await post({ armored: k1.armoredPublic, address: 'someone@else.example' }),
      422,
      'contact_address_unknown',
      'address not of the contact',
    );
    expectProblem(
      await post({ armored: k1.armoredPublic }, twoAddressContactId),
      422,
      'contact_address_unknown',
      'several addresses, none named',
    );
    expectProblem(await post({}), 400, 'validation_failed', 'no key');
    expectProblem(
      await post({ armored: k1.armoredPublic, source: 'dnssec' }),
      400,
      'validation_failed',
      'the source is not the client’s to choose',
    );
    expectProblem(await post({ armored: 12 }), 400, 'validation_failed', 'wrong type');
    assert.equal(JSON.stringify((await keysOf()).body), before, 'nothing changed');
    const db = (inst.running.services.storage as SqliteStorage).db;
    const rows = db.prepare<[], { public_key: Buffer }>('SELECT public_key FROM correspondent_keys').all();
    assert.ok(rows.length >= 3);
    for (const r of rows) {
      // Secret-key packet tags (5, 7) never appear as the first packet of what is stored, and no private armour.
      assert.ok(![0xc5, 0xc7, 0x94, 0x95, 0x9c, 0x9d].includes(r.public_key[0]!));
      assert.doesNotMatch(r.public_key.toString('latin1'), /PRIVATE KEY/);
    }
  });

  test('routes refuse unknown contacts and keys, bad fingerprints, and other users', async () => {
    const ghost = '00000000-0000-4000-8000-000000000000';
    expectProblem(await keysOf(ghost), 404, 'not_found', 'unknown contact');
    expectProblem(
      await inst.api('POST', `/api/v1/contacts/${ghost}/keys`, {
        token: alice.token,
        body: { armored: k1.armoredPublic },
      }),
      404,
      'not_found',
      'add to unknown contact',
    );
    expectProblem(
      await inst.api('POST', `/api/v1/contacts/${contactId}/keys/${'ab'.repeat(20)}/verify`, { token: alice.token }),
      404,
      'not_found',
      'unknown key',
    );
    expectProblem(
      await inst.api('POST', `/api/v1/contacts/${twoAddressContactId}/keys/${k3.fingerprint}/reject`, {
        token: alice.token,
      }),
      404,
      'not_found',
      "another contact's key",
    );
    expectProblem(
      await inst.api('POST', `/api/v1/contacts/${contactId}/keys/xyz/verify`, { token: alice.token }),
      400,
      'validation_failed',
      'not hex',
    );
    expectProblem(
      await inst.api('POST', `/api/v1/contacts/${contactId}/keys/${'a'.repeat(41)}/verify`, { token: alice.token }),
      400,
      'validation_failed',
      'wrong length',
    );
    expectProblem(
      await inst.api('GET', `/api/v1/contacts/not-a-uuid/keys`, { token: alice.token }),
      400,
      'validation_failed',
      'bad id',
    );
    expectProblem(await keysOf(contactId, bobToken), 404, 'not_found', "B reads A's contact keys");
    expectProblem(
      await inst.api('POST', `/api/v1/contacts/${contactId}/keys/${k3.fingerprint}/reject`, { token: bobToken }),
      404,
      'not_found',
      "B rejects A's key",
    );
    expectProblem(await inst.api('GET', `/api/v1/contacts/${contactId}/keys`), 401, 'unauthenticated', 'anonymous');
    assert.equal((await statusOf())[k3.fingerprint], 'active', 'still active');
  });

  test('the keys of a contact with several addresses: each key for the address named', async () => {
    const carol = await generateTestKey('carol@work.example', { alsoEmails: ['carol@example.net'] });
    const r1 = await inst.api('POST', `/api/v1/contacts/${twoAddressContactId}/keys`, {
      token: alice.token,
      body: { armored: carol.armoredPublic, address: 'carol@work.example' },
    });
    assert.equal(r1.status, 201, r1.text);
    const r2 = await inst.api('POST', `/api/v1/contacts/${twoAddressContactId}/keys`, {
      token: alice.token,
      body: { armored: carol.armoredPublic, address: 'carol@example.net' },
    });
    assert.equal(r2.status, 201, r2.text);
    const list = (await keysOf(twoAddressContactId)).body.items as { address: string; fingerprint: string }[];
    assert.deepEqual(list.map((k) => k.address).sort(), ['carol@example.net', 'carol@work.example']);
    const verified = await inst.api(
      'POST',
      `/api/v1/contacts/${twoAddressContactId}/keys/${carol.fingerprint}/verify`,
      { token: alice.token },
    );
    assert.ok(
      (verified.body.items as { verified: boolean }[]).every((k) => k.verified),
      'one decision covers every address the key serves',
    );
  });
});
