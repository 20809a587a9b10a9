/**
 * Privacy Index recomputation end to end, and its scope: two accounts of one instance receive the same OpenPGP-signed
 * message from bob@example.org over real SMTP (STARTTLS, SPF/DKIM/DMARC verified against a DNS server on loopback).
 * Neither holds Bob's key: the signature cannot be checked, and the PI suggests adding the key. Account A then adds
 * Bob's key (`POST /api/v1/contacts/:id/keys`); the 'pi' queue re-verifies and rescores what depends on it. A's
 * message and A's contact for Bob rise; B's message, contact, conversation and account rows are left exactly as they
 * were. The test polls (waitFor) for the queue's work; it never sleeps to assert.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { generateTestKey, pgpMimeSigned, type TestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { PI_QUEUE } from '@caliopen/instance/privacy/pi.service.ts';
import { ok } from '../support/api-client.ts';
import { queueIdle as isIdle, type TestInstance } from '../support/instance.ts';
import { dkimKey, dkimSigned, mailbox, type MailWorld, sendingDomain, startMailWorld } from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';
import { explain, type Pi, wellFormedPi } from '../support/pi.ts';

const DOMAIN = 'alpha.test';
const BOB = 'bob@example.org';
const SUBJECT = 'Signed: the keys to the shed';

const dkim = dkimKey();

/** The PI, checked to be well formed: the factors' contributions add up to the score. */
const checkedPi = wellFormedPi;

const has = (pi: Pi, id: string) => pi.factors.some((f) => f.id === id);

describe('Privacy Index recomputation when a contact’s key arrives', () => {
  let world: MailWorld;
  let inst: TestInstance;
  let bobKey: TestKey;
  let a: { id: string; token: string };
  let b: { id: string; token: string };

  /** What one account sees of Bob: the message (detail), its summary in the discussion, the contact (detail). */
  async function view(user: { token: string }) {
    const summary = (await mailbox(inst, user.token)).filter((m) => m.subject === SUBJECT).at(-1) ?? null;
    assert.ok(summary, 'the message is in the mailbox');
    const message = ok(await inst.api('GET', `/api/v1/messages/${summary.id}`, { token: user.token }));
    const contacts = ok(await inst.api('GET', '/api/v1/contacts?limit=500', { token: user.token })).items;
    const bob = contacts.find((c: any) => c.identities.some((i: any) => i.address === BOB));
    assert.ok(bob, 'Bob is a contact (created from his mail)');
    const contact = ok(await inst.api('GET', `/api/v1/contacts/${bob.id}`, { token: user.token }));
    return { summary, message, contact };
  }

  /** B's rows as stored, read directly from storage: what must not change. */
  async function storedRows(accountId: string, messageId: string, contactId: string, conversationId: string) {
    const { storage } = inst.running.services;
    return {
      message: await storage.messages.get(accountId, messageId),
      contact: await storage.contacts.get(accountId, contactId),
      conversation: await storage.conversations.get(accountId, conversationId),
      accountPi: await storage.accounts.getPi(accountId),
    };
  }

  const queueIdle = (queue: string) => isIdle(inst.running, queue);

  beforeAll(async () => {
    world = await startMailWorld({ domain: DOMAIN, zone: sendingDomain('example.org', 'mail2026', dkim) });
    inst = world.inst;
    a = await inst.user('anna');
    b = await inst.user('berit');
    bobKey = await generateTestKey(BOB, { name: 'Bob Example' });

    // One SMTP transaction to both accounts: the same bytes reach each mailbox.
    const raw = await pgpMimeSigned({
      from: `Bob Example <${BOB}>`,
      to: `anna@${DOMAIN}, berit@${DOMAIN}`,
      subject: SUBJECT,
      signer: bobKey,
    });
    await world.deliver({
      helo: 'mail.example.org',
      from: BOB,
      to: [`anna@${DOMAIN}`, `berit@${DOMAIN}`],
      raw: await dkimSigned(dkim, { domain: 'example.org', selector: 'mail2026' }, raw),
    });

    await waitFor(async () => {
      for (const user of [a, b]) {
        const items = ok(await inst.api('GET', '/api/v1/discussions?limit=200', { token: user.token })).items;
        if (items.length === 0) return false;
      }
      return true;
    }, 30_000);
    // Everything the arrival set off (indexing, PI jobs) has run before the "before" picture is taken.
    await waitFor(async () => (await queueIdle('index')) && (await queueIdle(PI_QUEUE)), 30_000);
  });

  afterAll(async () => {
    await world?.stop();
  });

  test('a key added by A raises A’s message and contact PIs through the queue, and leaves B’s untouched', async () => {
    const beforeA = await view(a);
    const beforeB = await view(b);

    // Both received the same facts: a signature by a key neither holds, and the suggestion to add it.
    for (const [who, v] of [
      ['A', beforeA],
      ['B', beforeB],
    ] as const) {
      assert.equal(v.message.facts.openpgp.kind, 'pgp-mime-signed', who);
      assert.equal(v.message.facts.openpgp.signature, 'unknown_key', who);
      assert.equal(v.message.facts.transport.tls?.version, 'TLSv1.3', who);
      assert.equal(v.message.facts.authentication.dmarc.result, 'pass', who);
      const pi = checkedPi(v.message.pi);
      assert.ok(has(pi, 'origin.signature_unknown_key'), `${who}: ${explain(pi)}`);
      assert.ok(!has(pi, 'origin.signature'), who);
      const suggestion = pi.suggestions.find((s) => s.action === 'contact.add_public_key');
      assert.ok(suggestion, `${who}: ${JSON.stringify(pi.suggestions)}`);
      assert.equal(suggestion.element, `contact:${BOB}`);
      assert.ok(suggestion.gain >= 1);
      assert.equal(v.summary.pi.score, pi.score, `${who}: the stored summary agrees with the breakdown`);
      const contactPi = checkedPi(v.contact.pi);
      assert.ok(has(contactPi, 'e2e.no_key'), `${who}: ${explain(contactPi)}`);
      assert.ok(
        contactPi.suggestions.some((s) => s.action === 'contact.add_public_key'),
        who,
      );
    }
    assert.deepEqual(beforeA.message.pi, beforeB.message.pi, 'same message, same facts, same PI');
    const rowsB = await storedRows(b.id, beforeB.message.id, beforeB.contact.id, beforeB.message.conversationId);
    assert.ok(rowsB.message && rowsB.contact && rowsB.conversation, 'B’s rows exist');
    const completedBefore = (await inst.running.services.queue.counts(PI_QUEUE)).completed;

    // A adds Bob's key, as a user pastes it.
    const added = ok(
      await inst.api('POST', `/api/v1/contacts/${beforeA.contact.id}/keys`, {
        token: a.token,
        body: { armored: bobKey.armoredPublic },
      }),
      201,
    );
    assert.equal(added.key.fingerprint, bobKey.fingerprint);
    assert.equal(added.outcome, 'new');

    // The queue runs: A's message is re-verified (signature now valid) and rescored, then A's contact.
    const { storage } = inst.running.services;
    await waitFor(async () => {
      const stored = await storage.messages.get(a.id, beforeA.message.id);
      const contact = await storage.contacts.get(a.id, beforeA.contact.id);
      return (
        (stored?.facts as any)?.openpgp?.signature === 'valid' &&
        stored!.pi !== null &&
        stored!.pi.score > beforeA.message.pi.score &&
        contact?.pi != null &&
        contact.pi.score > beforeA.contact.pi.score &&
        (await queueIdle(PI_QUEUE)) &&
        (await inst.running.services.queue.counts(PI_QUEUE)).completed > completedBefore
      );
    }, 30_000);

    const afterA = await view(a);
    const messagePi = checkedPi(afterA.message.pi);
    assert.equal(afterA.message.facts.openpgp.signature, 'valid');
    assert.equal(afterA.message.facts.openpgp.signerFingerprint, bobKey.fingerprint);
    assert.ok(has(messagePi, 'origin.signature'), explain(messagePi));
    assert.ok(!has(messagePi, 'origin.signature_unknown_key'), explain(messagePi));
    assert.ok(
      messagePi.score > beforeA.message.pi.score,
      `A's message: ${explain(beforeA.message.pi)} -> ${explain(messagePi)}`,
    );
    assert.ok(
      !messagePi.suggestions.some((s) => s.action === 'contact.add_public_key'),
      'the suggestion is gone once followed',
    );
    assert.equal(
      afterA.summary.pi.score,
      messagePi.score,
      'the stored PI (lists) was rewritten, not only the live breakdown',
    );
    const suggested = beforeA.message.pi.suggestions.find((s: any) => s.action === 'contact.add_public_key').gain;
    assert.equal(
      messagePi.score - beforeA.message.pi.score,
      suggested,
      'the gain the suggestion announced is the gain obtained',
    );

    const contactPi = checkedPi(afterA.contact.pi);
    assert.ok(has(contactPi, 'e2e.key_known'), explain(contactPi));
    assert.ok(
      contactPi.score > beforeA.contact.pi.score,
      `A's contact: ${explain(beforeA.contact.pi)} -> ${explain(contactPi)}`,
    );
    assert.equal(
      (await storage.contacts.get(a.id, beforeA.contact.id))!.pi!.score,
      contactPi.score,
      'the contact’s stored PI is the new one',
    );

    // B: the same message, contact, conversation and account PI, row for row.
    const afterB = await view(b);
    assert.deepEqual(afterB.message.pi, beforeB.message.pi);
    assert.deepEqual(afterB.message.facts, beforeB.message.facts);
    assert.deepEqual(afterB.contact.pi, beforeB.contact.pi);
    assert.deepEqual(await storedRows(b.id, beforeB.message.id, beforeB.contact.id, rowsB.conversation!.id), rowsB);
    assert.deepEqual(
      ok(await inst.api('GET', `/api/v1/contacts/${beforeB.contact.id}/keys`, { token: b.token })).items,
      [],
      'B holds no key for Bob',
    );
  });
});
