import assert from 'node:assert/strict';
import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import { generateTestKey, revokedPublicKey, type TestKey } from '../openpgp/openpgp.fixture.ts';
import { loadPublicKey } from '../openpgp/openpgp.keys.ts';
import { AppError } from '../shared/errors.ts';
import { aContact, anAccount } from '../storage/storage.conformance.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { CorrespondentKeyService, fingerprintWords } from './public-key.service.ts';

describe('CorrespondentKeyService (trust on first use)', () => {
  let storage: SqliteStorage;
  let service: CorrespondentKeyService;
  let accountId: string;
  let clock: Date;
  let changes: string[];
  let bob: TestKey;
  let bob2: TestKey;
  let bob3: TestKey;

  beforeAll(async () => {
    [bob, bob2, bob3] = await Promise.all([
      generateTestKey('bob@example.org'),
      generateTestKey('Bob@Example.org'),
      generateTestKey('bob@example.org', { alsoEmails: ['bob@other.example'] }),
    ]);
  });
  beforeEach(async () => {
    storage = SqliteStorage.open(':memory:');
    const account = anAccount();
    await storage.accounts.create(account);
    accountId = account.id;
    clock = new Date(Date.now() + 60_000);
    changes = [];
    service = new CorrespondentKeyService({
      keys: storage.keys,
      clock: () => clock,
      events: {
        publish: async (_name, event) => {
          const { accountId: a, address } = event as { accountId: string; address: string | null };
          changes.push(`${a === accountId ? 'A' : a}:${address}`);
        },
      },
    });
  });
  afterAll(async () => {
    await storage?.close();
  });

  const statuses = async () =>
    Object.fromEntries(
      (await service.keysForAddress(accountId, 'bob@example.org')).map((k) => [k.fingerprint, k.status]),
    );
  const later = (ms: number) => {
    clock = new Date(clock.getTime() + ms);
  };

  test('the first key is pinned; the same key again is known (last seen moves, no change hook)', async () => {
    const first = await service.addKey(accountId, 'BOB@example.org', bob.armoredPublic, 'autocrypt');
    assert.equal(first.outcome, 'new');
    assert.equal(first.key.status, 'active');
    assert.equal(first.key.address, 'bob@example.org');
    assert.equal(first.key.fingerprint, bob.fingerprint);
    assert.equal(first.key.source, 'autocrypt');
    assert.deepEqual(changes, ['A:bob@example.org']);
    later(1000);
    const again = await service.addKey(accountId, 'bob@example.org', bob.publicKey.write(), 'autocrypt');
    assert.equal(again.outcome, 'known');
    assert.equal(again.key.lastSeenAt.getTime(), clock.getTime());
    assert.equal(again.key.firstSeenAt.getTime(), first.key.firstSeenAt.getTime());
    assert.deepEqual(changes, ['A:bob@example.org'], 'seeing the same key again changes nothing the PI reads');
  });

  test('stronger evidence for the same key upgrades its source; weaker evidence does not downgrade it', async () => {
    await service.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'autocrypt');
    assert.equal(
      (await service.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'dnssec')).key.source,
      'dnssec',
    );
    assert.equal(changes.length, 2);
    assert.equal((await service.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'wkd')).key.source, 'dnssec');
    assert.equal((await storage.keys.get(accountId, 'bob@example.org', bob.fingerprint))?.source, 'dnssec');
  });

  test('a new copy of the pinned key with a new subkey is merged into the stored key (a change)', async () => {
    await service.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'autocrypt');
    const extended = await bob.privateKey.addSubkey({ type: 'curve25519' });
    const again = await service.addKey(accountId, 'bob@example.org', extended.toPublic().armor(), 'autocrypt');
    assert.equal(again.outcome, 'known');
    const stored = await loadPublicKey(
      (await storage.keys.get(accountId, 'bob@example.org', bob.fingerprint))!.publicKey,
    );
    assert.equal(stored?.subkeys.length, 2);
    assert.equal(changes.length, 2);
  });

  test('a different key while one is pinned is a conflict; the pinned key stays active', async () => {
    await service.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'autocrypt');
    const other = await service.addKey(accountId, 'bob@example.org', bob2.armoredPublic, 'autocrypt');
    assert.equal(other.outcome, 'conflict');
    assert.equal(other.key.status, 'conflict');
    assert.deepEqual(await statuses(), { [bob.fingerprint]: 'active', [bob2.fingerprint]: 'conflict' });
    assert.equal(changes.length, 2, 'a conflict is a change (the contact PI drops until the user decides)');
    // Even strong evidence does not silently replace a pinned key.
    assert.equal(
      (await service.addKey(accountId, 'bob@example.org', bob3.armoredPublic, 'dnssec')).outcome,
      'conflict',
    );
  });

  test('a signer known only by its fingerprint is a conflict without material, only while a key is pinned; its material fills it in later', async () => {
    // Nothing pinned: trust on first use pins keys, not fingerprints.
    assert.equal(await service.recordSignerConflict(accountId, 'bob@example.org', bob2.fingerprint), null);
    assert.deepEqual(await statuses(), {});
    await service.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'autocrypt');
    // The pinned key itself is not a conflict.
    assert.equal(await service.recordSignerConflict(accountId, 'bob@example.org', bob.fingerprint.toUpperCase()), null);
    const filed = await service.recordSignerConflict(accountId, 'Bob@Example.org', bob2.fingerprint);
    assert.equal(filed?.outcome, 'conflict');
    assert.deepEqual(
      [filed?.key.source, filed?.key.status, filed?.key.publicKey.length, filed?.key.algorithm],
      ['signature', 'conflict', 0, 'unknown'],
    );
    assert.deepEqual(await statuses(), { [bob.fingerprint]: 'active', [bob2.fingerprint]: 'conflict' });
    assert.deepEqual(changes, ['A:bob@example.org', 'A:bob@example.org'], 'an alert is a change');
    assert.equal(await service.recordSignerConflict(accountId, 'bob@example.org', bob2.fingerprint), null, 'once');
    await assert.rejects(service.recordSignerConflict(accountId, 'bob@example.org', 'abc'), { code: 'key_malformed' });
    // It cannot be verified without its material; rejecting it works.
    await assert.rejects(service.verify(accountId, 'bob@example.org', bob2.fingerprint), {
      code: 'key_material_unknown',
    });
    // The key itself arrives (Autocrypt): same fingerprint, now with material, still a conflict, source upgraded.
    const arrived = await service.addKey(accountId, 'bob@example.org', bob2.armoredPublic, 'autocrypt');
    assert.equal(arrived.key.status, 'conflict');
    assert.equal(arrived.key.source, 'autocrypt');
    assert.ok(arrived.key.publicKey.length > 0);
    assert.notEqual(arrived.key.algorithm, 'unknown');
    assert.equal((await service.verify(accountId, 'bob@example.org', bob2.fingerprint)).status, 'active');
    // A refused fingerprint stays refused.
    await service.reject(accountId, 'bob@example.org', bob2.fingerprint);
    assert.equal(await service.recordSignerConflict(accountId, 'bob@example.org', bob2.fingerprint), null);
  });

  test('a key the user adds by hand replaces the pinned one (superseded, kept to check old signatures)', async () => {
    await service.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'autocrypt');
    const chosen = await service.addKey(accountId, 'bob@example.org', bob2.armoredPublic, 'attached');
    assert.equal(chosen.outcome, 'new');
    assert.deepEqual(await statuses(), { [bob.fingerprint]: 'superseded', [bob2.fingerprint]: 'active' });
    // A key in conflict that the user then attaches by hand becomes the active one.
    await service.addKey(accountId, 'bob@example.org', bob3.armoredPublic, 'autocrypt');
    assert.equal((await statuses())[bob3.fingerprint], 'conflict');
    assert.equal(
      (await service.addKey(accountId, 'bob@example.org', bob3.armoredPublic, 'attached')).key.status,
      'active',
    );
    assert.deepEqual(await statuses(), {
      [bob.fingerprint]: 'superseded',
      [bob2.fingerprint]: 'superseded',
      [bob3.fingerprint]: 'active',
    });
  });

  test('an expired pinned key is replaced by the next one (rotation), not put in conflict', async () => {
    const created = new Date(clock.getTime() - 3 * 24 * 3600_000);
    const short = await generateTestKey('bob@example.org', { date: created, expiresInSeconds: 24 * 3600 });
    clock = new Date(created.getTime() + 3600_000);
    assert.equal(
      (
        await service.addKey(accountId, 'bob@example.org', short.armoredPublic, 'autocrypt')
      ).key.keyExpiresAt?.getTime(),
      Math.floor(created.getTime() / 1000) * 1000 + 24 * 3600_000,
    );
    clock = new Date(created.getTime() + 3 * 24 * 3600_000 + 60_000);
    const next = await service.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'autocrypt');
    assert.equal(next.outcome, 'new');
    assert.deepEqual(await statuses(), { [short.fingerprint]: 'superseded', [bob.fingerprint]: 'active' });
  });

  test('verify resolves a conflict either way; reject refuses a key', async () => {
    await service.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'autocrypt');
    await service.addKey(accountId, 'bob@example.org', bob2.armoredPublic, 'autocrypt');
    changes = [];
    const verified = await service.verify(accountId, 'Bob@Example.org', bob2.fingerprint.toUpperCase());
    assert.equal(verified.status, 'active');
    assert.equal(verified.verifiedAt?.getTime(), clock.getTime());
    assert.deepEqual(await statuses(), { [bob.fingerprint]: 'superseded', [bob2.fingerprint]: 'active' });
    assert.deepEqual(changes, ['A:bob@example.org']);

    await service.addKey(accountId, 'bob@example.org', bob3.armoredPublic, 'autocrypt');
    await service.verify(accountId, 'bob@example.org', bob2.fingerprint);
    assert.deepEqual(
      await statuses(),
      { [bob.fingerprint]: 'superseded', [bob2.fingerprint]: 'active', [bob3.fingerprint]: 'rejected' },
      'verifying the pinned key rejects the conflicting one',
    );

    const rejected = await service.reject(accountId, 'bob@example.org', bob2.fingerprint);
    assert.equal(rejected.status, 'rejected');
    assert.equal(rejected.verifiedAt, null);
    assert.equal((await storage.keys.get(accountId, 'bob@example.org', bob2.fingerprint))?.status, 'rejected');
    await assert.rejects(
      service.verify(accountId, 'bob@example.org', 'ab'.repeat(20)),
      (e: AppError) => e.code === 'not_found',
    );
    await assert.rejects(
      service.reject(accountId, 'nobody@example.org', bob.fingerprint),
      (e: AppError) => e.code === 'not_found',
    );
  });

  test('refused keys are AppErrors with the key_* codes, and nothing is stored', async () => {
    const refusal = async (input: string, code: string, address = 'bob@example.org') =>
      assert.rejects(
        service.addKey(accountId, address, input, 'attached'),
        (e: unknown) => e instanceof AppError && e.code === code && e.status === 422,
      );
    await refusal(bob.armoredPrivate, 'key_private');
    await refusal(bob.armoredPublic, 'key_address_mismatch', 'alice@example.org');
    await refusal(
      '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\ngarbage\n-----END PGP PUBLIC KEY BLOCK-----',
      'key_malformed',
    );
    await refusal(await revokedPublicKey(bob3), 'key_revoked');
    await assert.rejects(
      service.addKey(accountId, 'not an address', bob.armoredPublic, 'attached'),
      (e: AppError) => e.code === 'identity_address_invalid',
    );
    assert.deepEqual(await service.keysForAddress(accountId, 'bob@example.org'), []);
    assert.deepEqual(changes, []);
  });

  test('keys of a contact: every email identity, scoped to the account', async () => {
    await service.addKey(accountId, 'bob@example.org', bob3.armoredPublic, 'autocrypt');
    await service.addKey(accountId, 'bob@other.example', bob3.armoredPublic, 'wkd');
    const contact = aContact(accountId, {
      identities: [
        { protocol: 'email', address: 'bob@example.org', label: null },
        { protocol: 'email', address: 'bob@other.example', label: null },
        { protocol: 'xmpp', address: 'bob@example.org', label: null },
      ],
    });
    const keys = await service.keysForContact(contact);
    assert.deepEqual(keys.map((k) => k.address).sort(), ['bob@example.org', 'bob@other.example']);
    assert.deepEqual(await service.keysForContact({ ...contact, accountId: 'someone-else' }), []);
  });

  test('concurrent first sightings of two keys pin exactly one', async () => {
    const [a, b] = await Promise.all([
      service.addKey(accountId, 'bob@example.org', bob.armoredPublic, 'autocrypt'),
      service.addKey(accountId, 'bob@example.org', bob2.armoredPublic, 'autocrypt'),
    ]);
    assert.deepEqual([a.outcome, b.outcome].sort(), ['conflict', 'new']);
    assert.equal(Object.values(await statuses()).filter((s) => s === 'active').length, 1);
  });

  test('fingerprints read aloud: groups of four, split in the middle', () => {
    assert.equal(
      fingerprintWords('5c7f53695dbdb462954c0a51587ceee7db324c89'),
      '5C7F 5369 5DBD B462 954C  0A51 587C EEE7 DB32 4C89',
    );
    const v6 = fingerprintWords('3668769ebbf7f368602fa9c82b88532b302eaefaa1486d56af6b0e656294132b');
    assert.equal(v6.split(/\s+/).length, 16);
    assert.equal(
      v6.replace(/\s/g, '').toLowerCase(),
      '3668769ebbf7f368602fa9c82b88532b302eaefaa1486d56af6b0e656294132b',
    );
  });
});
