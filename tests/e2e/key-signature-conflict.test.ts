/**
 * Trust on first use and signatures (point 11 of the TOFU review), end to end over real SMTP: a valid OpenPGP
 * signature on mail from a contact whose pinned key is another key earns nothing — and now also raises the key alert
 * a different key in an Autocrypt header raises:
 * - Carol's first key (Autocrypt, DKIM-verified mail) is pinned;
 * - her DKIM-verified mail signed by another key, without that key anywhere: the alert lists the signer's fingerprint
 *   (source `signature`, no key material), the message's PI factor says conflict, her contact's PI is capped;
 * - the same signature on mail her domain does not vouch for (no DKIM): the message says conflict, but no alert is
 *   filed (anyone could forge her address on signed mail to cap her PI);
 * - a key known only by its fingerprint cannot be verified (`key_material_unknown`); refusing it closes the alert.
 * Waits are on conditions (the 'pi' queue idle), never on time.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { autocryptHeader, autocryptKeydata } from '@caliopen/instance/openpgp/openpgp.compose.ts';
import { generateTestKey, pgpMimeSigned, type TestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { CONTACT_CAPS } from '@caliopen/instance/pi-model/contact-pi.model.ts';
import { ok, problemBody } from '../support/api-client.ts';
import { queueIdle, type TestInstance } from '../support/instance.ts';
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
const SELECTOR = 'sig2026';
const CRLF = '\r\n';

const dkim = dkimKey();
const dkimSigned = (message: Buffer) => signedBy(dkim, { domain: OUTSIDE, selector: SELECTOR }, message);

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
      'Hello Alice.',
      '',
    ].join(CRLF),
  );
}

describe('a signature by another key than the pinned one raises the key alert, without the key', () => {
  let world: MailWorld;
  let inst: TestInstance;
  let alice: { id: string; token: string };
  let k1: TestKey;
  let k3: TestKey;
  let k4: TestKey;
  let contactId: string;

  beforeAll(async () => {
    world = await startMailWorld({
      domain: DOMAIN,
      zone: sendingDomain(OUTSIDE, SELECTOR, dkim),
      keyLookupsThroughDns: true,
      // No lookups: the signer's key is nowhere to be found, only its fingerprint in the signature.
      services: { keyDiscovery: { wkd: false, dns: false } },
    });
    inst = world.inst;
    [k1, k3, k4] = await Promise.all([
      generateTestKey(CAROL, { name: 'Carol' }),
      generateTestKey(CAROL, { name: 'Not Carol' }),
      generateTestKey(CAROL, { name: 'Also not Carol' }),
    ]);
    alice = await inst.user('alice');
  });
  afterAll(async () => {
    await world?.stop();
  });

  const deliver = (raw: string | Buffer) =>
    world.deliver({ helo: `mx.${OUTSIDE}`, from: CAROL, to: [`alice@${DOMAIN}`], raw: raw.toString() });
  const received = (subject: string) => receivedMessage(inst, alice.token, (m) => m.subject === subject);
  const alerts = async () => ok(await inst.api('GET', '/api/v1/keys/alerts', { token: alice.token }));
  const contactKeys = async () =>
    ok(await inst.api('GET', `/api/v1/contacts/${contactId}/keys`, { token: alice.token })).items as any[];
  const contactPi = async (): Promise<Pi> =>
    ok(await inst.api('GET', `/api/v1/contacts/${contactId}`, { token: alice.token })).pi;
  const message = async (id: string) => ok(await inst.api('GET', `/api/v1/messages/${id}`, { token: alice.token }));
  async function settled(probe: () => Promise<boolean>, what: string): Promise<void> {
    await waitFor(async () => (await probe()) && (await queueIdle(inst.running, 'pi')), 30_000).catch(() =>
      assert.fail(`not settled: ${what}`),
    );
  }
  const signed = async (k: TestKey, subject: string) =>
    pgpMimeSigned({ from: `Carol <${CAROL}>`, to: `Alice <alice@${DOMAIN}>`, subject, signer: k });

  test('her first key (Autocrypt, DKIM-verified) is pinned', async () => {
    const header = autocryptHeader({
      address: CAROL,
      keydata: await autocryptKeydata(k1.publicKey.write(), CAROL, new Date()),
      preferEncrypt: true,
    });
    await deliver(await dkimSigned(letter('Keys', [header])));
    contactId = (await received('Keys')).from.contactId;
    assert.ok(contactId);
    assert.deepEqual(
      (await contactKeys()).map((k) => [k.fingerprint, k.status]),
      [[k1.fingerprint, 'active']],
    );
    assert.deepEqual((await alerts()).items, []);
  });

  test('her DKIM-verified mail signed by an unknown key: an alert with its fingerprint, the message says conflict, the contact PI is capped', async () => {
    await deliver(await dkimSigned(await signed(k3, 'Signed by someone else')));
    const m = await received('Signed by someone else');
    assert.equal(m.facts.authentication.dkim[0]?.result, 'pass');
    assert.equal(m.facts.openpgp.signature, 'unknown_key', 'it earns nothing');
    assert.equal(m.facts.openpgp.keyConflict, true, JSON.stringify(m.facts.openpgp));
    assert.match(m.facts.openpgp.problem ?? '', /not accepted \(conflict\)/);
    assert.ok(m.facts.openpgp.problem.includes(k3.fingerprint), m.facts.openpgp.problem);

    const page = await alerts();
    assert.equal(page.items.length, 1, JSON.stringify(page.items));
    const [alert] = page.items;
    assert.equal(alert.address, CAROL);
    assert.equal(alert.contact?.id, contactId);
    assert.equal(alert.pinned.fingerprint, k1.fingerprint);
    assert.equal(alert.conflicting.fingerprint, k3.fingerprint);
    assert.equal(alert.conflicting.source, 'signature');
    assert.equal(alert.conflicting.status, 'conflict');
    assert.equal(alert.conflicting.armored, '', 'no key material: only the fingerprint is known');
    assert.equal(alert.conflicting.fingerprintGrouped.replace(/\s/g, '').toLowerCase(), k3.fingerprint);

    await settled(
      async () => (await contactPi()).score <= CONTACT_CAPS.keyConflict,
      'the contact rescored under the cap',
    );
    const pi = await contactPi();
    assert.ok(factor(pi, 'cap.key_conflict'), explain(pi));

    await settled(
      async () => factor((await message(m.id)).pi, 'origin.signature_key_conflict') !== undefined,
      'scored',
    );
    const detail = await message(m.id);
    const f = factor(detail.pi, 'origin.signature_key_conflict')!;
    assert.equal(f.contribution, 0, explain(detail.pi));
    assert.match(f.evidence, /conflict/);
    assert.equal(factor(detail.pi, 'origin.signature'), undefined);
    assert.ok(
      !detail.pi.suggestions.some((s: { action: string }) => s.action === 'contact.add_public_key'),
      'adding a key would not say which one is hers',
    );
  });

  test('the same on mail her domain does not vouch for (no DKIM): the message says conflict, no alert is filed', async () => {
    await deliver(await signed(k4, 'Forged and signed'));
    const m = await received('Forged and signed');
    assert.notEqual(m.facts.authentication?.dkim?.[0]?.result, 'pass');
    assert.equal(m.facts.openpgp.signature, 'unknown_key');
    assert.equal(m.facts.openpgp.keyConflict, true);
    assert.match(m.facts.openpgp.problem ?? '', new RegExp(`unknown key ${k4.fingerprint}.*\\(conflict\\)`));
    await settled(async () => true, 'nothing left to score');
    assert.deepEqual(
      (await alerts()).items.map((a: any) => a.conflicting.fingerprint),
      [k3.fingerprint],
      'still the one alert',
    );
    assert.ok(!(await contactKeys()).some((k) => k.fingerprint === k4.fingerprint));
  });

  test('a key known only by its fingerprint cannot be verified; refusing it closes the alert', async () => {
    const verify = await inst.api('POST', `/api/v1/contacts/${contactId}/keys/${k3.fingerprint}/verify`, {
      token: alice.token,
    });
    problemBody(verify, 409, 'verify a key without material');
    assert.equal(verify.body?.code, 'key_material_unknown');
    ok(await inst.api('POST', `/api/v1/contacts/${contactId}/keys/${k3.fingerprint}/reject`, { token: alice.token }));
    assert.deepEqual(await alerts(), { items: [], next: null });
    // Signed by it again: refused keys stay refused (no new alert), the message still earns nothing.
    await deliver(await dkimSigned(await signed(k3, 'Signed again')));
    const again = await received('Signed again');
    assert.equal(again.facts.openpgp.signature, 'unknown_key');
    assert.match(again.facts.openpgp.problem ?? '', /not accepted \(rejected\)/);
    assert.deepEqual(await alerts(), { items: [], next: null });
  });
});
