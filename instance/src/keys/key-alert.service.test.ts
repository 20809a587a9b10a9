import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import fc from 'fast-check';
import { generateTestKey, type TestKey } from '../openpgp/openpgp.fixture.ts';
import { isAppError } from '../shared/errors.ts';
import { aContact, anAccount } from '../storage/storage.conformance.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { decodeAlertCursor, encodeAlertCursor, KeyAlertService } from './key-alert.service.ts';
import { CorrespondentKeyService } from './public-key.service.ts';

describe('KeyAlertService', () => {
  let storage: SqliteStorage;
  let keys: CorrespondentKeyService;
  let alerts: KeyAlertService;
  let clock: Date;
  const tick = () => (clock = new Date(clock.getTime() + 1000));
  let accountId: string;
  let otherAccountId: string;
  let bob: TestKey[];
  let carol: TestKey[];

  beforeAll(async () => {
    storage = SqliteStorage.open(':memory:');
    const a = anAccount();
    const b = anAccount();
    await storage.accounts.create(a);
    await storage.accounts.create(b);
    accountId = a.id;
    otherAccountId = b.id;
    clock = new Date(Date.now() + 60_000);
    keys = new CorrespondentKeyService({ keys: storage.keys, clock: () => clock });
    alerts = new KeyAlertService({ keys: storage.keys, contacts: storage.contacts });
    bob = await Promise.all([1, 2, 3].map(() => generateTestKey('bob@example.org')));
    carol = await Promise.all([1, 2].map(() => generateTestKey('carol@example.net')));
    await storage.contacts.create(
      aContact(accountId, {
        displayName: 'Bob',
        identities: [{ protocol: 'email', address: 'bob@example.org', label: null }],
      }),
    );
  });
  afterAll(async () => {
    await storage?.close();
  });

  test('no alert while each address has one key; each different key later is one alert, newest first, with the pinned key and the contact', async () => {
    await keys.addKey(accountId, 'bob@example.org', bob[0]!.armoredPublic, 'wkd');
    tick();
    await keys.addKey(accountId, 'carol@example.net', carol[0]!.armoredPublic, 'autocrypt');
    assert.deepEqual(await alerts.list(accountId, { limit: 10 }), { items: [], next: null });

    tick();
    assert.equal(
      (await keys.addKey(accountId, 'bob@example.org', bob[1]!.armoredPublic, 'autocrypt')).outcome,
      'conflict',
    );
    tick();
    assert.equal(
      (await keys.addKey(accountId, 'carol@example.net', carol[1]!.armoredPublic, 'dns')).outcome,
      'conflict',
    );
    tick();
    assert.equal(
      (await keys.addKey(accountId, 'bob@example.org', bob[2]!.armoredPublic, 'autocrypt')).outcome,
      'conflict',
    );

    const page = await alerts.list(accountId, { limit: 10 });
    assert.equal(page.next, null);
    assert.deepEqual(
      page.items.map((a) => [
        a.address,
        a.conflicting.fingerprint,
        a.conflicting.source,
        a.pinned?.fingerprint,
        a.pinned?.source,
        a.contact?.displayName ?? null,
      ]),
      [
        ['bob@example.org', bob[2]!.fingerprint, 'autocrypt', bob[0]!.fingerprint, 'wkd', 'Bob'],
        ['carol@example.net', carol[1]!.fingerprint, 'dns', carol[0]!.fingerprint, 'autocrypt', null],
        ['bob@example.org', bob[1]!.fingerprint, 'autocrypt', bob[0]!.fingerprint, 'wkd', 'Bob'],
      ],
    );
    assert.deepEqual(
      await alerts.list(otherAccountId, { limit: 10 }),
      { items: [], next: null },
      'alerts are per account',
    );
  });

  test('pages follow one another without gaps or repeats', async () => {
    const all = (await alerts.list(accountId, { limit: 10 })).items.map((a) => a.conflicting.fingerprint);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await alerts.list(accountId, { limit: 1, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((a) => a.conflicting.fingerprint));
      if (page.next === null) break;
      cursor = page.next;
    }
    assert.deepEqual(seen, all);
    assert.equal(seen.length, 3);
  });

  test('deciding resolves: verifying the pinned key rejects the others; verifying a new one supersedes the pinned', async () => {
    await keys.verify(accountId, 'carol@example.net', carol[0]!.fingerprint);
    await keys.verify(accountId, 'bob@example.org', bob[1]!.fingerprint);
    assert.deepEqual(await alerts.list(accountId, { limit: 10 }), { items: [], next: null });
    // The key rejected earlier comes back (another Autocrypt header): it stays rejected, no new alert.
    tick();
    await keys.addKey(accountId, 'bob@example.org', bob[2]!.armoredPublic, 'autocrypt');
    assert.deepEqual((await alerts.list(accountId, { limit: 10 })).items, []);
  });

  test('cursors: round trip, and anything else is a validation error', () => {
    const at = new Date('2026-03-04T05:06:07.089Z');
    const fp = 'ab'.repeat(20);
    assert.deepEqual(
      decodeAlertCursor(encodeAlertCursor({ firstSeenAt: at, address: 'bob@example.org', fingerprint: fp })),
      { firstSeenAt: at, address: 'bob@example.org', fingerprint: fp },
    );
    const refused = (s: string) => {
      try {
        decodeAlertCursor(s);
        return false;
      } catch (e) {
        return isAppError(e) && e.code === 'validation_failed';
      }
    };
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
    for (const bad of [
      '',
      'not base64!',
      b64('a1\n12\nbob@example.org'),
      b64(`a2\n12\nbob@example.org\n${fp}`),
      b64(`a1\n-1\nbob@example.org\n${fp}`),
      b64(`a1\n12\n\n${fp}`),
      b64(`a1\n12\nbo\u0000b@x\n${fp}`),
      b64(`a1\n12\nbob@example.org\n${'g'.repeat(40)}`),
      b64(`a1\n12\nbob@example.org\n${fp}\nextra`),
      b64(`a1\n12\n${'x'.repeat(400)}\n${fp}`),
    ]) {
      assert.ok(refused(bad), JSON.stringify(bad));
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => refused(s) || decodeAlertCursor(s).fingerprint.length >= 40),
    );
  });
});
