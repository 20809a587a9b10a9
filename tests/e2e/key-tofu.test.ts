/**
 * Trust on first use and the Privacy Index, end to end over real SMTP (issue 5, "TOFU: a changed key raises an alert
 * and lowers the contact PI; verifying restores it"):
 * - an outside correspondent writes (STARTTLS, DKIM published in a real DNS server on loopback, verified on arrival);
 *   the first key her mail carries in an `Autocrypt:` header is pinned, and her contact's PI rises by the model's
 *   points for a key known from Autocrypt; a message signed with it counts as signed;
 * - her mail then carries a different key: it is kept as a conflict — an alert in `GET /api/v1/keys/alerts` (both
 *   keys, their fingerprints grouped to read aloud, their sources, when each was first seen) — the contact's PI drops
 *   under the `cap.key_conflict` cap, and a message signed with the new key does not count as validly signed;
 * - comparing fingerprints (`POST /api/v1/contacts/:id/keys/:fingerprint/verify`) clears the alert; the contact's PI
 *   comes back above where it was (a verified key counts more than one learnt from Autocrypt), and the message signed
 *   with the new key is re-verified and now counts;
 * - the alerts route refuses bad input and shows an account only its own alerts.
 * The Privacy Index recomputation runs in the 'pi' queue: the test waits for it to be idle, never for a time.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { autocryptHeader, autocryptKeydata, withHeader } from '@caliopen/instance/openpgp/openpgp.compose.ts';
import { generateTestKey, pgpMimeSigned, type TestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { CONTACT_CAPS, CONTACT_POINTS } from '@caliopen/instance/pi-model/contact-pi.model.ts';
import { MESSAGE_POINTS } from '@caliopen/instance/pi-model/message-pi.model.ts';
import { KEY_TRUST_RANK } from '@caliopen/instance/pi-model/pi.shared.ts';
import { ok, problemBody } from '../support/api-client.ts';
import { type ApiResponse, queueIdle, type TestInstance } from '../support/instance.ts';
import {
  dkimKey,
  dkimSigned as signedBy,
  type MailWorld,
  receivedMessage,
  sendingDomain,
  startMailWorld,
} from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';
import { explain, factor, type Pi } from '../support/pi.ts';

const DOMAIN = 'alpha.test';
const OUTSIDE = 'outside.example';
const CAROL = `carol@${OUTSIDE}`;
const SELECTOR = 'tofu2026';
const CRLF = '\r\n';

const dkim = dkimKey();

function expectProblem(r: ApiResponse, status: number, code: string, what: string): void {
  problemBody(r, status, what);
  assert.equal(r.body?.code, code, what);
}

/** A message from the outside domain, DKIM-signed by it (relaxed/relaxed, as common MTAs sign). */
const dkimSigned = (message: Buffer) => signedBy(dkim, { domain: OUTSIDE, selector: SELECTOR }, message);

/** A plain letter from Carol, with extra header lines first (her Autocrypt header). */
function letter(subject: string, extra: string[] = []): Buffer {
  return Buffer.from(
    [
      ...extra,
      `From: Carol <${CAROL}>`,
      `To: Alice <alice@${DOMAIN}>`,
      `Subject: ${subject}`,
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <${randomUUID()}@${OUTSIDE}>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hello Alice,',
      'see you on Tuesday.',
      '',
    ].join(CRLF),
  );
}

describe('trust on first use: a changed key raises an alert and lowers the contact PI; verifying restores it', () => {
  let world: MailWorld;
  let inst: TestInstance;
  let alice: { id: string; token: string };
  let other: { id: string; token: string };
  let k1: TestKey;
  let k2: TestKey;
  let contactId: string;
  /** The contact's PI before any key, and the plain letter's PI (the baseline of a message from her). */
  let noKey: Pi;
  let plainLetter: { id: string; pi: Pi; facts: any; from: { contactId: string } };

  beforeAll(async () => {
    world = await startMailWorld({
      domain: DOMAIN,
      zone: sendingDomain(OUTSIDE, SELECTOR, dkim),
      keyLookupsThroughDns: true,
      // Keys come from her mail only here: no lookups reaching for outside.example.
      services: { keyDiscovery: { wkd: false, dns: false } },
    });
    inst = world.inst;
    [k1, k2] = await Promise.all([
      generateTestKey(CAROL, { name: 'Carol' }),
      generateTestKey(CAROL, { name: 'Carol (new laptop)' }),
    ]);
    alice = await inst.user('alice');
    other = await inst.user('olivier');
  });
  afterAll(async () => {
    await world?.stop();
  });

  const piQueueIdle = () => queueIdle(inst.running, 'pi');

  /** Waits until `probe` holds and the 'pi' queue has nothing left to do. */
  async function settled(probe: () => Promise<boolean>, what: string): Promise<void> {
    await waitFor(async () => (await probe()) && (await piQueueIdle()), 30_000).catch(() =>
      assert.fail(`not settled: ${what}`),
    );
  }

  /** One SMTP session from the outside domain's server, over STARTTLS. */
  const deliver = (raw: string) => world.deliver({ helo: `mx.${OUTSIDE}`, from: CAROL, to: [`alice@${DOMAIN}`], raw });

  /** Waits for Alice's inbound message with this subject; resolves its detail (PI breakdown included). */
  const received = (subject: string) => receivedMessage(inst, alice.token, (m) => m.subject === subject);

  const message = async (id: string) => ok(await inst.api('GET', `/api/v1/messages/${id}`, { token: alice.token }));
  const contact = async () => ok(await inst.api('GET', `/api/v1/contacts/${contactId}`, { token: alice.token }));
  /** The PI stored for the contact (what lists show), as the 'pi' queue left it. */
  const storedScore = async () =>
    (ok(await inst.api('GET', '/api/v1/contacts?limit=100', { token: alice.token })).items as any[]).find(
      (c) => c.id === contactId,
    )?.pi?.score;
  const alerts = async (token = alice.token, query = '') =>
    ok(await inst.api('GET', `/api/v1/keys/alerts${query}`, { token }));
  const autocrypt = async (k: TestKey) =>
    autocryptHeader({
      address: CAROL,
      keydata: await autocryptKeydata(k.publicKey.write(), CAROL, new Date()),
      preferEncrypt: true,
    });
  const signedBy = async (k: TestKey, subject: string) =>
    dkimSigned(
      withHeader(
        await pgpMimeSigned({ from: `Carol <${CAROL}>`, to: `Alice <alice@${DOMAIN}>`, subject, signer: k }),
        await autocrypt(k),
      ),
    );

  test('her first key (Autocrypt, DKIM-verified mail) is pinned: the contact PI rises by the model’s points; her signature counts', async () => {
    await deliver(await dkimSigned(letter('Tuesday')));
    plainLetter = await received('Tuesday');
    assert.equal(plainLetter.facts.authentication.dkim[0]?.result, 'pass');
    contactId = plainLetter.from.contactId;
    assert.ok(contactId, 'her mail made her a contact');
    await settled(async () => (await storedScore()) !== undefined, 'the new contact scored');
    noKey = (await contact()).pi;
    assert.ok(factor(noKey, 'e2e.no_key'), explain(noKey));
    assert.ok(noKey.suggestions.some((s) => s.action === 'contact.add_public_key'));
    assert.deepEqual((await alerts()).items, []);

    await deliver(await dkimSigned(letter('Keys', [await autocrypt(k1)])));
    await received('Keys');
    const keys = ok(await inst.api('GET', `/api/v1/contacts/${contactId}/keys`, { token: alice.token })).items;
    assert.deepEqual(
      keys.map((k: any) => [k.fingerprint, k.source, k.status, k.verified]),
      [[k1.fingerprint, 'autocrypt', 'active', false]],
    );
    const pinnedGain = CONTACT_POINTS.keyKnown + KEY_TRUST_RANK.autocrypt * CONTACT_POINTS.keyTrustStep;
    await settled(async () => (await storedScore()) === noKey.score + pinnedGain, 'the contact rescored with her key');
    const pinned: Pi = (await contact()).pi;
    assert.equal(pinned.score - noKey.score, pinnedGain, `${explain(pinned)} vs ${explain(noKey)}`);
    assert.equal(factor(pinned, 'e2e.key_known')?.contribution, CONTACT_POINTS.keyKnown);
    assert.match(factor(pinned, 'e2e.key_trust')!.evidence, /Autocrypt/);
    assert.deepEqual((await alerts()).items, [], 'a first key raises no alert');

    // Signed with the pinned key: valid, and the message PI counts it as the model says.
    await deliver(await signedBy(k1, 'Signed with the first key'));
    const signed = await received('Signed with the first key');
    assert.equal(signed.facts.openpgp.signature, 'valid', signed.facts.openpgp.problem ?? '');
    assert.equal(signed.facts.openpgp.signerFingerprint, k1.fingerprint);
    assert.equal(
      signed.pi.score - plainLetter.pi.score,
      MESSAGE_POINTS.signatureValid + KEY_TRUST_RANK.autocrypt * MESSAGE_POINTS.keyTrustStep,
      `${explain(signed.pi)} vs ${explain(plainLetter.pi)}`,
    );
  });

  test('a different key in her mail raises an alert, caps the contact PI, and a signature by it does not count', async () => {
    const before = (await contact()).pi as Pi;
    await deliver(await dkimSigned(letter('New laptop', [await autocrypt(k2)])));
    await received('New laptop');
    const keys = ok(await inst.api('GET', `/api/v1/contacts/${contactId}/keys`, { token: alice.token })).items;
    assert.deepEqual(Object.fromEntries(keys.map((k: any) => [k.fingerprint, k.status])), {
      [k1.fingerprint]: 'active',
      [k2.fingerprint]: 'conflict',
    });

    const page = await alerts();
    assert.equal(page.next, null);
    assert.equal(page.items.length, 1);
    const [alert] = page.items;
    assert.deepEqual(alert.contact, { id: contactId, displayName: 'Carol' });
    assert.equal(alert.address, CAROL);
    assert.equal(alert.pinned.fingerprint, k1.fingerprint);
    assert.equal(alert.conflicting.fingerprint, k2.fingerprint);
    for (const [k, shown] of [
      [k1, alert.pinned],
      [k2, alert.conflicting],
    ] as const) {
      // Ten groups of four, two spaces in the middle: what two people read to each other.
      assert.match(shown.fingerprintGrouped, /^([0-9A-F]{4} ){4}[0-9A-F]{4} {2}([0-9A-F]{4} ){4}[0-9A-F]{4}$/);
      assert.equal(shown.fingerprintGrouped.replace(/\s/g, '').toLowerCase(), k.fingerprint);
      assert.equal(shown.source, 'autocrypt');
    }
    assert.deepEqual([alert.pinned.status, alert.conflicting.status], ['active', 'conflict']);
    assert.equal(alert.raisedAt, alert.conflicting.firstSeenAt);
    assert.ok(
      Date.parse(alert.pinned.firstSeenAt) < Date.parse(alert.conflicting.firstSeenAt),
      'the pinned key was seen first',
    );
    assert.deepEqual((await alerts(other.token)).items, [], 'another account sees none of it');

    await settled(async () => (await storedScore()) <= CONTACT_CAPS.keyConflict, 'the contact rescored under the cap');
    const conflicted: Pi = (await contact()).pi;
    assert.ok(
      conflicted.score <= CONTACT_CAPS.keyConflict && conflicted.score < before.score,
      `${explain(conflicted)} vs ${explain(before)}`,
    );
    assert.ok(factor(conflicted, 'cap.key_conflict'), explain(conflicted));
    assert.equal(factor(conflicted, 'e2e.key_known'), undefined, 'a contact whose key is in doubt gets nothing for it');
    assert.ok(
      conflicted.suggestions.some((s) => s.action === 'contact.resolve_key_conflict' && s.gain > 0),
      JSON.stringify(conflicted.suggestions),
    );
    assert.equal(await storedScore(), conflicted.score);

    // Signed with the new key: not valid (the key is not accepted until Alice decides), and no higher than plain.
    await deliver(await signedBy(k2, 'Signed with the new key'));
    const signed = await received('Signed with the new key');
    assert.notEqual(signed.facts.openpgp.signature, 'valid');
    assert.match(signed.facts.openpgp.problem ?? '', /not accepted \(conflict\)/);
    await settled(async () => true, 'the message scored');
    const pi: Pi = (await message(signed.id)).pi;
    assert.equal(factor(pi, 'origin.signature'), undefined, explain(pi));
    assert.ok(pi.score <= plainLetter.pi.score, `${explain(pi)} vs plain ${explain(plainLetter.pi)}`);
    // Still one alert: the key seen again is the same conflict.
    assert.equal((await alerts()).items.length, 1);
  });

  test('comparing fingerprints clears the alert; the contact PI comes back higher; the new key’s signature now counts', async () => {
    const signedId = (await received('Signed with the new key')).id;
    const verified = ok(
      await inst.api('POST', `/api/v1/contacts/${contactId}/keys/${k2.fingerprint}/verify`, { token: alice.token }),
    );
    assert.deepEqual(Object.fromEntries(verified.items.map((k: any) => [k.fingerprint, [k.status, k.verified]])), {
      [k1.fingerprint]: ['superseded', false],
      [k2.fingerprint]: ['active', true],
    });
    assert.deepEqual(await alerts(), { items: [], next: null });

    const gain = CONTACT_POINTS.keyKnown + KEY_TRUST_RANK.verified * CONTACT_POINTS.keyTrustStep;
    await settled(
      async () => (await storedScore()) === noKey.score + gain,
      'the contact rescored with the verified key',
    );
    const restored: Pi = (await contact()).pi;
    assert.equal(restored.score - noKey.score, gain, `${explain(restored)} vs ${explain(noKey)}`);
    assert.equal(factor(restored, 'cap.key_conflict'), undefined);
    assert.match(factor(restored, 'e2e.key_trust')!.evidence, /compared its fingerprint/);

    // The message signed with the new key is re-verified against the keys now held.
    await settled(async () => (await message(signedId)).facts.openpgp.signature === 'valid', 'the message re-verified');
    const m = await message(signedId);
    assert.equal(m.facts.openpgp.signerFingerprint, k2.fingerprint);
    assert.equal(m.facts.openpgp.signerKeyTrust, 'verified');
    assert.equal(
      m.pi.score - plainLetter.pi.score,
      MESSAGE_POINTS.signatureValid + KEY_TRUST_RANK.verified * MESSAGE_POINTS.keyTrustStep,
      `${explain(m.pi)} vs ${explain(plainLetter.pi)}`,
    );
  });

  test('the alerts route: paging, bad input, anonymous callers', async () => {
    // Two alerts (two more keys for her address) to page through, then rejected to leave things clean.
    const [k3, k4] = await Promise.all([generateTestKey(CAROL), generateTestKey(CAROL)]);
    await inst.running.services.keys.addKey(alice.id, CAROL, k3.armoredPublic, 'dns');
    await inst.running.services.keys.addKey(alice.id, CAROL, k4.armoredPublic, 'wkd');
    const first = await alerts(alice.token, '?limit=1');
    assert.equal(first.items.length, 1);
    assert.equal(first.items[0].conflicting.fingerprint, k4.fingerprint, 'newest first');
    assert.equal(first.items[0].pinned.fingerprint, k2.fingerprint);
    assert.equal(first.items[0].pinned.verified, true);
    assert.ok(first.next);
    const second = await alerts(alice.token, `?limit=1&cursor=${encodeURIComponent(first.next)}`);
    assert.deepEqual(
      second.items.map((a: any) => [a.conflicting.fingerprint, a.conflicting.source]),
      [[k3.fingerprint, 'dns']],
    );
    assert.equal(second.next, null);

    const get = (query: string, token: string | null = alice.token) =>
      inst.api('GET', `/api/v1/keys/alerts${query}`, token ? { token } : {});
    expectProblem(await get('?limit=0'), 400, 'validation_failed', 'limit 0');
    expectProblem(await get('?limit=201'), 400, 'validation_failed', 'limit too large');
    expectProblem(await get('?limit=ten'), 400, 'validation_failed', 'limit not a number');
    expectProblem(await get('?cursor=not-a-cursor'), 400, 'validation_failed', 'a cursor this API never gave');
    expectProblem(
      await get(`?cursor=${Buffer.from(`a1\n1\n${CAROL}\n${'z'.repeat(40)}`).toString('base64url')}`),
      400,
      'validation_failed',
      'a forged cursor',
    );
    expectProblem(await get(`?cursor=${'A'.repeat(700)}`), 400, 'validation_failed', 'an oversize cursor');
    expectProblem(await get('?contact=all'), 400, 'validation_failed', 'an unknown parameter');
    expectProblem(await get('', null), 401, 'unauthenticated', 'anonymous');
    // Another account's cursor shows that account's alerts only (the cursor is a position, not a permission).
    assert.deepEqual((await alerts(other.token, `?cursor=${encodeURIComponent(first.next)}`)).items, []);

    for (const k of [k3, k4])
      ok(await inst.api('POST', `/api/v1/contacts/${contactId}/keys/${k.fingerprint}/reject`, { token: alice.token }));
    assert.deepEqual(await alerts(), { items: [], next: null });
    assert.equal((await inst.api('GET', '/healthz')).status, 200);
  });
});
