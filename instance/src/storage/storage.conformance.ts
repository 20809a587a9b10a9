/**
 * The storage conformance suite: every Storage adapter must pass it unchanged.
 * Run by storage.sqlite.test.ts (always) and tests/conformance/storage.cassandra.test.ts (CASSANDRA_CONTACT_POINTS).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import type { Account } from '../accounts/account.entity.ts';
import type { Contact } from '../contacts/contact.entity.ts';
import type { Conversation } from '../conversations/conversation.entity.ts';
import type { Device } from '../devices/device.entity.ts';
import { IDLE_SYNC, type RemoteIdentity } from '../identities/remote-identity.entity.ts';
import type { AccountKey } from '../keys/account-key.entity.ts';
import type { CorrespondentKey } from '../keys/public-key.entity.ts';
import type { Message } from '../mail/message.entity.ts';
import type { Session } from '../sessions/session.entity.ts';
import type { Storage } from '../database/storage.port.ts';
import { MAX_DELIVERY_FAILURES_PER_ACCOUNT } from '../notices/notice.repository.ts';
import type { XmppAccount } from '../xmpp/xmpp-account.entity.ts';

export interface StorageUnderTest {
  storage: Storage;
  /** Closes the storage and opens it again on the same data (to check durability and idempotent migrations). */
  reopen: () => Promise<Storage>;
  /**
   * A second, independent connection to the same data, as another process of the instance would open (the caller
   * closes it).
   */
  another?: () => Promise<Storage>;
  cleanup: () => Promise<void>;
}

// Millisecond precision is what every engine keeps; tests use whole milliseconds.
const at = (iso: string) => new Date(iso);

export function anAccount(over: Partial<Account> = {}): Account {
  const now = at('2026-01-01T10:00:00.000Z');
  return {
    id: randomUUID(),
    username: `user-${randomUUID().slice(0, 8)}`,
    displayName: 'A Person',
    role: 'user',
    passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
    totpSecretSealed: null,
    totpPendingSealed: null,
    totpLastStep: 0,
    quotaBytes: 1000,
    usedBytes: 0,
    disabled: false,
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

export function aDevice(accountId: string, over: Partial<Device> = {}): Device {
  return {
    id: randomUUID(),
    accountId,
    name: 'Firefox on Linux',
    type: 'desktop',
    os: 'Linux',
    osVersion: null,
    browser: 'Firefox',
    browserVersion: '140.0',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
    firstSeenAt: at('2026-01-01T10:00:00.000Z'),
    lastSeenAt: at('2026-01-01T10:00:00.000Z'),
    revokedAt: null,
    pi: null,
    ...over,
  };
}

export function aContact(accountId: string, over: Partial<Contact> = {}): Contact {
  return {
    id: randomUUID(),
    accountId,
    displayName: 'Alice Martin',
    identities: [{ protocol: 'email', address: `alice-${randomUUID().slice(0, 6)}@x.example`, label: null }],
    notes: '',
    automatic: false,
    pi: null,
    createdAt: at('2026-01-01T10:00:00.000Z'),
    updatedAt: at('2026-01-01T10:00:00.000Z'),
    ...over,
  };
}

export function aConversation(accountId: string, over: Partial<Conversation> = {}): Conversation {
  return {
    id: randomUUID(),
    accountId,
    kind: 'people',
    key: `people:${randomUUID()}`,
    title: 'Alice Martin',
    participants: [{ contactId: null, address: 'alice@x.example', name: 'Alice' }],
    lastMessageAt: at('2026-01-02T10:00:00.000Z'),
    messageCount: 0,
    unreadCount: 0,
    pi: null,
    importance: 0,
    createdAt: at('2026-01-02T10:00:00.000Z'),
    ...over,
  };
}

export function aMessage(accountId: string, conversationId: string, over: Partial<Message> = {}): Message {
  return {
    id: randomUUID(),
    accountId,
    conversationId,
    protocol: 'email',
    direction: 'inbound',
    externalId: `<${randomUUID()}@x.example>`,
    contentHash: randomUUID().replaceAll('-', ''),
    from: { protocol: 'email', address: 'alice@x.example', name: 'Alice', contactId: null },
    to: [{ protocol: 'email', address: 'bob@alpha.test', name: null, contactId: null }],
    cc: [],
    subject: 'Café ce soir ?',
    snippet: 'On se retrouve à 19 h…',
    sentAt: at('2026-01-02T09:59:00.000Z'),
    receivedAt: at('2026-01-02T10:00:00.000Z'),
    sizeBytes: 100,
    rawRef: 'raw/abc',
    threadKey: 'cafe ce soir',
    tags: ['INBOX'],
    read: false,
    archived: false,
    deletedAt: null,
    pi: { score: 22, level: 'low', modelVersion: 'pi-1' },
    importance: 1,
    facts: { transport: { tls: 'TLSv1.3' } },
    ...over,
  };
}

export function aRemoteIdentity(accountId: string, over: Partial<RemoteIdentity> = {}): RemoteIdentity {
  return {
    id: randomUUID(),
    accountId,
    kind: 'imap',
    label: 'Old provider',
    host: 'imap.example.net',
    port: 993,
    tls: 'implicit',
    username: 'alice@example.net',
    credentialSealed: 'v1.aXY.c2VhbGVk',
    createdAt: at('2026-01-01T10:00:00.000Z'),
    updatedAt: at('2026-01-01T10:00:00.000Z'),
    sync: { ...IDLE_SYNC },
    ...over,
  };
}

export function anXmppAccount(accountId: string, over: Partial<XmppAccount> = {}): XmppAccount {
  return {
    id: randomUUID(),
    accountId,
    jid: `u${randomUUID().slice(0, 8)}@chat.example`,
    host: null,
    port: null,
    label: 'Chat',
    credentialSealed: 'v1.aXY.c2VhbGVk',
    archiveCursor: null,
    createdAt: at('2026-01-01T10:00:00.000Z'),
    updatedAt: at('2026-01-01T10:00:00.000Z'),
    ...over,
  };
}

export function aCorrespondentKey(accountId: string, over: Partial<CorrespondentKey> = {}): CorrespondentKey {
  return {
    accountId,
    address: `bob-${randomUUID().slice(0, 6)}@x.example`,
    fingerprint: randomUUID().replaceAll('-', '').padEnd(40, '0'),
    version: 4,
    algorithm: 'ed25519',
    // Binary on purpose: NUL, high bytes, and a length that is no multiple of anything.
    publicKey: Uint8Array.from([0xc6, 0x33, 0x04, 0x00, 0xff, 0x80, 0x0a, 0x0d, 0x27, 0x22, 0x5c]),
    source: 'autocrypt',
    status: 'active',
    keyCreatedAt: at('2025-06-01T00:00:00.000Z'),
    keyExpiresAt: null,
    verifiedAt: null,
    firstSeenAt: at('2026-01-01T10:00:00.000Z'),
    lastSeenAt: at('2026-01-01T10:00:00.000Z'),
    ...over,
  };
}

export function anAccountKey(accountId: string, over: Partial<AccountKey> = {}): AccountKey {
  return {
    accountId,
    fingerprint: randomUUID().replaceAll('-', '').padEnd(40, '0'),
    version: 4,
    algorithm: 'ed25519',
    publicKey: Uint8Array.from([0xc6, 0x33, 0x04, 0x00, 0xff, 0x80, 0x0a, 0x0d, 0x27, 0x22, 0x5c]),
    status: 'active',
    keyCreatedAt: at('2025-06-01T00:00:00.000Z'),
    keyExpiresAt: null,
    revocationCertificate: null,
    privateKey: null,
    addedAt: at('2026-01-01T10:00:00.000Z'),
    updatedAt: at('2026-01-01T10:00:00.000Z'),
    ...over,
  };
}

export function storageConformance(name: string, open: () => Promise<StorageUnderTest>): void {
  describe(`Storage conformance: ${name}`, () => {
    let sut: StorageUnderTest;
    let s: Storage;
    beforeAll(async () => {
      sut = await open();
      s = sut.storage;
    });
    afterAll(async () => {
      await sut.cleanup();
    });

    test('migrate is idempotent and ping answers', async () => {
      const v1 = await s.migrate();
      const v2 = await s.migrate();
      assert.equal(v1, v2);
      assert.ok(v1 >= 1);
      assert.equal(await s.ping(), true);
    });

    describe('accounts', () => {
      test('create, get by id and username, round trip of every field', async () => {
        const a = anAccount({ totpSecretSealed: 'sealed', totpLastStep: 42, disabled: true, role: 'admin' });
        assert.equal(await s.accounts.create(a), true);
        assert.deepEqual(await s.accounts.get(a.id), a);
        assert.deepEqual(await s.accounts.getByUsername(a.username), a);
        assert.equal(await s.accounts.get(randomUUID()), null);
        assert.equal(await s.accounts.getByUsername('nobody-here'), null);
      });

      test('usernames are unique: the second create is refused and writes nothing', async () => {
        const a = anAccount();
        assert.equal(await s.accounts.create(a), true);
        const clash = anAccount({ username: a.username, displayName: 'Impostor' });
        assert.equal(await s.accounts.create(clash), false);
        assert.equal(await s.accounts.get(clash.id), null);
        assert.equal((await s.accounts.getByUsername(a.username))?.displayName, 'A Person');
      });

      test('list pages by username; count', async () => {
        const prefix = `zz-list-${randomUUID().slice(0, 4)}`;
        for (const n of ['c', 'a', 'b']) await s.accounts.create(anAccount({ username: `${prefix}-${n}` }));
        const all: string[] = [];
        let afterUsername: string | undefined = `${prefix}`;
        for (;;) {
          const page = await s.accounts.list({ limit: 2, ...(afterUsername ? { afterUsername } : {}) });
          const mine = page.filter((x) => x.username.startsWith(prefix));
          all.push(...mine.map((x) => x.username));
          if (page.length < 2 || mine.length < page.length) break;
          afterUsername = page.at(-1)!.username;
        }
        assert.deepEqual(all, [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
        assert.ok((await s.accounts.count()) >= 3);
      });

      test('update replaces mutable fields', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const changed = {
          ...a,
          displayName: 'New Name',
          quotaBytes: 5000,
          totpPendingSealed: 'p',
          updatedAt: at('2026-02-01T00:00:00.000Z'),
        };
        await s.accounts.update(changed);
        assert.deepEqual(await s.accounts.get(a.id), changed);
      });

      test('update never overwrites usage (it changes only through addUsage)', async () => {
        const a = anAccount({ quotaBytes: 1000 });
        await s.accounts.create(a);
        const stale = (await s.accounts.get(a.id))!;
        assert.equal(await s.accounts.addUsage(a.id, 300), 300);
        await s.accounts.update({ ...stale, displayName: 'Renamed', usedBytes: 0 });
        const now = await s.accounts.get(a.id);
        assert.equal(now?.displayName, 'Renamed');
        assert.equal(now?.usedBytes, 300);
      });

      test('usage is bounded by the quota and never negative', async () => {
        const a = anAccount({ quotaBytes: 1000 });
        await s.accounts.create(a);
        assert.equal(await s.accounts.addUsage(a.id, 600), 600);
        assert.equal(await s.accounts.addUsage(a.id, 500), null, 'over quota is refused');
        assert.equal((await s.accounts.get(a.id))?.usedBytes, 600, 'a refused increment changes nothing');
        assert.equal(await s.accounts.addUsage(a.id, 400), 1000, 'exactly the quota is allowed');
        assert.equal(await s.accounts.addUsage(a.id, -300), 700);
        assert.equal(await s.accounts.addUsage(a.id, -5000), 0);
        assert.equal(await s.accounts.addUsage(randomUUID(), 1), null);
      });
    });

    describe('devices and sessions', () => {
      test('devices are scoped to their account, newest seen first, touch and revoke', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const d1 = aDevice(a.id, { lastSeenAt: at('2026-01-01T10:00:00.000Z') });
        const d2 = aDevice(a.id, {
          lastSeenAt: at('2026-01-03T10:00:00.000Z'),
          type: 'mobile',
          os: 'Android',
          osVersion: '15',
        });
        await s.devices.create(d1);
        await s.devices.create(d2);
        assert.deepEqual(await s.devices.get(a.id, d2.id), d2);
        assert.equal(await s.devices.get(b.id, d2.id), null, "B cannot read A's device");
        assert.deepEqual(
          (await s.devices.listByAccount(a.id)).map((d) => d.id),
          [d2.id, d1.id],
        );
        assert.deepEqual(await s.devices.listByAccount(b.id), []);
        await s.devices.touch(a.id, d1.id, at('2026-01-05T10:00:00.000Z'));
        assert.deepEqual(
          (await s.devices.listByAccount(a.id)).map((d) => d.id),
          [d1.id, d2.id],
        );
        await s.devices.touch(a.id, d1.id, at('2026-01-04T10:00:00.000Z'));
        assert.equal(
          (await s.devices.get(a.id, d1.id))?.lastSeenAt.toISOString(),
          '2026-01-05T10:00:00.000Z',
          'touch never goes back in time',
        );
        assert.equal(
          await s.devices.revoke(b.id, d1.id, at('2026-01-06T00:00:00.000Z')),
          false,
          "B cannot revoke A's device",
        );
        assert.equal(await s.devices.revoke(a.id, d1.id, at('2026-01-06T00:00:00.000Z')), true);
        assert.equal(
          await s.devices.revoke(a.id, d1.id, at('2026-01-07T00:00:00.000Z')),
          false,
          'revoking twice is a no-op',
        );
        assert.equal((await s.devices.get(a.id, d1.id))?.revokedAt?.toISOString(), '2026-01-06T00:00:00.000Z');
      });

      test('sessions: by token hash, revoke one, by device, by account, purge expired', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const dev1 = randomUUID();
        const dev2 = randomUUID();
        const mk = (deviceId: string, expiresAt = at('2027-01-01T00:00:00.000Z')): Session => ({
          id: randomUUID(),
          accountId: a.id,
          deviceId,
          tokenHash: randomUUID(),
          createdAt: at('2026-01-01T00:00:00.000Z'),
          expiresAt,
          revokedAt: null,
        });
        const s1 = mk(dev1);
        const s2 = mk(dev1);
        const s3 = mk(dev2);
        const old = mk(dev2, at('2026-01-02T00:00:00.000Z'));
        for (const x of [s1, s2, s3, old]) await s.sessions.create(x);
        assert.deepEqual(await s.sessions.getByTokenHash(s1.tokenHash), s1);
        assert.equal(await s.sessions.getByTokenHash('unknown'), null);
        assert.equal((await s.sessions.listByAccount(a.id)).length, 4);
        assert.equal(
          await s.sessions.revoke(randomUUID(), s1.id, at('2026-01-03T00:00:00.000Z')),
          false,
          'scoped to the account',
        );
        assert.equal(await s.sessions.revoke(a.id, s1.id, at('2026-01-03T00:00:00.000Z')), true);
        assert.ok((await s.sessions.getByTokenHash(s1.tokenHash))?.revokedAt);
        assert.equal(
          await s.sessions.revokeByDevice(a.id, dev1, at('2026-01-03T00:00:00.000Z')),
          1,
          'only the live one of dev1',
        );
        assert.ok((await s.sessions.getByTokenHash(s2.tokenHash))?.revokedAt);
        assert.equal((await s.sessions.getByTokenHash(s3.tokenHash))?.revokedAt, null);
        assert.equal(await s.sessions.purgeExpired(at('2026-06-01T00:00:00.000Z')), 1);
        assert.equal(await s.sessions.getByTokenHash(old.tokenHash), null);
        assert.equal(await s.sessions.revokeByAccount(a.id, at('2026-01-04T00:00:00.000Z')), 1);
        assert.ok((await s.sessions.getByTokenHash(s3.tokenHash))?.revokedAt);
      });
    });

    describe('contacts', () => {
      test('create, get, find by identity, scoped to the account', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const c = aContact(a.id, {
          identities: [
            { protocol: 'email', address: 'alice@x.example', label: 'work' },
            { protocol: 'email', address: 'alice@y.example', label: null },
          ],
          pi: { score: 40, level: 'fair', modelVersion: 'pi-1' },
        });
        assert.equal(await s.contacts.create(c), true);
        assert.deepEqual(await s.contacts.get(a.id, c.id), c);
        assert.equal(await s.contacts.get(b.id, c.id), null);
        assert.equal((await s.contacts.findByIdentity(a.id, 'email', 'alice@y.example'))?.id, c.id);
        assert.equal(await s.contacts.findByIdentity(b.id, 'email', 'alice@y.example'), null);
        assert.equal(
          await s.contacts.findByIdentity(a.id, 'xmpp', 'alice@y.example'),
          null,
          'protocol is part of the identity',
        );
        // B may have a contact with the same address: identities are unique per account only.
        assert.equal(
          await s.contacts.create(
            aContact(b.id, { identities: [{ protocol: 'email', address: 'alice@x.example', label: null }] }),
          ),
          true,
        );
      });

      test('an identity belongs to one contact: a clashing create or update is refused and writes nothing', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const c1 = aContact(a.id, { identities: [{ protocol: 'email', address: 'same@x.example', label: null }] });
        assert.equal(await s.contacts.create(c1), true);
        const c2 = aContact(a.id, {
          displayName: 'Other',
          identities: [{ protocol: 'email', address: 'same@x.example', label: null }],
        });
        assert.equal(await s.contacts.create(c2), false);
        assert.equal(await s.contacts.get(a.id, c2.id), null);
        const c3 = aContact(a.id, { identities: [{ protocol: 'email', address: 'c3@x.example', label: null }] });
        assert.equal(await s.contacts.create(c3), true);
        const stolen = {
          ...c3,
          identities: [...c3.identities, { protocol: 'email', address: 'same@x.example', label: null }],
        };
        assert.equal(await s.contacts.update(stolen), false);
        assert.deepEqual(await s.contacts.get(a.id, c3.id), c3);
        assert.equal((await s.contacts.findByIdentity(a.id, 'email', 'same@x.example'))?.id, c1.id);
      });

      test('update replaces identities (old ones no longer resolve), delete removes them', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const c = aContact(a.id, { identities: [{ protocol: 'email', address: 'old@x.example', label: null }] });
        await s.contacts.create(c);
        const next = {
          ...c,
          displayName: 'Alice M.',
          identities: [{ protocol: 'email', address: 'new@x.example', label: 'home' }],
          updatedAt: at('2026-03-01T00:00:00.000Z'),
        };
        assert.equal(await s.contacts.update(next), true);
        assert.deepEqual(await s.contacts.get(a.id, c.id), next);
        assert.equal(await s.contacts.findByIdentity(a.id, 'email', 'old@x.example'), null);
        assert.equal((await s.contacts.findByIdentity(a.id, 'email', 'new@x.example'))?.id, c.id);
        assert.equal(await s.contacts.update({ ...next, id: randomUUID() }), false, 'updating an unknown contact');
        assert.equal(await s.contacts.delete(randomUUID(), c.id), false, 'scoped to the account');
        assert.equal(await s.contacts.delete(a.id, c.id), true);
        assert.equal(await s.contacts.get(a.id, c.id), null);
        assert.equal(await s.contacts.findByIdentity(a.id, 'email', 'new@x.example'), null);
      });

      test('list pages by display name then id', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        for (const n of ['Chloé', 'Alice', 'Bruno', 'Alice'])
          await s.contacts.create(aContact(a.id, { displayName: n }));
        const seen: string[] = [];
        let afterKey: { displayName: string; id: string } | undefined;
        for (;;) {
          const page = await s.contacts.list(a.id, { limit: 3, ...(afterKey ? { after: afterKey } : {}) });
          seen.push(...page.map((c) => c.displayName));
          if (page.length < 3) break;
          const last = page.at(-1)!;
          afterKey = { displayName: last.displayName, id: last.id };
        }
        assert.deepEqual(seen, ['Alice', 'Alice', 'Bruno', 'Chloé']);
      });
    });

    describe('conversations and messages', () => {
      test('getOrCreate is keyed by (account, key); list by activity with keyset paging', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const c = aConversation(a.id, { key: 'people:k1' });
        const first = await s.conversations.getOrCreate(c);
        assert.deepEqual(first, c);
        const again = await s.conversations.getOrCreate(aConversation(a.id, { key: 'people:k1', title: 'other' }));
        assert.equal(again.id, c.id, 'same key, same conversation');
        assert.deepEqual(await s.conversations.getByKey(a.id, 'people:k1'), c);
        const days = [5, 3, 9, 1, 7];
        for (const d of days) {
          await s.conversations.getOrCreate(
            aConversation(a.id, { lastMessageAt: at(`2026-01-0${d}T00:00:00.000Z`), title: `d${d}` }),
          );
        }
        const titles: string[] = [];
        let beforeCursor: { at: Date; id: string } | undefined;
        for (;;) {
          const page = await s.conversations.list(a.id, {
            limit: 2,
            ...(beforeCursor ? { before: beforeCursor } : {}),
          });
          titles.push(...page.map((x) => x.title));
          if (page.length < 2) break;
          const last = page.at(-1)!;
          beforeCursor = { at: last.lastMessageAt, id: last.id };
        }
        assert.deepEqual(titles, ['d9', 'd7', 'd5', 'd3', 'Alice Martin', 'd1']);
        const b = anAccount();
        await s.accounts.create(b);
        assert.deepEqual(await s.conversations.list(b.id, { limit: 10 }), []);
        assert.equal(await s.conversations.get(b.id, c.id), null);
      });

      test('conversation update and delete', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const c = await s.conversations.getOrCreate(aConversation(a.id));
        const next = {
          ...c,
          messageCount: 3,
          unreadCount: 2,
          pi: { score: 80, level: 'high', modelVersion: 'pi-1' },
          importance: 2,
          lastMessageAt: at('2026-02-01T00:00:00.000Z'),
        };
        await s.conversations.update(next);
        assert.deepEqual(await s.conversations.get(a.id, c.id), next);
        assert.equal(await s.conversations.delete(randomUUID(), c.id), false);
        assert.equal(await s.conversations.delete(a.id, c.id), true);
        assert.equal(await s.conversations.get(a.id, c.id), null);
      });

      test('list by importance: importance desc, then activity desc, then id; keyset paging; updates move conversations', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const specs: [string, number, string][] = [
          ['n-jan5', 0, '2026-01-05T00:00:00.000Z'],
          ['i-jan3', 2, '2026-01-03T00:00:00.000Z'],
          ['j-jan9', -2, '2026-01-09T00:00:00.000Z'],
          ['h-feb1', 1, '2026-02-01T00:00:00.000Z'],
          ['h-dec20', 1, '2025-12-20T00:00:00.000Z'],
          ['n-jan7', 0, '2026-01-07T00:00:00.000Z'],
          ['l-jan1', -1, '2026-01-01T00:00:00.000Z'],
          ['i-jan3-twin', 2, '2026-01-03T00:00:00.000Z'],
        ];
        const byTitle = new Map<string, Conversation>();
        for (const [title, importance, when] of specs) {
          byTitle.set(
            title,
            await s.conversations.getOrCreate(
              aConversation(a.id, { title, importance, lastMessageAt: at(when), messageCount: 1 }),
            ),
          );
        }
        const expected = (list: Conversation[]) =>
          [...list]
            .sort(
              (x, y) =>
                y.importance - x.importance ||
                y.lastMessageAt.getTime() - x.lastMessageAt.getTime() ||
                (y.id > x.id ? 1 : y.id < x.id ? -1 : 0),
            )
            .map((c) => c.title);
        const walk = async (accountId: string, limit: number) => {
          const titles: string[] = [];
          let before: { importance: number; at: Date; id: string } | undefined;
          for (let pages = 0; pages < 20; pages++) {
            const page = await s.conversations.listByImportance(accountId, { limit, ...(before ? { before } : {}) });
            titles.push(...page.map((c) => c.title));
            if (page.length < limit) break;
            const last = page.at(-1)!;
            before = { importance: last.importance, at: last.lastMessageAt, id: last.id };
          }
          return titles;
        };
        assert.deepEqual(await walk(a.id, 3), expected([...byTitle.values()]));
        assert.deepEqual(await walk(a.id, 100), expected([...byTitle.values()]), 'one page holds the same order');
        assert.equal(new Set(await walk(a.id, 1)).size, specs.length, 'page by page: none lost, none repeated');

        // Junk becomes important; a normal one gets a later activity and turns low; an important one is deleted.
        const up = { ...byTitle.get('j-jan9')!, importance: 2 };
        const down = { ...byTitle.get('n-jan5')!, importance: -1, lastMessageAt: at('2026-03-01T00:00:00.000Z') };
        await s.conversations.update(up);
        await s.conversations.update(down);
        await s.conversations.delete(a.id, byTitle.get('i-jan3')!.id);
        byTitle.set('j-jan9', up);
        byTitle.set('n-jan5', down);
        byTitle.delete('i-jan3');
        assert.deepEqual(await walk(a.id, 2), expected([...byTitle.values()]));
        assert.deepEqual((await s.conversations.listByImportance(a.id, { limit: 1 }))[0]?.title, 'j-jan9');
        const b = anAccount();
        await s.accounts.create(b);
        assert.deepEqual(await s.conversations.listByImportance(b.id, { limit: 10 }), [], 'scoped to the account');
      });

      test('correspondence: sent Message-IDs and addresses written to, idempotent, scoped to the account', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const sent = {
          externalId: '<sent-1@alpha.test>',
          recipients: [
            { protocol: 'email', address: 'dave@d.example' },
            { protocol: 'email', address: 'erin@e.example' },
          ],
        };
        await s.correspondence.recordSent(a.id, sent);
        await s.correspondence.recordSent(a.id, sent);
        await s.correspondence.recordSent(a.id, {
          externalId: null,
          recipients: [{ protocol: 'email', address: 'frank@f.example' }],
        });
        assert.deepEqual(
          [...(await s.correspondence.sentAmong(a.id, ['<other@x>', '<sent-1@alpha.test>', '<sent-1@alpha.test>']))],
          ['<sent-1@alpha.test>'],
        );
        assert.deepEqual([...(await s.correspondence.sentAmong(a.id, []))], []);
        assert.equal(await s.correspondence.hasWrittenTo(a.id, 'email', 'dave@d.example'), true);
        assert.equal(await s.correspondence.hasWrittenTo(a.id, 'email', 'frank@f.example'), true);
        assert.equal(await s.correspondence.hasWrittenTo(a.id, 'email', 'mallory@m.example'), false);
        assert.equal(await s.correspondence.hasWrittenTo(a.id, 'federation', 'dave@d.example'), false, 'per protocol');
        assert.deepEqual(
          [...(await s.correspondence.sentAmong(b.id, ['<sent-1@alpha.test>']))],
          [],
          'scoped to the account',
        );
        assert.equal(await s.correspondence.hasWrittenTo(b.id, 'email', 'dave@d.example'), false);
      });

      test('messages: put round trip, idempotent by id and by (external id, content hash)', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const conv = await s.conversations.getOrCreate(aConversation(a.id));
        const m = aMessage(a.id, conv.id);
        const r1 = await s.messages.put(m);
        assert.equal(r1.inserted, true);
        assert.deepEqual(await s.messages.get(a.id, m.id), m);
        const r2 = await s.messages.put(m);
        assert.equal(r2.inserted, false);
        assert.deepEqual(r2.message, m);
        const sameContent = { ...m, id: randomUUID() };
        const r3 = await s.messages.put(sameContent);
        assert.equal(r3.inserted, false, 'same Message-ID and content is the same message');
        assert.equal(r3.message.id, m.id);
        assert.equal(await s.messages.get(a.id, sameContent.id), null);
        const otherContent = { ...m, id: randomUUID(), contentHash: 'different' };
        assert.equal((await s.messages.put(otherContent)).inserted, true, 'same Message-ID, different content: kept');
        const noExternalId = aMessage(a.id, conv.id, { externalId: null, contentHash: 'h-null' });
        assert.equal((await s.messages.put(noExternalId)).inserted, true);
        assert.equal((await s.messages.put({ ...noExternalId, id: randomUUID() })).inserted, false);
        assert.equal((await s.messages.findByDedupeKey(a.id, null, 'h-null'))?.id, noExternalId.id);
        assert.equal((await s.messages.findByDedupeKey(a.id, m.externalId, m.contentHash))?.id, m.id);
        assert.equal(await s.messages.countByAccount(a.id), 3);
        const b = anAccount();
        await s.accounts.create(b);
        assert.equal(await s.messages.get(b.id, m.id), null);
        assert.equal(await s.messages.findByDedupeKey(b.id, m.externalId, m.contentHash), null);
        // The same message delivered to another account is that account's own copy.
        assert.equal((await s.messages.put({ ...m, id: randomUUID(), accountId: b.id })).inserted, true);
      });

      test('messages of a conversation, newest first, keyset paging across months', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const conv = await s.conversations.getOrCreate(aConversation(a.id));
        const dates = [
          '2025-11-30T23:59:59.999Z',
          '2026-01-15T00:00:00.000Z',
          '2025-12-01T00:00:00.000Z',
          '2026-03-01T12:00:00.000Z',
          '2026-01-15T00:00:00.000Z',
        ];
        const ids: string[] = [];
        for (const d of dates) {
          const m = aMessage(a.id, conv.id, { receivedAt: at(d) });
          ids.push(m.id);
          await s.messages.put(m);
        }
        await s.messages.put(aMessage(a.id, (await s.conversations.getOrCreate(aConversation(a.id))).id));
        const seen: Message[] = [];
        let beforeCursor: { at: Date; id: string } | undefined;
        for (;;) {
          const page = await s.messages.listByConversation(a.id, conv.id, {
            limit: 2,
            ...(beforeCursor ? { before: beforeCursor } : {}),
          });
          seen.push(...page);
          if (page.length < 2) break;
          const last = page.at(-1)!;
          beforeCursor = { at: last.receivedAt, id: last.id };
        }
        assert.equal(seen.length, 5, 'no message lost or repeated across pages, none from another conversation');
        assert.equal(new Set(seen.map((m) => m.id)).size, 5);
        for (let i = 1; i < seen.length; i++) {
          const prev = seen[i - 1]!;
          const cur = seen[i]!;
          const ordered =
            prev.receivedAt > cur.receivedAt ||
            (prev.receivedAt.getTime() === cur.receivedAt.getTime() && prev.id > cur.id);
          assert.ok(ordered, 'ordered by (receivedAt desc, id desc)');
        }
        // What the conversation's PI reads: the same messages in the same order, with their PI and deletion.
        await s.messages.setPis(a.id, [{ id: seen[1]!.id, pi: { score: 61, level: 'good', modelVersion: 'm/1' } }]);
        await s.messages.updateFlags(a.id, seen[2]!.id, { deletedAt: at('2026-04-01T00:00:00.000Z') });
        const full = await s.messages.listByConversation(a.id, conv.id, { limit: 4 });
        assert.deepEqual(
          await s.messages.recentPis(a.id, conv.id, 4),
          full.map((m) => ({ id: m.id, receivedAt: m.receivedAt, deletedAt: m.deletedAt, pi: m.pi })),
        );
        assert.deepEqual((await s.messages.recentPis(a.id, conv.id, 4))[1]!.pi, {
          score: 61,
          level: 'good',
          modelVersion: 'm/1',
        });
        assert.deepEqual(await s.messages.recentPis(a.id, randomUUID(), 4), []);
      });

      test('pending decryption: listed oldest first, only the marked, scoped; setDecryption updates in place and unmarks; purge removes', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const conv = await s.conversations.getOrCreate(aConversation(a.id));
        const marked = (over: Partial<Message>) =>
          aMessage(a.id, conv.id, {
            subject: '...',
            facts: {
              transport: null,
              authentication: null,
              openpgp: { kind: 'pgp-mime-encrypted', encrypted: true, pendingDecryption: true },
              importance: { feedback: 'up' },
            },
            ...over,
          });
        const older = marked({ receivedAt: at('2026-03-01T10:00:00.000Z') });
        const newer = marked({ receivedAt: at('2026-04-01T10:00:00.000Z'), read: true, tags: ['keep'] });
        const third = marked({ receivedAt: at('2026-05-01T10:00:00.000Z') });
        const plain = aMessage(a.id, conv.id);
        for (const m of [newer, plain, third, older]) await s.messages.put(m);
        assert.deepEqual(
          (await s.messages.listPendingDecryption(a.id, 10)).map((m) => m.id),
          [older.id, newer.id, third.id],
        );
        assert.deepEqual(
          (await s.messages.listPendingDecryption(a.id, 2)).map((m) => m.id),
          [older.id, newer.id],
          'bounded',
        );
        assert.deepEqual(await s.messages.listPendingDecryption(b.id, 10), [], "another account's are not listed");
        assert.deepEqual(await s.messages.listPendingDecryption(a.id, 0), []);

        const pi = { score: 40, level: 'good', modelVersion: 'hub-pi/1' };
        const openpgp = { kind: 'pgp-mime-encrypted', encrypted: true, decrypted: true, signature: 'valid' };
        assert.equal(
          await s.messages.setDecryption(b.id, newer.id, {
            content: { subject: 'x', snippet: 'x', threadKey: null },
            openpgp,
            pi,
          }),
          null,
          "another account's call changes nothing",
        );
        const updated = await s.messages.setDecryption(a.id, newer.id, {
          content: { subject: 'Harbour plans', snippet: 'Meet at the lighthouse', threadKey: 'harbour plans' },
          openpgp,
          pi,
        });
        assert.equal(updated?.subject, 'Harbour plans');
        const read = (await s.messages.get(a.id, newer.id))!;
        assert.deepEqual(
          [read.subject, read.snippet, read.threadKey],
          ['Harbour plans', 'Meet at the lighthouse', 'harbour plans'],
        );
        assert.deepEqual(read.pi, pi);
        assert.deepEqual(read.facts['openpgp'], openpgp, 'the openpgp section replaced');
        assert.deepEqual(read.facts['importance'], { feedback: 'up' }, 'the other sections kept');
        assert.deepEqual([read.read, read.tags], [true, ['keep']], 'flags untouched');
        // Given up: facts only, the content stays as it came.
        await s.messages.setDecryption(a.id, older.id, {
          content: null,
          openpgp: { kind: 'pgp-mime-encrypted', encrypted: true, problem: 'Not decrypted.' },
          pi: null,
        });
        assert.equal((await s.messages.get(a.id, older.id))?.subject, '...');
        assert.deepEqual(
          (await s.messages.listPendingDecryption(a.id, 10)).map((m) => m.id),
          [third.id],
        );
        await s.messages.purge(a.id, third.id);
        assert.deepEqual(await s.messages.listPendingDecryption(a.id, 10), [], 'a purged message is no longer listed');
        assert.equal(
          await s.messages.setDecryption(a.id, randomUUID(), { content: null, openpgp, pi }),
          null,
          'unknown id',
        );
      });

      test('flags update, move to another conversation, purge', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const c1 = await s.conversations.getOrCreate(aConversation(a.id));
        const c2 = await s.conversations.getOrCreate(aConversation(a.id));
        const m1 = aMessage(a.id, c1.id);
        const m2 = aMessage(a.id, c1.id);
        await s.messages.put(m1);
        await s.messages.put(m2);
        const updated = await s.messages.updateFlags(a.id, m1.id, {
          read: true,
          tags: ['INBOX', 'work'],
          importance: 3,
        });
        assert.equal(updated?.read, true);
        assert.deepEqual((await s.messages.get(a.id, m1.id))?.tags, ['INBOX', 'work']);
        assert.equal((await s.messages.get(a.id, m1.id))?.archived, false, 'unspecified flags unchanged');
        assert.equal(await s.messages.updateFlags(randomUUID(), m1.id, { read: false }), null, 'scoped to the account');
        const facts = {
          ...m1.facts,
          importance: { repliesTo: null, feedback: 'junk', feedbackAt: '2026-04-01T00:00:00.000Z', reasons: [] },
        };
        await s.messages.updateFlags(a.id, m1.id, { importance: -2, facts });
        assert.deepEqual((await s.messages.get(a.id, m1.id))?.facts, facts, 'facts are replaced when given');
        await s.messages.updateFlags(a.id, m1.id, { read: true });
        assert.deepEqual((await s.messages.get(a.id, m1.id))?.facts, facts, 'and kept when not');
        const deletedAt = at('2026-04-01T00:00:00.000Z');
        await s.messages.updateFlags(a.id, m2.id, { deletedAt });
        assert.equal((await s.messages.get(a.id, m2.id))?.deletedAt?.toISOString(), deletedAt.toISOString());
        await s.messages.updateFlags(a.id, m2.id, { deletedAt: null });
        assert.equal((await s.messages.get(a.id, m2.id))?.deletedAt, null, 'undelete');
        assert.equal(await s.messages.moveConversation(a.id, c1.id, c2.id), 2);
        assert.deepEqual(await s.messages.listByConversation(a.id, c1.id, { limit: 10 }), []);
        assert.equal((await s.messages.listByConversation(a.id, c2.id, { limit: 10 })).length, 2);
        assert.equal((await s.messages.get(a.id, m1.id))?.conversationId, c2.id);
        assert.equal(await s.messages.purge(randomUUID(), m1.id), null);
        const purged = await s.messages.purge(a.id, m1.id);
        assert.equal(purged?.sizeBytes, m1.sizeBytes);
        assert.equal(await s.messages.get(a.id, m1.id), null);
        assert.equal(await s.messages.purge(a.id, m1.id), null, 'purging twice is a no-op');
        // After a purge the same message can be imported again (it is a new arrival).
        assert.equal((await s.messages.put({ ...m1, id: randomUUID() })).inserted, true);
      });
    });

    describe('Privacy Index storage', () => {
      test('account and device PIs: stored, read back, replaced; unknown ids are harmless', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        assert.equal(await s.accounts.getPi(a.id), null);
        const pi = { score: 37, level: 'guarded', modelVersion: 'hub-pi/1' };
        await s.accounts.setPi(a.id, pi);
        assert.deepEqual(await s.accounts.getPi(a.id), pi);
        await s.accounts.setPi(a.id, { ...pi, score: 41 });
        assert.equal((await s.accounts.getPi(a.id))?.score, 41);
        assert.deepEqual(await s.accounts.get(a.id), a, 'the PI does not disturb the account row');

        const d = aDevice(a.id);
        await s.devices.create(d);
        assert.equal((await s.devices.get(a.id, d.id))?.pi, null);
        await s.devices.setPi(a.id, d.id, { score: 5, level: 'exposed', modelVersion: 'hub-pi/1' });
        assert.equal((await s.devices.get(a.id, d.id))?.pi?.score, 5);
        assert.equal((await s.devices.listByAccount(a.id))[0]?.pi?.score, 5);
        await s.devices.setPi(a.id, randomUUID(), { score: 5, level: 'exposed', modelVersion: 'hub-pi/1' });
        assert.equal((await s.devices.listByAccount(a.id)).length, 1, 'no row appears for an unknown device');
      });

      test('setPis rescoring many messages in one call, facts included, flags untouched, other accounts untouched', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const conv = await s.conversations.getOrCreate(aConversation(a.id));
        const m1 = aMessage(a.id, conv.id, { read: true, tags: ['x'] });
        const m2 = aMessage(a.id, conv.id);
        await s.messages.put(m1);
        await s.messages.put(m2);
        const pi = { score: 22, level: 'basic', modelVersion: 'hub-pi/1' };
        await s.messages.setPis(a.id, [
          { id: m1.id, pi },
          { id: m2.id, pi: { ...pi, score: 3, level: 'exposed' }, facts: { ...m2.facts, openpgp: { kind: 'none' } } },
          { id: randomUUID(), pi },
        ]);
        const r1 = await s.messages.get(a.id, m1.id);
        const r2 = await s.messages.get(a.id, m2.id);
        assert.deepEqual(r1?.pi, pi);
        assert.equal(r1?.read, true);
        assert.deepEqual(r1?.tags, ['x']);
        assert.equal(r2?.pi?.score, 3);
        assert.deepEqual((r2?.facts as Record<string, unknown> | undefined)?.['openpgp'], { kind: 'none' });
        await s.messages.setPis(b.id, [{ id: m1.id, pi: { ...pi, score: 99, level: 'sealed' } }]);
        assert.equal((await s.messages.get(a.id, m1.id))?.pi?.score, 22, "another account's call changes nothing");
        await s.messages.setPis(a.id, []);
      });
    });

    describe('remote identities', () => {
      test('create, get, list oldest first, scoped to the account; delete removes folder states', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const i1 = aRemoteIdentity(a.id, {
          createdAt: at('2026-01-02T10:00:00.000Z'),
          updatedAt: at('2026-01-02T10:00:00.000Z'),
        });
        const i2 = aRemoteIdentity(a.id, { tls: 'starttls', port: 143, label: '', username: 'üser' });
        await s.remoteIdentities.create(i1);
        await s.remoteIdentities.create(i2);
        assert.deepEqual(await s.remoteIdentities.get(a.id, i1.id), i1);
        assert.deepEqual(await s.remoteIdentities.get(a.id, i2.id), i2);
        assert.equal(await s.remoteIdentities.get(b.id, i1.id), null, "B cannot read A's identity");
        assert.deepEqual(
          (await s.remoteIdentities.listByAccount(a.id)).map((i) => i.id),
          [i2.id, i1.id],
        );
        assert.deepEqual(await s.remoteIdentities.listByAccount(b.id), []);

        await s.remoteIdentities.putFolder({
          accountId: a.id,
          identityId: i1.id,
          path: 'INBOX',
          uidValidity: '4294967295',
          lastUid: 10,
          updatedAt: at('2026-01-03T10:00:00.000Z'),
        });
        assert.equal(await s.remoteIdentities.delete(b.id, i1.id), false, "B cannot delete A's identity");
        assert.equal((await s.remoteIdentities.listFolders(a.id, i1.id)).length, 1);
        assert.equal(await s.remoteIdentities.delete(a.id, i1.id), true);
        assert.equal(await s.remoteIdentities.delete(a.id, i1.id), false, 'deleting twice is a no-op');
        assert.equal(await s.remoteIdentities.get(a.id, i1.id), null);
        assert.deepEqual(await s.remoteIdentities.listFolders(a.id, i1.id), []);
        assert.equal(
          await s.remoteIdentities.updateSync(
            a.id,
            i1.id,
            { ...IDLE_SYNC, state: 'running' },
            at('2026-01-04T00:00:00.000Z'),
          ),
          false,
        );
        assert.equal(
          await s.remoteIdentities.get(a.id, i1.id),
          null,
          'a progress write after the delete does not resurrect it',
        );
        await s.remoteIdentities.putFolder({
          accountId: a.id,
          identityId: i1.id,
          path: 'INBOX',
          uidValidity: '1',
          lastUid: 1,
          updatedAt: at('2026-01-04T00:00:00.000Z'),
        });
        assert.deepEqual(
          await s.remoteIdentities.listFolders(a.id, i1.id),
          [],
          'no folder state for a deleted identity',
        );
      });

      test('a new password and name replace the old ones and leave the progress and folder positions', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const i = aRemoteIdentity(a.id);
        await s.remoteIdentities.create(i);
        const sync = { ...IDLE_SYNC, state: 'failed' as const, lastError: { code: 'imap_auth_failed', message: 'no' } };
        await s.remoteIdentities.updateSync(a.id, i.id, sync, at('2026-01-06T10:00:00.000Z'));
        await s.remoteIdentities.putFolder({
          accountId: a.id,
          identityId: i.id,
          path: 'INBOX',
          uidValidity: '3',
          lastUid: 42,
          updatedAt: at('2026-01-06T10:00:00.000Z'),
        });
        const change = { credentialSealed: 'sealed-new-password', label: 'Old mailbox, renamed' };
        assert.equal(
          await s.remoteIdentities.updateCredential(a.id, i.id, change, at('2026-01-06T11:00:00.000Z')),
          true,
        );
        const got = await s.remoteIdentities.get(a.id, i.id);
        assert.equal(got?.credentialSealed, 'sealed-new-password');
        assert.equal(got?.label, 'Old mailbox, renamed');
        assert.equal(got?.updatedAt.toISOString(), '2026-01-06T11:00:00.000Z');
        assert.deepEqual(got?.sync, sync, 'the progress is left alone');
        assert.deepEqual(
          [got?.host, got?.port, got?.tls, got?.username, got?.createdAt.toISOString()],
          [i.host, i.port, i.tls, i.username, i.createdAt.toISOString()],
        );
        assert.deepEqual(
          (await s.remoteIdentities.listFolders(a.id, i.id)).map((f) => [f.path, f.lastUid]),
          [['INBOX', 42]],
          'the folder positions too: the next sync takes only what is new',
        );
        assert.equal(
          await s.remoteIdentities.updateCredential(a.id, randomUUID(), change, at('2026-01-06T11:00:00.000Z')),
          false,
        );
        const other = anAccount();
        await s.accounts.create(other);
        assert.equal(
          await s.remoteIdentities.updateCredential(other.id, i.id, change, at('2026-01-06T11:00:00.000Z')),
          false,
          'another account cannot change it',
        );
        assert.equal(await s.remoteIdentities.get(other.id, i.id), null, 'nor create a row by trying');
      });

      test('sync status round-trips; folder positions never go back under one UIDVALIDITY', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const i = aRemoteIdentity(a.id);
        await s.remoteIdentities.create(i);
        const sync = {
          importId: randomUUID(),
          state: 'running' as const,
          trigger: 'manual' as const,
          queuedAt: at('2026-01-05T10:00:00.000Z'),
          startedAt: at('2026-01-05T10:00:01.000Z'),
          finishedAt: null,
          heartbeatAt: at('2026-01-05T10:00:02.000Z'),
          lastError: { code: 'imap_unreachable', message: 'connection refused' },
          folders: [
            { path: 'INBOX', total: 300, done: 120, imported: 100, skipped: 1 },
            { path: 'Archives/2025 ünïcode', total: null, done: 0, imported: 0, skipped: 0 },
          ],
          lastSuccessAt: null,
        };
        assert.equal(await s.remoteIdentities.updateSync(a.id, i.id, sync, at('2026-01-05T10:00:02.000Z')), true);
        const got = await s.remoteIdentities.get(a.id, i.id);
        assert.deepEqual(got?.sync, sync);
        assert.equal(got?.updatedAt.toISOString(), '2026-01-05T10:00:02.000Z');
        assert.equal(got?.credentialSealed, i.credentialSealed, 'a progress write leaves the credential alone');

        const folder = (path: string, uidValidity: string, lastUid: number) => ({
          accountId: a.id,
          identityId: i.id,
          path,
          uidValidity,
          lastUid,
          updatedAt: at('2026-01-05T11:00:00.000Z'),
        });
        await s.remoteIdentities.putFolder(folder('INBOX', '7', 50));
        await s.remoteIdentities.putFolder(folder('Sent', '9', 3));
        await s.remoteIdentities.putFolder(folder('INBOX', '7', 40));
        assert.deepEqual(
          (await s.remoteIdentities.listFolders(a.id, i.id)).map((f) => [f.path, f.uidValidity, f.lastUid]),
          [
            ['INBOX', '7', 50],
            ['Sent', '9', 3],
          ],
        );
        await s.remoteIdentities.putFolder(folder('INBOX', '8', 5));
        assert.deepEqual(
          (await s.remoteIdentities.listFolders(a.id, i.id)).map((f) => [f.path, f.uidValidity, f.lastUid]),
          [
            ['INBOX', '8', 5],
            ['Sent', '9', 3],
          ],
          'a new UIDVALIDITY starts the folder over',
        );
        await s.remoteIdentities.putFolder(folder('INBOX', '8', 4_294_967_295));
        assert.equal(
          (await s.remoteIdentities.listFolders(a.id, i.id))[0]?.lastUid,
          4_294_967_295,
          'UIDs are 32-bit unsigned',
        );
      });
    });

    describe('correspondent keys', () => {
      test('put and get round-trip every field, bytes included; reads are scoped to the account', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const plain = aCorrespondentKey(a.id);
        const full = aCorrespondentKey(a.id, {
          address: plain.address,
          fingerprint: 'f'.repeat(64),
          version: 6,
          publicKey: Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff),
          source: 'dnssec',
          status: 'conflict',
          keyExpiresAt: at('2027-01-01T00:00:00.000Z'),
          verifiedAt: at('2026-01-02T00:00:00.000Z'),
          firstSeenAt: at('2026-01-03T00:00:00.000Z'),
          lastSeenAt: at('2026-01-04T00:00:00.000Z'),
        });
        await s.keys.put(plain);
        await s.keys.put(full);
        assert.deepEqual(await s.keys.get(a.id, plain.address, plain.fingerprint), plain);
        assert.deepEqual(await s.keys.get(a.id, full.address, full.fingerprint), full);
        assert.equal(await s.keys.get(b.id, plain.address, plain.fingerprint), null, "B cannot read A's key");
        assert.equal(
          await s.keys.get(a.id, 'other@x.example', plain.fingerprint),
          null,
          'the address is part of the key',
        );
        assert.deepEqual(await s.keys.listByAddress(b.id, plain.address), []);
      });

      test('put replaces the same (account, address, fingerprint); the same key may serve two addresses and two accounts', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const k = aCorrespondentKey(a.id);
        await s.keys.put(k);
        const seenAgain = {
          ...k,
          source: 'wkd' as const,
          lastSeenAt: at('2026-02-01T00:00:00.000Z'),
          publicKey: Uint8Array.from([1, 2, 3]),
        };
        await s.keys.put(seenAgain);
        assert.deepEqual(await s.keys.listByAddress(a.id, k.address), [seenAgain]);
        await s.keys.put({ ...k, address: 'second@x.example' });
        await s.keys.put({ ...k, accountId: b.id });
        assert.equal((await s.keys.listByAddress(a.id, k.address)).length, 1);
        assert.equal((await s.keys.listByAddress(a.id, 'second@x.example')).length, 1);
        assert.equal((await s.keys.listByAddress(b.id, k.address)).length, 1);
      });

      test('lists are newest first (first seen, then fingerprint), over one address or several', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const one = 'one@keys.example';
        const two = 'two@keys.example';
        const k1 = aCorrespondentKey(a.id, {
          address: one,
          fingerprint: 'a'.repeat(40),
          firstSeenAt: at('2026-01-01T00:00:00.000Z'),
        });
        const k2 = aCorrespondentKey(a.id, {
          address: one,
          fingerprint: 'b'.repeat(40),
          firstSeenAt: at('2026-03-01T00:00:00.000Z'),
        });
        const k3 = aCorrespondentKey(a.id, {
          address: one,
          fingerprint: 'c'.repeat(40),
          firstSeenAt: at('2026-03-01T00:00:00.000Z'),
        });
        const k4 = aCorrespondentKey(a.id, {
          address: two,
          fingerprint: 'd'.repeat(40),
          firstSeenAt: at('2026-02-01T00:00:00.000Z'),
        });
        const elsewhere = aCorrespondentKey(a.id, {
          address: 'three@keys.example',
          firstSeenAt: at('2026-05-01T00:00:00.000Z'),
        });
        for (const k of [k1, k2, k3, k4, elsewhere]) await s.keys.put(k);
        assert.deepEqual(
          (await s.keys.listByAddress(a.id, one)).map((k) => k.fingerprint),
          [k3, k2, k1].map((k) => k.fingerprint),
        );
        assert.deepEqual(
          (await s.keys.listByAddresses(a.id, [two, one, two])).map((k) => k.fingerprint),
          [k3, k2, k4, k1].map((k) => k.fingerprint),
        );
        assert.deepEqual(await s.keys.listByAddresses(a.id, []), []);
        assert.deepEqual(await s.keys.listByAddresses(a.id, ['nobody@keys.example']), []);
      });

      test('setStatus (with or without verifiedAt) and delete are scoped to the account', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const k = aCorrespondentKey(a.id, { status: 'conflict' });
        await s.keys.put(k);
        const verifiedAt = at('2026-04-01T00:00:00.000Z');
        assert.equal(
          await s.keys.setStatus(b.id, k.address, k.fingerprint, 'rejected'),
          false,
          "B cannot change A's key",
        );
        assert.equal(await s.keys.setStatus(a.id, k.address, k.fingerprint, 'active', verifiedAt), true);
        assert.deepEqual(await s.keys.get(a.id, k.address, k.fingerprint), { ...k, status: 'active', verifiedAt });
        assert.equal(await s.keys.setStatus(a.id, k.address, k.fingerprint, 'superseded'), true);
        assert.deepEqual(
          await s.keys.get(a.id, k.address, k.fingerprint),
          { ...k, status: 'superseded', verifiedAt },
          'verifiedAt unchanged when not given',
        );
        assert.equal(await s.keys.setStatus(a.id, k.address, k.fingerprint, 'rejected', null), true);
        assert.deepEqual(await s.keys.get(a.id, k.address, k.fingerprint), {
          ...k,
          status: 'rejected',
          verifiedAt: null,
        });
        assert.equal(await s.keys.setStatus(a.id, k.address, 'e'.repeat(40), 'active'), false, 'unknown key');
        assert.equal(
          await s.keys.get(a.id, k.address, 'e'.repeat(40)),
          null,
          'a status write on an unknown key creates nothing',
        );
        assert.equal(await s.keys.delete(b.id, k.address, k.fingerprint), false);
        assert.equal(await s.keys.delete(a.id, k.address, k.fingerprint), true);
        assert.equal(await s.keys.delete(a.id, k.address, k.fingerprint), false, 'deleting twice is a no-op');
        assert.deepEqual(await s.keys.listByAddress(a.id, k.address), []);
      });

      test('listConflicts: the account’s keys in conflict only, newest first (first seen, address, fingerprint), paged; follows every write', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const fp = (c: string) => c.repeat(40);
        const one = 'one@alerts.example';
        const two = 'two@alerts.example';
        const t1 = at('2026-01-01T00:00:00.000Z');
        const t2 = at('2026-02-01T00:00:00.000Z');
        const pinned = aCorrespondentKey(a.id, { address: one, fingerprint: fp('1'), firstSeenAt: t1 });
        const c1 = aCorrespondentKey(a.id, { address: one, fingerprint: fp('a'), status: 'conflict', firstSeenAt: t2 });
        const c2 = aCorrespondentKey(a.id, { address: one, fingerprint: fp('b'), status: 'conflict', firstSeenAt: t2 });
        const c3 = aCorrespondentKey(a.id, { address: two, fingerprint: fp('c'), status: 'conflict', firstSeenAt: t2 });
        const c4 = aCorrespondentKey(a.id, { address: two, fingerprint: fp('d'), status: 'conflict', firstSeenAt: t1 });
        const rejected = aCorrespondentKey(a.id, {
          address: two,
          fingerprint: fp('e'),
          status: 'rejected',
          firstSeenAt: at('2026-03-01T00:00:00.000Z'),
        });
        const ofB = aCorrespondentKey(b.id, {
          address: one,
          fingerprint: fp('f'),
          status: 'conflict',
          firstSeenAt: at('2026-04-01T00:00:00.000Z'),
        });
        for (const k of [pinned, c1, c2, c3, c4, rejected, ofB]) await s.keys.put(k);
        const fps = (ks: CorrespondentKey[]) => ks.map((k) => k.fingerprint);
        const order = [c3, c2, c1, c4];
        assert.deepEqual(
          fps(await s.keys.listConflicts(a.id, { limit: 10 })),
          fps(order),
          'newest first, then address and fingerprint descending',
        );
        assert.deepEqual(await s.keys.listConflicts(a.id, { limit: 10 }), order, 'whole keys, bytes included');
        assert.deepEqual(fps(await s.keys.listConflicts(b.id, { limit: 10 })), [ofB.fingerprint], "B's alerts are B's");
        // Paging: strictly after the last key of the previous page.
        const first = await s.keys.listConflicts(a.id, { limit: 2 });
        assert.deepEqual(fps(first), fps([c3, c2]));
        const last = first.at(-1)!;
        const second = await s.keys.listConflicts(a.id, {
          limit: 2,
          after: { firstSeenAt: last.firstSeenAt, address: last.address, fingerprint: last.fingerprint },
        });
        assert.deepEqual(fps(second), fps([c1, c4]));
        assert.deepEqual(
          await s.keys.listConflicts(a.id, {
            limit: 2,
            after: { firstSeenAt: c4.firstSeenAt, address: c4.address, fingerprint: c4.fingerprint },
          }),
          [],
        );
        // Every write keeps the listing right: status changes both ways, a put that resolves or moves, a delete.
        assert.equal(await s.keys.setStatus(a.id, one, c1.fingerprint, 'active', at('2026-05-01T00:00:00.000Z')), true);
        assert.equal(await s.keys.setStatus(a.id, one, pinned.fingerprint, 'conflict'), true);
        await s.keys.put({ ...c3, status: 'rejected' });
        await s.keys.put({
          ...c4,
          firstSeenAt: at('2026-06-01T00:00:00.000Z'),
          lastSeenAt: at('2026-06-01T00:00:00.000Z'),
        });
        assert.equal(await s.keys.delete(a.id, one, c2.fingerprint), true);
        assert.deepEqual(fps(await s.keys.listConflicts(a.id, { limit: 10 })), [c4.fingerprint, pinned.fingerprint]);
        assert.equal((await s.keys.listConflicts(a.id, { limit: 10 }))[1]?.status, 'conflict');
        assert.equal(
          await s.keys.setStatus(b.id, two, c4.fingerprint, 'rejected'),
          false,
          "B cannot resolve A's alert",
        );
        assert.equal((await s.keys.listConflicts(a.id, { limit: 10 })).length, 2);
      });

      test('a key known only by its fingerprint (source signature, no material) is stored, listed as a conflict, and gets its material later', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const keyless = aCorrespondentKey(a.id, {
          fingerprint: 'a'.repeat(40),
          algorithm: 'unknown',
          publicKey: new Uint8Array(0),
          source: 'signature',
          status: 'conflict',
        });
        await s.keys.put(keyless);
        assert.deepEqual(await s.keys.get(a.id, keyless.address, keyless.fingerprint), keyless);
        assert.deepEqual(await s.keys.listConflicts(a.id, { limit: 10 }), [keyless]);
        const material = { ...keyless, publicKey: Uint8Array.from([1, 2, 3]), source: 'autocrypt' as const };
        await s.keys.put(material);
        assert.deepEqual(await s.keys.listByAddress(a.id, keyless.address), [material]);
      });
    });

    describe("the account's own keys", () => {
      test('put and get round-trip every field (bytes, revocation, wrapped private key); reads are scoped to the account', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const publicOnly = anAccountKey(a.id);
        const full = anAccountKey(a.id, {
          fingerprint: 'f'.repeat(64),
          version: 6,
          publicKey: Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff),
          status: 'retired',
          keyExpiresAt: at('2028-01-01T00:00:00.000Z'),
          revocationCertificate:
            '-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: This is a revocation certificate\n\nwnUEIBYKAB0WIQQ=\n-----END PGP PUBLIC KEY BLOCK-----\n',
          privateKey: {
            sealed: 'v1.aXY.c2VhbGVk',
            kek: {
              algorithm: 'argon2id',
              memoryCost: 19456,
              timeCost: 2,
              parallelism: 1,
              salt: Uint8Array.from([0, 255, 1, 128, 2, 127, 3, 10, 13, 0, 0, 9, 8, 7, 6, 5]),
            },
          },
          addedAt: at('2026-01-02T00:00:00.000Z'),
          updatedAt: at('2026-01-03T00:00:00.000Z'),
        });
        await s.accountKeys.put(publicOnly);
        await s.accountKeys.put(full);
        assert.deepEqual(await s.accountKeys.get(a.id, publicOnly.fingerprint), publicOnly);
        assert.deepEqual(await s.accountKeys.get(a.id, full.fingerprint), full);
        assert.equal(await s.accountKeys.get(b.id, full.fingerprint), null, "B cannot read A's key");
        assert.deepEqual(await s.accountKeys.listByAccount(b.id), []);
      });

      test('put replaces every field (a null private key erases the stored one); lists are newest first', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const wrapped = {
          sealed: 'v1.aXY.d3JhcHBlZA',
          kek: {
            algorithm: 'argon2id' as const,
            memoryCost: 1024,
            timeCost: 1,
            parallelism: 1,
            salt: new Uint8Array(16).fill(7),
          },
        };
        const k1 = anAccountKey(a.id, {
          fingerprint: 'a'.repeat(40),
          addedAt: at('2026-01-01T00:00:00.000Z'),
          privateKey: wrapped,
        });
        const k2 = anAccountKey(a.id, { fingerprint: 'b'.repeat(40), addedAt: at('2026-03-01T00:00:00.000Z') });
        const k3 = anAccountKey(a.id, { fingerprint: 'c'.repeat(40), addedAt: at('2026-03-01T00:00:00.000Z') });
        for (const k of [k1, k2, k3]) await s.accountKeys.put(k);
        assert.deepEqual(
          (await s.accountKeys.listByAccount(a.id)).map((k) => k.fingerprint),
          [k3, k2, k1].map((k) => k.fingerprint),
        );
        const moved = {
          ...k1,
          status: 'revoked' as const,
          privateKey: null,
          publicKey: Uint8Array.from([9, 9, 9]),
          updatedAt: at('2026-04-01T00:00:00.000Z'),
        };
        await s.accountKeys.put(moved);
        assert.deepEqual(await s.accountKeys.get(a.id, k1.fingerprint), moved);
        assert.equal((await s.accountKeys.listByAccount(a.id)).length, 3);
      });

      test('delete is scoped to the account', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const k = anAccountKey(a.id);
        await s.accountKeys.put(k);
        assert.equal(await s.accountKeys.delete(b.id, k.fingerprint), false, "B cannot delete A's key");
        assert.equal(await s.accountKeys.delete(a.id, k.fingerprint), true);
        assert.equal(await s.accountKeys.delete(a.id, k.fingerprint), false, 'deleting twice is a no-op');
        assert.deepEqual(await s.accountKeys.listByAccount(a.id), []);
      });
    });

    describe('unit of work (batched writes)', () => {
      test('a unit files several items together; a failed item leaves the others, and nothing of its own when atomic', async () => {
        const a = anAccount({ quotaBytes: 10_000 });
        await s.accounts.create(a);
        const conv = await s.conversations.getOrCreate(aConversation(a.id));
        const good = [aMessage(a.id, conv.id), aMessage(a.id, conv.id), aMessage(a.id, conv.id)];
        const bad = aMessage(a.id, conv.id);
        const outcomes = await s.unitOfWork(async (unit) => {
          const settled: string[] = [];
          for (const m of [good[0]!, bad, good[1]!, good[2]!]) {
            try {
              await unit.item(async () => {
                await s.accounts.addUsage(a.id, 100);
                await s.messages.put(m);
                // Within the unit, an item sees what the items before it wrote (dedupe within a batch relies on it).
                assert.deepEqual(await s.messages.get(a.id, m.id), m);
                if (m === bad) throw new Error('this item fails');
              });
              settled.push('ok');
            } catch (e) {
              settled.push((e as Error).message);
              if (!unit.atomic) {
                await s.accounts.addUsage(a.id, -100);
                await s.messages.purge(a.id, m.id);
              }
            }
          }
          return settled;
        });
        assert.deepEqual(outcomes, ['ok', 'this item fails', 'ok', 'ok']);
        for (const m of good) assert.deepEqual(await s.messages.get(a.id, m.id), m);
        assert.equal(await s.messages.get(a.id, bad.id), null);
        assert.equal((await s.accounts.get(a.id))?.usedBytes, 300);
      });

      test('units run one at a time, and a unit that throws rethrows (writing nothing when atomic)', async () => {
        const a = anAccount({ quotaBytes: 10_000 });
        await s.accounts.create(a);
        const conv = await s.conversations.getOrCreate(aConversation(a.id));
        const order: string[] = [];
        const m1 = aMessage(a.id, conv.id);
        const m2 = aMessage(a.id, conv.id);
        let atomic = true;
        const failing = s.unitOfWork(async (unit) => {
          atomic = unit.atomic;
          order.push('first:start');
          await unit.item(() => s.messages.put(m1));
          await new Promise((resolve) => setImmediate(resolve));
          order.push('first:end');
          throw new Error('the whole unit fails');
        });
        const second = s.unitOfWork(async (unit) => {
          order.push('second:start');
          await unit.item(() => s.messages.put(m2));
          return 'second done';
        });
        await assert.rejects(failing, /the whole unit fails/);
        assert.equal(await second, 'second done');
        assert.deepEqual(order, ['first:start', 'first:end', 'second:start']);
        if (atomic) assert.equal(await s.messages.get(a.id, m1.id), null);
        assert.deepEqual(await s.messages.get(a.id, m2.id), m2);
      });

      test("a unit's writes are durable once it resolves", async () => {
        const a = anAccount({ quotaBytes: 10_000 });
        await s.accounts.create(a);
        const conv = await s.conversations.getOrCreate(aConversation(a.id));
        const ms = Array.from({ length: 10 }, () => aMessage(a.id, conv.id));
        await s.unitOfWork(async (unit) => {
          for (const m of ms) await unit.item(() => s.messages.put(m));
        });
        s = await sut.reopen();
        for (const m of ms) assert.deepEqual(await s.messages.get(a.id, m.id), m);
      });
    });

    describe('federation replay record (shared by every process)', () => {
      const uniqueKey = () => `alpha.test ${randomUUID().replaceAll('-', '').slice(0, 22)}`;

      test('a key is claimed once; its receipt is kept, survives a reopen, and is forgotten on request', async () => {
        const key = uniqueKey();
        assert.equal(await s.replay.rememberOnce(key, 1060, 900), 'fresh');
        assert.equal(await s.replay.rememberOnce(key, 1060, 901), 'seen');
        assert.equal(await s.replay.receiptOf(key), null, 'no receipt before one is issued');
        await s.replay.setReceipt(key, 'receipt-jws');
        s = await sut.reopen();
        assert.equal(await s.replay.rememberOnce(key, 1060, 950), 'seen');
        assert.equal(await s.replay.receiptOf(key), 'receipt-jws');
        await s.replay.forget(key);
        assert.equal(await s.replay.receiptOf(key), null);
        assert.equal(await s.replay.rememberOnce(key, 1060, 950), 'fresh', 'forgotten: claimable again');
        assert.equal(await s.replay.receiptOf(key), null, 'a new claim starts without the old receipt');
        assert.equal(await s.replay.receiptOf(uniqueKey()), null);
        await s.replay.forget(uniqueKey()); // forgetting an unknown key is harmless
        await s.replay.setReceipt(uniqueKey(), 'nobody'); // and so is a receipt for one
      });

      test('past its expiry a key may be claimed again', async () => {
        const key = uniqueKey();
        assert.equal(await s.replay.rememberOnce(key, 1060, 900), 'fresh');
        await s.replay.setReceipt(key, 'old');
        assert.equal(await s.replay.rememberOnce(key, 1060, 1059), 'seen');
        assert.equal(await s.replay.rememberOnce(key, 2000, 1060), 'fresh');
        assert.equal(await s.replay.receiptOf(key), null);
        assert.equal(await s.replay.rememberOnce(key, 2000, 1061), 'seen');
      });

      test('concurrent claims of one key, from two connections: exactly one wins', async () => {
        const other = sut.another ? await sut.another() : s;
        try {
          for (let round = 0; round < 3; round++) {
            const key = uniqueKey();
            const verdicts = await Promise.all(
              Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? s : other).replay.rememberOnce(key, 5000, 1000)),
            );
            assert.equal(verdicts.filter((v) => v === 'fresh').length, 1, verdicts.join(' '));
            assert.equal(verdicts.filter((v) => v === 'seen').length, 7);
            await s.replay.setReceipt(key, `receipt-${round}`);
            assert.equal(await other.replay.receiptOf(key), `receipt-${round}`, 'the other connection sees it');
          }
        } finally {
          if (other !== s) await other.close();
        }
      });
    });

    describe('trust sharing preferences', () => {
      test('default off; set, change and read back, from another connection and after a reopen', async () => {
        const a = anAccount();
        const b = anAccount();
        assert.equal(await s.trustSharing.sharesTrust(a.id), false);
        await s.trustSharing.setSharesTrust(a.id, true, at('2026-01-02T10:00:00.000Z'));
        assert.equal(await s.trustSharing.sharesTrust(a.id), true);
        assert.equal(await s.trustSharing.sharesTrust(b.id), false, 'one account only');
        if (sut.another) {
          const other = await sut.another();
          try {
            assert.equal(await other.trustSharing.sharesTrust(a.id), true);
            await other.trustSharing.setSharesTrust(a.id, false, at('2026-01-03T10:00:00.000Z'));
          } finally {
            await other.close();
          }
          assert.equal(await s.trustSharing.sharesTrust(a.id), false);
          await s.trustSharing.setSharesTrust(a.id, true, at('2026-01-04T10:00:00.000Z'));
        }
        s = await sut.reopen();
        assert.equal(await s.trustSharing.sharesTrust(a.id), true);
        await s.trustSharing.setSharesTrust(a.id, false, at('2026-01-05T10:00:00.000Z'));
        assert.equal(await s.trustSharing.sharesTrust(a.id), false);
      });
    });

    describe('federation prekeys (shared by every process)', () => {
      // The table holds one instance's prekeys: each test uses its own slots, far from the others'.
      const slot = () => 2_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
      const aPrekey = (notBefore: number, privateSealed: string | null = `sealed-${randomUUID()}`) => {
        const kid = randomUUID();
        return {
          prekey: {
            kid,
            domain: 'beta.test',
            publicJwk: { kty: 'OKP' as const, crv: 'X25519' as const, x: kid },
            notBefore,
            notAfter: notBefore + 86_400,
          },
          jws: `jws-${kid}`,
          privateSealed,
        };
      };
      const find = async (st: Storage, kid: string) => (await st.prekeys.list()).find((p) => p.prekey.kid === kid);

      test('a slot is claimed once; entries are listed by window, lose their private half, then go', async () => {
        const base = slot();
        const first = aPrekey(base);
        const second = aPrekey(base + 86_400 - 6 * 3600);
        assert.equal(await s.prekeys.claimSlot(first), true);
        assert.equal(await s.prekeys.claimSlot(second), true);
        assert.equal(await s.prekeys.claimSlot(aPrekey(base)), false, 'the slot is taken');
        assert.equal(await s.prekeys.claimSlot(first), false, 'a retry of the same entry too');
        const listed = (await s.prekeys.list()).filter(
          (p) => p.prekey.notBefore >= base && p.prekey.notBefore < base + 86_400,
        );
        assert.deepEqual(listed, [first, second], 'oldest window first, as stored');
        await s.prekeys.deletePrivate(first.prekey);
        assert.deepEqual(await find(s, first.prekey.kid), { ...first, privateSealed: null });
        assert.equal(
          (await find(s, second.prekey.kid))?.privateSealed,
          second.privateSealed,
          'the other one untouched',
        );
        s = await sut.reopen();
        assert.deepEqual(await find(s, first.prekey.kid), { ...first, privateSealed: null }, 'durable');
        await s.prekeys.remove(first.prekey);
        assert.equal(await find(s, first.prekey.kid), undefined);
        await s.prekeys.remove(first.prekey); // removing what is gone is harmless
        await s.prekeys.deletePrivate(aPrekey(slot()).prekey); // and so is deleting an unknown one's private half
      });

      test('two connections generating the same window at once: exactly one stores it, both read it', async () => {
        const other = sut.another ? await sut.another() : s;
        try {
          for (let round = 0; round < 3; round++) {
            const notBefore = slot();
            const candidates = Array.from({ length: 6 }, () => aPrekey(notBefore));
            const won = await Promise.all(candidates.map((c, i) => (i % 2 === 0 ? s : other).prekeys.claimSlot(c)));
            assert.equal(won.filter(Boolean).length, 1, won.join(' '));
            const winner = candidates[won.indexOf(true)]!;
            assert.deepEqual(await find(other, winner.prekey.kid), winner);
            assert.deepEqual(await find(s, winner.prekey.kid), winner);
          }
        } finally {
          if (other !== s) await other.close();
        }
      });
    });

    describe('notices', () => {
      const failure = (accountId: string, messageId: string, atMs: number) => ({
        accountId,
        messageId,
        at: new Date(atMs),
        recipients: [
          {
            address: 'x@remote.test',
            status: '5.1.1',
            diagnostic: '550 5.1.1 No such user',
            remoteMta: 'mx.remote.test',
          },
        ],
      });

      test("delivery failures are the account's own, newest first, the oldest beyond the cap forgotten", async () => {
        const a = anAccount();
        const b = anAccount();
        const t0 = at('2026-03-01T10:00:00.000Z').getTime();
        const older = await s.notices.addDeliveryFailure(failure(a.id, 'm-1', t0));
        const newer = await s.notices.addDeliveryFailure(failure(a.id, 'm-2', t0 + 1000));
        await s.notices.addDeliveryFailure(failure(b.id, 'm-3', t0));
        assert.notEqual(older.id, newer.id);
        assert.deepEqual(await s.notices.deliveryFailures(a.id), [newer, older]);
        assert.deepEqual(
          (await s.notices.deliveryFailures(b.id)).map((f) => f.messageId),
          ['m-3'],
        );
        assert.deepEqual(await s.notices.deliveryFailures(anAccount().id), []);
        for (let i = 0; i < MAX_DELIVERY_FAILURES_PER_ACCOUNT; i++)
          await s.notices.addDeliveryFailure(failure(a.id, `n-${i}`, t0 + 10_000 + i));
        const kept = await s.notices.deliveryFailures(a.id);
        assert.equal(kept.length, MAX_DELIVERY_FAILURES_PER_ACCOUNT);
        assert.equal(kept[0]?.messageId, `n-${MAX_DELIVERY_FAILURES_PER_ACCOUNT - 1}`);
        assert.ok(!kept.some((f) => f.messageId === 'm-1' || f.messageId === 'm-2'), 'the oldest are forgotten');
        s = await sut.reopen();
        assert.equal((await s.notices.deliveryFailures(a.id)).length, MAX_DELIVERY_FAILURES_PER_ACCOUNT, 'durable');
      });

      test('the last change of standing wins; dismissals are per account, idempotent, seen by another connection', async () => {
        const before = await s.notices.lastStandingChange();
        const stopped = await s.notices.addStandingChange({
          at: at('2099-01-01T10:00:00.000Z'),
          change: 'stopped',
          status: 'revoked',
          reason: 'Audit failed twice.',
        });
        assert.deepEqual(await s.notices.lastStandingChange(), stopped);
        const resumed = await s.notices.addStandingChange({
          at: at('2099-01-02T10:00:00.000Z'),
          change: 'resumed',
          status: 'labelled',
          reason: null,
        });
        assert.deepEqual(await s.notices.lastStandingChange(), resumed);
        assert.notDeepEqual(before, resumed);
        const a = anAccount();
        const b = anAccount();
        await s.notices.dismiss(a.id, resumed.id, at('2099-01-03T10:00:00.000Z'));
        await s.notices.dismiss(a.id, resumed.id, at('2099-01-04T10:00:00.000Z'));
        await s.notices.dismiss(a.id, 'standing-suspended', at('2099-01-04T10:00:00.000Z'));
        assert.deepEqual([...(await s.notices.dismissed(a.id))].sort(), [resumed.id, 'standing-suspended'].sort());
        assert.deepEqual([...(await s.notices.dismissed(b.id))], []);
        const other = sut.another ? await sut.another() : s;
        try {
          assert.deepEqual(await other.notices.lastStandingChange(), resumed);
          assert.equal((await other.notices.dismissed(a.id)).has(resumed.id), true);
        } finally {
          if (other !== s) await other.close();
        }
      });
    });

    describe('linked XMPP accounts', () => {
      test('create once per JID, get, list oldest first, scoped to the account; cursor; delete', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        const l1 = anXmppAccount(a.id, {
          createdAt: at('2026-01-02T10:00:00.000Z'),
          updatedAt: at('2026-01-02T10:00:00.000Z'),
        });
        const l2 = anXmppAccount(a.id, {
          host: 'xmpp.example.net',
          port: 5223,
          label: 'Ünïcode',
          jid: 'üser@chat.example',
        });
        assert.equal(await s.xmppAccounts.create(l1), true);
        assert.equal(await s.xmppAccounts.create(l2), true);
        assert.equal(await s.xmppAccounts.create({ ...l1, id: randomUUID() }), false, 'the same JID twice is refused');
        const l3 = anXmppAccount(b.id, { jid: l1.jid });
        assert.equal(await s.xmppAccounts.create(l3), true, 'another account may link the same JID');
        assert.deepEqual(await s.xmppAccounts.get(a.id, l1.id), l1);
        assert.deepEqual(await s.xmppAccounts.get(a.id, l2.id), l2);
        assert.equal(await s.xmppAccounts.get(b.id, l1.id), null, "B cannot read A's link");
        assert.deepEqual(
          (await s.xmppAccounts.listByAccount(a.id)).map((l) => l.id),
          [l2.id, l1.id],
        );
        const all = (await s.xmppAccounts.listAll()).map((l) => l.id);
        for (const id of [l1.id, l2.id, l3.id]) assert.ok(all.includes(id));

        assert.equal(
          await s.xmppAccounts.setArchiveCursor(a.id, l1.id, 'mam-42', at('2026-01-03T10:00:00.000Z')),
          true,
        );
        assert.equal(
          await s.xmppAccounts.setArchiveCursor(b.id, l1.id, 'mam-43', at('2026-01-03T10:00:00.000Z')),
          false,
        );
        s = await sut.reopen();
        const back = await s.xmppAccounts.get(a.id, l1.id);
        assert.equal(back?.archiveCursor, 'mam-42');
        assert.deepEqual(back?.updatedAt, at('2026-01-03T10:00:00.000Z'));

        assert.equal(await s.xmppAccounts.delete(b.id, l1.id), false, "B cannot delete A's link");
        assert.equal(await s.xmppAccounts.delete(a.id, l1.id), true);
        assert.equal(await s.xmppAccounts.delete(a.id, l1.id), false, 'deleting twice is a no-op');
        assert.equal(await s.xmppAccounts.get(a.id, l1.id), null);
        assert.equal(
          await s.xmppAccounts.setArchiveCursor(a.id, l1.id, 'mam-44', at('2026-01-04T10:00:00.000Z')),
          false,
        );
        assert.deepEqual(
          (await s.xmppAccounts.listByAccount(a.id)).map((l) => l.id),
          [l2.id],
        );
      });
    });

    describe('app passwords', () => {
      test('create, list oldest first, touch, delete; per account; after a reopen', async () => {
        const a = anAccount();
        const b = anAccount();
        await s.accounts.create(a);
        await s.accounts.create(b);
        assert.deepEqual(await s.appPasswords.list(a.id), []);
        const first = {
          id: randomUUID(),
          accountId: a.id,
          label: 'Thunderbird',
          hash: '$argon2id$v=19$m=19456,t=2,p=1$first',
          createdAt: at('2026-01-02T10:00:00.000Z'),
          lastUsedAt: null,
        };
        const second = { ...first, id: randomUUID(), label: 'Phone', createdAt: at('2026-01-03T10:00:00.000Z') };
        await s.appPasswords.create(second);
        await s.appPasswords.create(first);
        await s.appPasswords.create({ ...first, id: randomUUID(), accountId: b.id });
        assert.deepEqual(await s.appPasswords.list(a.id), [first, second]);
        await s.appPasswords.touch(a.id, first.id, at('2026-01-04T10:00:00.000Z'));
        s = await sut.reopen();
        assert.deepEqual(await s.appPasswords.list(a.id), [
          { ...first, lastUsedAt: at('2026-01-04T10:00:00.000Z') },
          second,
        ]);
        assert.equal(await s.appPasswords.delete(a.id, first.id), true);
        assert.equal(await s.appPasswords.delete(a.id, first.id), false, 'already gone');
        assert.equal(await s.appPasswords.delete(b.id, second.id), false, "not b's");
        assert.deepEqual(await s.appPasswords.list(a.id), [second]);
        assert.equal((await s.appPasswords.list(b.id)).length, 1, 'the other account keeps its own');
      });
    });

    describe('send-as relays', () => {
      test('put (create, then replace), get, list, delete; per account; after a reopen', async () => {
        const a = anAccount();
        await s.accounts.create(a);
        const first = aRemoteIdentity(a.id);
        const second = aRemoteIdentity(a.id);
        await s.remoteIdentities.create(first);
        await s.remoteIdentities.create(second);
        const relay = {
          accountId: a.id,
          identityId: first.id,
          address: 'me@provider.example',
          host: 'smtp.provider.example',
          port: 465,
          tls: 'implicit' as const,
          username: 'me@provider.example',
          credentialSealed: 'sealed-1',
          createdAt: at('2026-01-02T10:00:00.000Z'),
          updatedAt: at('2026-01-02T10:00:00.000Z'),
        };
        assert.equal(await s.sendAs.get(a.id, first.id), null);
        await s.sendAs.put(relay);
        const other = {
          ...relay,
          identityId: second.id,
          address: 'other@provider.example',
          createdAt: at('2026-01-03T10:00:00.000Z'),
          updatedAt: at('2026-01-03T10:00:00.000Z'),
        };
        await s.sendAs.put(other);
        const replaced = {
          ...relay,
          port: 587,
          tls: 'starttls' as const,
          credentialSealed: 'sealed-2',
          updatedAt: at('2026-01-04T10:00:00.000Z'),
        };
        await s.sendAs.put(replaced);
        s = await sut.reopen();
        assert.deepEqual(await s.sendAs.get(a.id, first.id), replaced);
        assert.deepEqual(await s.sendAs.listByAccount(a.id), [replaced, other]);
        assert.equal(await s.sendAs.get(anAccount().id, first.id), null, "another account's key finds nothing");
        assert.equal(await s.sendAs.delete(a.id, first.id), true);
        assert.equal(await s.sendAs.delete(a.id, first.id), false);
        assert.deepEqual(await s.sendAs.listByAccount(a.id), [other]);
      });
    });

    describe('account deletions', () => {
      test('scheduled once per account, read back, listed soonest first, cancelled once', async () => {
        const [a, b] = [randomUUID(), randomUUID()];
        const da = { accountId: a, requestedAt: at('2099-03-01T10:00:00.000Z'), dueAt: at('2099-03-08T10:00:00.000Z') };
        const db = { accountId: b, requestedAt: at('2099-03-01T09:00:00.000Z'), dueAt: at('2099-03-02T09:00:00.000Z') };
        assert.equal(await s.accountDeletions.schedule(da), true);
        assert.equal(await s.accountDeletions.schedule({ ...da, dueAt: at('2099-04-01T00:00:00.000Z') }), false);
        assert.equal(await s.accountDeletions.schedule(db), true);
        assert.deepEqual(await s.accountDeletions.get(a), da);
        const mine = (await s.accountDeletions.list()).filter((d) => d.accountId === a || d.accountId === b);
        assert.deepEqual(mine, [db, da]);
        assert.equal(await s.accountDeletions.cancel(a), true);
        assert.equal(await s.accountDeletions.cancel(a), false);
        assert.equal(await s.accountDeletions.get(a), null);
        assert.deepEqual(await s.accountDeletions.get(b), db);
        await s.accountDeletions.cancel(b);
      });
    });

    describe('account purge', () => {
      /** An account with data in every repository, the way the application writes it. */
      async function populated() {
        const a = anAccount({ totpSecretSealed: 'sealed-seed' });
        assert.equal(await s.accounts.create(a), true);
        await s.accounts.setPi(a.id, { score: 40, level: 'medium', modelVersion: 'hub-pi/1' });
        await s.accounts.addUsage(a.id, 300);
        const device = aDevice(a.id);
        await s.devices.create(device);
        await s.devices.setPi(a.id, device.id, { score: 5, level: 'exposed', modelVersion: 'hub-pi/1' });
        const session: Session = {
          id: randomUUID(),
          accountId: a.id,
          deviceId: device.id,
          tokenHash: randomUUID().replaceAll('-', ''),
          createdAt: at('2026-01-01T10:00:00.000Z'),
          expiresAt: new Date(Date.now() + 86_400_000),
          revokedAt: null,
        };
        await s.sessions.create(session);
        const contact = aContact(a.id);
        assert.equal(await s.contacts.create(contact), true);
        const conv = await s.conversations.getOrCreate(aConversation(a.id, { importance: 2 }));
        const inbound = aMessage(a.id, conv.id, {
          facts: {
            transport: null,
            authentication: null,
            openpgp: { kind: 'pgp-mime-encrypted', encrypted: true, pendingDecryption: true },
          },
        });
        const outbound = aMessage(a.id, conv.id, {
          direction: 'outbound',
          from: { protocol: 'email', address: `${a.username}@alpha.test`, name: null, contactId: null },
          to: [{ protocol: 'email', address: 'carol@x.example', name: null, contactId: null }],
          receivedAt: at('2026-02-03T10:00:00.000Z'),
        });
        await s.messages.put(inbound);
        await s.messages.put(outbound);
        await s.correspondence.recordSent(a.id, {
          externalId: outbound.externalId,
          recipients: [{ protocol: 'email', address: 'carol@x.example' }],
        });
        const key = aCorrespondentKey(a.id, { address: 'alice@x.example' });
        const conflict = aCorrespondentKey(a.id, { address: 'carol@x.example', status: 'conflict' });
        await s.keys.put(key);
        await s.keys.put(conflict);
        const own = anAccountKey(a.id, { privateKey: null });
        await s.accountKeys.put(own);
        const identity = aRemoteIdentity(a.id);
        await s.remoteIdentities.create(identity);
        await s.remoteIdentities.putFolder({
          accountId: a.id,
          identityId: identity.id,
          path: 'INBOX',
          uidValidity: '7',
          lastUid: 12,
          updatedAt: at('2026-01-05T10:00:00.000Z'),
        });
        await s.trustSharing.setSharesTrust(a.id, true, at('2026-01-05T10:00:00.000Z'));
        await s.notices.addDeliveryFailure({
          accountId: a.id,
          messageId: outbound.id,
          at: at('2026-02-03T10:01:00.000Z'),
          recipients: [{ address: 'carol@x.example', status: '5.1.1', diagnostic: '550', remoteMta: 'mx.x.example' }],
        });
        await s.notices.dismiss(a.id, 'standing-suspended', at('2026-02-03T10:02:00.000Z'));
        await s.accountDeletions.schedule({
          accountId: a.id,
          requestedAt: at('2026-02-04T10:00:00.000Z'),
          dueAt: at('2026-02-11T10:00:00.000Z'),
        });
        // What mail apps and chat added: a linked XMPP account, an app password, a send-as relay.
        await s.xmppAccounts.create(anXmppAccount(a.id));
        await s.appPasswords.create({
          id: randomUUID(),
          accountId: a.id,
          label: 'Thunderbird',
          hash: '$argon2id$v=19$m=19456,t=2,p=1$purge',
          createdAt: at('2026-02-04T10:00:00.000Z'),
          lastUsedAt: null,
        });
        await s.sendAs.put({
          accountId: a.id,
          identityId: identity.id,
          address: 'me@provider.example',
          host: 'smtp.provider.example',
          port: 465,
          tls: 'implicit',
          username: 'me@provider.example',
          credentialSealed: 'sealed-relay',
          createdAt: at('2026-02-04T10:00:00.000Z'),
          updatedAt: at('2026-02-04T10:00:00.000Z'),
        });
        return { a, device, session, contact, conv, inbound, outbound, key, conflict, own, identity };
      }

      /** What the repositories return for the account, to compare before and after. */
      async function everything(x: Awaited<ReturnType<typeof populated>>) {
        const { a } = x;
        return {
          account: await s.accounts.get(a.id),
          byUsername: await s.accounts.getByUsername(a.username),
          pi: await s.accounts.getPi(a.id),
          devices: await s.devices.listByAccount(a.id),
          sessions: await s.sessions.listByAccount(a.id),
          byToken: await s.sessions.getByTokenHash(x.session.tokenHash),
          contacts: await s.contacts.list(a.id, { limit: 10 }),
          contactByIdentity: await s.contacts.findByIdentity(a.id, 'email', x.contact.identities[0]!.address),
          conversations: await s.conversations.list(a.id, { limit: 10 }),
          byImportance: await s.conversations.listByImportance(a.id, { limit: 10 }),
          conversation: await s.conversations.get(a.id, x.conv.id),
          conversationByKey: await s.conversations.getByKey(a.id, x.conv.key),
          messages: await s.messages.listByConversation(a.id, x.conv.id, { limit: 10 }),
          message: await s.messages.get(a.id, x.inbound.id),
          dedupe: await s.messages.findByDedupeKey(a.id, x.outbound.externalId, x.outbound.contentHash),
          count: await s.messages.countByAccount(a.id),
          pending: await s.messages.listPendingDecryption(a.id, 10),
          sent: [...(await s.correspondence.sentAmong(a.id, [x.outbound.externalId!]))],
          written: await s.correspondence.hasWrittenTo(a.id, 'email', 'carol@x.example'),
          keys: await s.keys.listByAddresses(a.id, ['alice@x.example', 'carol@x.example']),
          conflicts: await s.keys.listConflicts(a.id, { limit: 10 }),
          accountKeys: await s.accountKeys.listByAccount(a.id),
          identities: await s.remoteIdentities.listByAccount(a.id),
          folders: await s.remoteIdentities.listFolders(a.id, x.identity.id),
          trust: await s.trustSharing.sharesTrust(a.id),
          failures: await s.notices.deliveryFailures(a.id),
          dismissed: [...(await s.notices.dismissed(a.id))],
          deletion: await s.accountDeletions.get(a.id),
          xmpp: await s.xmppAccounts.listByAccount(a.id),
          appPasswords: await s.appPasswords.list(a.id),
          sendAs: await s.sendAs.listByAccount(a.id),
        };
      }

      test("purging an account leaves nothing of it in any repository, and another account's data as it was", async () => {
        const x = await populated();
        const other = await populated();
        const before = await everything(x);
        // The fixture really filled every repository (a purge of nothing would pass otherwise).
        for (const [name, value] of Object.entries(before)) {
          const empty =
            value === null || value === false || value === 0 || (Array.isArray(value) && value.length === 0);
          assert.equal(empty, false, `${name} was not filled by the fixture`);
        }
        const otherBefore = await everything(other);
        const accounts = await s.accounts.count();

        await s.purgeAccount(x.a.id);

        assert.deepEqual(await everything(x), {
          account: null,
          byUsername: null,
          pi: null,
          devices: [],
          sessions: [],
          byToken: null,
          contacts: [],
          contactByIdentity: null,
          conversations: [],
          byImportance: [],
          conversation: null,
          conversationByKey: null,
          messages: [],
          message: null,
          dedupe: null,
          count: 0,
          pending: [],
          sent: [],
          written: false,
          keys: [],
          conflicts: [],
          accountKeys: [],
          identities: [],
          folders: [],
          trust: false,
          failures: [],
          dismissed: [],
          deletion: null,
          xmpp: [],
          appPasswords: [],
          sendAs: [],
        });
        assert.deepEqual(await everything(other), otherBefore);
        assert.equal(await s.accounts.count(), accounts - 1);
        const page = await s.accounts.list({ limit: 1000 });
        assert.equal(
          page.some((p) => p.id === x.a.id),
          false,
        );

        // Idempotent (an interrupted purge is finished by running it again), and a stranger's id is no error.
        await s.purgeAccount(x.a.id);
        await s.purgeAccount(randomUUID());
        // The username and the claims of the account are free again: a new account may take them.
        const again = anAccount({ username: x.a.username });
        assert.equal(await s.accounts.create(again), true);
        assert.equal(await s.contacts.create({ ...aContact(again.id), identities: x.contact.identities }), true);
      });
    });

    test('data survives a close and reopen', async () => {
      const a = anAccount();
      await s.accounts.create(a);
      const conv = await s.conversations.getOrCreate(aConversation(a.id));
      const m = aMessage(a.id, conv.id);
      await s.messages.put(m);
      s = await sut.reopen();
      assert.deepEqual(await s.accounts.get(a.id), a);
      assert.deepEqual(await s.messages.get(a.id, m.id), m);
      await s.migrate();
      assert.deepEqual(await s.conversations.get(a.id, conv.id), conv);
    });
  });
}
