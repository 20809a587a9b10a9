import { armorPublic } from '../keys/account-key.context.ts';
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'vitest';
import type { Account } from '../accounts/account.entity.ts';
import type { RecipientKey } from '../keys/key-discovery.service.ts';
import { AppError } from '../shared/errors.ts';
import { aConversation, aMessage, anAccount } from '../storage/storage.conformance.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { RoutePreviewService, type RoutePreviewDeps, type RouteProvider } from './route-preview.service.ts';

const DOMAIN = 'alpha.test';
const KEY: RecipientKey = {
  address: 'bob@example.org',
  fingerprint: 'ab'.repeat(20),
  publicKey: new Uint8Array([1]),
  source: 'wkd',
  verified: false,
};
const OWN = { fingerprint: 'cd'.repeat(20), publicKey: new Uint8Array([2]), armored: '' };

describe('route preview: the routes to a recipient, the PI each gives, the one chosen', () => {
  let storage: SqliteStorage;
  let sender: Account;
  let local: Account;
  let recipientKey: RecipientKey | null;
  let ownKey: typeof OWN | null;
  let tlsPolicy: 'opportunistic' | 'required';

  const make = (providers: RouteProvider[] = [], recipients?: RoutePreviewDeps['recipients']) => {
    const deps: RoutePreviewDeps = {
      ...(recipients ? { recipients } : {}),
      storage,
      privacy: { isKnown: async () => false },
      keys: {
        keyFor: async (_a, address) =>
          address.endsWith(`@${DOMAIN}`)
            ? address === `lou@${DOMAIN}`
              ? { ...KEY, address, source: 'local' }
              : null
            : recipientKey,
        localAccount: async (address) => (address === `lou@${DOMAIN}` ? local : null),
      },
      accountKeys: { publicKey: async () => ownKey },
      domain: DOMAIN,
      tlsPolicy,
      providers,
    };
    return new RoutePreviewService(deps);
  };

  /** A Sent copy to bob@example.org whose delivery recorded this TLS (or none). */
  async function delivered(tls: { version: string; cipher: string } | null, at: string): Promise<void> {
    const c = await storage.conversations.getOrCreate(
      aConversation(sender.id, { participants: [{ contactId: null, address: 'bob@example.org', name: null }] }),
    );
    await storage.messages.put(
      aMessage(sender.id, c.id, {
        direction: 'outbound',
        to: [{ protocol: 'email', address: 'bob@example.org', name: null, contactId: null }],
        facts: {
          delivery: [
            { domain: 'example.org', via: 'smtp', tls, peer: 'mx.example.org:25', at },
            { domain: 'example.org', via: 'smtp', tls: 'forged', at: 'z' },
            'junk',
          ],
        },
      }),
    );
  }

  beforeEach(async () => {
    storage = SqliteStorage.open(':memory:');
    sender = anAccount({ username: 'alice' });
    local = anAccount({ username: 'lou' });
    await storage.accounts.create(sender);
    await storage.accounts.create(local);
    recipientKey = null;
    ownKey = OWN;
    tlsPolicy = 'opportunistic';
  });

  test('no key, never delivered: TLS email is chosen (STARTTLS first), never plaintext; nothing encrypted', async () => {
    const p = await make().preview(sender, 'Bob@Example.org');
    assert.equal(p.to, 'bob@example.org');
    assert.deepEqual(
      p.routes.map((r) => [r.route, r.status]),
      [
        ['openpgp-email', 'unavailable'],
        ['tls-email', 'unknown'],
        ['email', 'available'],
      ],
    );
    assert.equal(p.chosen, 'tls-email');
    assert.equal(p.encrypted, false);
    const email = p.routes[2]!;
    assert.ok(email.pi.score <= 5, 'plain email is a postcard');
    assert.ok(
      p.routes[0]!.pi.score > email.pi.score,
      'the PI the encrypted route would give is shown even when unavailable',
    );
    for (const r of p.routes)
      assert.equal(
        r.pi.factors.reduce((s, f) => s + f.contribution, 0),
        r.pi.score,
      );
  });

  test('a key known (and one of your own): OpenPGP chosen, with the key and how it is known; without your own key it is not', async () => {
    recipientKey = KEY;
    const p = await make().preview(sender, 'bob@example.org');
    assert.equal(p.chosen, 'openpgp-email');
    assert.equal(p.encrypted, true);
    assert.deepEqual(p.routes[0]!.key, {
      fingerprint: KEY.fingerprint,
      source: 'wkd',
      verified: false,
      armored: armorPublic(KEY.publicKey),
    });
    assert.equal(p.routes[0]!.pi.factors.find((f) => f.id === 'e2e.openpgp')?.contribution, 25);
    ownKey = null;
    const q = await make().preview(sender, 'bob@example.org');
    assert.equal(q.routes[0]!.available, false);
    assert.match(q.routes[0]!.reason, /no OpenPGP key of your own/);
    assert.equal(q.encrypted, false);
  });

  test('what the last delivery negotiated: TLS known makes it available (malformed records are ignored); plaintext last time does not', async () => {
    await delivered({ version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, '2026-03-01T10:00:00.000Z');
    const p = await make().preview(sender, 'bob@example.org');
    assert.equal(p.routes[1]!.status, 'available');
    assert.match(p.routes[1]!.reason, /TLSv1\.3 .*mx\.example\.org/);
    assert.equal(p.routes[1]!.pi.factors.find((f) => f.id === 'transport.tls')?.contribution, 10);
    await delivered(null, '2026-04-01T10:00:00.000Z');
    const q = await make().preview(sender, 'bob@example.org');
    assert.equal(q.routes[1]!.status, 'unavailable', 'the newest delivery counts');
    assert.equal(q.chosen, 'email');
  });

  test('TLS required by policy: plain email is never a route', async () => {
    tlsPolicy = 'required';
    await delivered(null, '2026-04-01T10:00:00.000Z');
    const p = await make().preview(sender, 'bob@example.org');
    assert.deepEqual(
      p.routes.map((r) => [r.route, r.status]),
      [
        ['openpgp-email', 'unavailable'],
        ['tls-email', 'unknown'],
        ['email', 'unavailable'],
      ],
    );
    assert.equal(p.chosen, 'tls-email');
  });

  test('same-instance recipients: delivery inside the instance, OpenPGP with their key; unknown accounts have no route', async () => {
    const p = await make().preview(sender, `lou@${DOMAIN}`);
    assert.deepEqual(
      p.routes.map((r) => [r.route, r.status]),
      [
        ['openpgp-email', 'available'],
        ['local', 'available'],
      ],
    );
    assert.equal(p.routes[1]!.pi.factors.find((f) => f.id === 'transport.local')?.contribution, 10);
    const none = await make().preview(sender, `nobody@${DOMAIN}`);
    assert.equal(none.chosen, null);
    assert.equal(none.routes.length, 1);
  });

  test('a data-exploiting provider caps every route it reads; an encrypted one less', async () => {
    recipientKey = { ...KEY, address: 'someone@gmail.com' };
    const p = await make().preview(sender, 'someone@gmail.com');
    for (const r of p.routes)
      assert.ok(
        r.pi.factors.some((f) => f.id === 'cap.data_exploiting_provider') || r.pi.score <= 10,
        `${r.route}: ${r.pi.score}`,
      );
    assert.ok(p.routes[0]!.pi.score <= 30);
  });

  test('the extension point: a more private provider (federation) ranks first and is chosen when available', async () => {
    const base = await make().preview(sender, 'bob@example.org');
    const service = make([
      {
        name: 'federation',
        routesFor: async () => [
          {
            route: 'federation',
            rank: 100,
            status: 'available',
            available: true,
            reason: 'labelled peer',
            encrypted: true,
            key: null,
            pi: base.routes[0]!.pi,
          },
        ],
      },
    ]);
    const p = await service.preview(sender, 'bob@example.org');
    assert.equal(p.routes[0]!.route, 'federation');
    assert.equal(p.chosen, 'federation');
  });

  test('not an address: recipient_invalid', async () => {
    for (const bad of ['', 'nope', 'a@b', 'a b@c.example', 'x@y.example\r\nBcc: z@w.example']) {
      await assert.rejects(
        make().preview(sender, bad),
        (e: unknown) => e instanceof AppError && e.code === 'recipient_invalid',
        bad,
      );
    }
  });

  test('the recipient check: a member instance that says "no such user" makes the preview recipient_unknown; nothing else refuses', async () => {
    const asked: string[] = [];
    const answers: Record<string, 'exists' | 'unknown' | 'unverified'> = {
      'nobody@beta.test': 'unknown',
      'bob@beta.test': 'exists',
      'carol@beta.test': 'unverified',
    };
    const service = make([], async (address) => {
      asked.push(address);
      return { verdict: answers[address] ?? 'unverified', domain: 'beta.test' };
    });
    await assert.rejects(service.preview(sender, 'Nobody@Beta.Test'), (e: unknown) => {
      assert.ok(e instanceof AppError);
      assert.equal(e.code, 'recipient_unknown');
      assert.match(e.message, /beta\.test says it has no user nobody@beta\.test/);
      return true;
    });
    assert.ok((await service.preview(sender, 'bob@beta.test')).routes.length > 0);
    assert.ok((await service.preview(sender, 'carol@beta.test')).routes.length > 0, 'no answer: no refusal');
    // Addresses of this instance are never asked of anyone; invalid input is refused before any question.
    await service.preview(sender, `lou@${DOMAIN}`);
    await assert.rejects(service.preview(sender, 'not an address'), /not|invalid|address/i);
    assert.deepEqual(asked, ['nobody@beta.test', 'bob@beta.test', 'carol@beta.test']);
  });
});
