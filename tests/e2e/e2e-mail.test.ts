/**
 * End-to-end encrypted mail over real SMTP (issue 5, items 2–4 and 6):
 * - two accounts on one instance exchange an encrypted and signed message (PGP/MIME, local delivery): the recipient's
 *   server-side key decrypts it at arrival, the signature inside verifies with the sender's key learnt from the
 *   Autocrypt header, and the message's PI rises by exactly the model's points, its breakdown naming the factors;
 * - an account and an outside correspondent with their own OpenPGP key (a real SMTP sender into the instance, DKIM
 *   published in a real DNS server on loopback, and a real SMTP sink as their MX): incoming encrypted+signed mail is
 *   decrypted and verified, the key in its Autocrypt header is attached to the contact, the route preview then chooses
 *   openpgp-email, and the reply leaves encrypted — the sink decrypts it with the correspondent's private key and
 *   checks the signature;
 * - bad input (malformed armour or another address's key in Autocrypt, garbage DNS answers): never a crash, never a
 *   higher PI.
 *
 * The accounts' keys: server-side keys generated here with openpgp.js and handed to the instance through a stand-in
 * of the AccountKeys port (server mode, unlocked) — the account-keys domain is developed alongside; this test
 * exercises everything that reads keys through the port.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import * as openpgp from 'openpgp';
import type { AccountKeys } from '@caliopen/instance/keys/account-key.port.ts';
import {
  autocryptHeader,
  autocryptKeydata,
  readAutocryptHeader,
  withHeader,
} from '@caliopen/instance/openpgp/openpgp.compose.ts';
import { detectOpenPgp } from '@caliopen/instance/openpgp/openpgp.detect.ts';
import { generateTestKey, pgpMimeEncrypted, type TestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { ok } from '../support/api-client.ts';
import type { TestDnsServer } from '../support/dns-server.ts';
import { queueIdle, startTestInstance, type TestInstance } from '../support/instance.ts';
import {
  dkimKey,
  dkimSigned as signedBy,
  mailbox as mailboxOf,
  type MailWorld,
  receivedMessage,
  sendingDomain,
  startMailWorld,
} from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { explain, factor, type Pi } from '../support/pi.ts';

const DOMAIN = 'alpha.test';
const OUTSIDE = 'outside.example';
const CAROL = `carol@${OUTSIDE}`;
const DAVE = `dave@${OUTSIDE}`;
const CRLF = '\r\n';
const SELECTOR = 'k2026';

const dkim = dkimKey();

/** The PI, checked to be well formed (its factors add up to the score). */
function checkedPi(m: { pi: Pi }): Pi {
  assert.equal(
    m.pi.factors.reduce((s, f) => s + f.contribution, 0),
    m.pi.score,
    explain(m.pi),
  );
  return m.pi;
}

/** A stand-in of the account-keys domain: server-side keys, unlocked (as after the user signed in). */
class TestAccountKeys implements AccountKeys {
  readonly keys = new Map<string, TestKey>();
  async mode(accountId: string) {
    return this.keys.has(accountId) ? ('server' as const) : ('none' as const);
  }
  async publicKey(accountId: string) {
    const k = this.keys.get(accountId);
    return k ? { fingerprint: k.fingerprint, publicKey: k.publicKey.write(), armored: k.armoredPublic } : null;
  }
  async unlocked(accountId: string) {
    return this.keys.get(accountId)?.privateKey ?? null;
  }
}

const dkimSigned = (message: Buffer | string) => signedBy(dkim, { domain: OUTSIDE, selector: SELECTOR }, message);

/** A plain letter from the outside, with extra header lines (an Autocrypt header...). */
function letter(from: string, subject: string, extra: string[] = []): Buffer {
  return Buffer.from(
    [
      ...extra,
      `From: ${from}`,
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

describe('end-to-end encrypted mail (PGP/MIME, Autocrypt, key lookups, route preview) over real SMTP', () => {
  let world: MailWorld;
  let dns: TestDnsServer;
  let sink: SmtpSink;
  let inst: TestInstance;
  const accountKeys = new TestAccountKeys();
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let aliceKey: TestKey;
  let bobKey: TestKey;
  let carolKey: TestKey;

  beforeAll(async () => {
    sink = await startSmtpSink();
    world = await startMailWorld({
      domain: DOMAIN,
      zone: sendingDomain(OUTSIDE, SELECTOR, dkim),
      keyLookupsThroughDns: true,
      env: {
        CALIOPEN_OUTBOUND_MX_OVERRIDE: `${OUTSIDE}=127.0.0.1:${sink.port}`,
        CALIOPEN_OUTBOUND_RETRY_BASE_DELAY_MS: '100',
      },
      // WKD would reach for the outside domains over HTTPS: off here (the unit tests and discovery-dns-wkd cover it).
      services: { accountKeys, keyDiscovery: { wkd: false } },
    });
    ({ dns, inst } = world);
    // Key lookups for garbage.example get garbage back (a hostile or broken resolver).
    dns.behaviour = (q) => (q.name.toLowerCase().endsWith('garbage.example') ? 'garbage' : 'normal');
    [aliceKey, bobKey, carolKey] = await Promise.all([
      generateTestKey(`alice@${DOMAIN}`),
      generateTestKey(`bob@${DOMAIN}`),
      generateTestKey(CAROL, { name: 'Carol' }),
    ]);
    alice = await inst.user('alice');
    bob = await inst.user('bob');
    accountKeys.keys.set(alice.id, aliceKey);
    accountKeys.keys.set(bob.id, bobKey);
  });

  afterAll(async () => {
    await world?.stop();
    await sink?.stop();
  });

  /** Every message of an account (discussions, then their messages). */
  const mailbox = (token: string) => mailboxOf(inst, token);

  /** Waits for the inbound message with this subject; resolves its detail. */
  const received = (token: string, subject: string) =>
    receivedMessage(inst, token, (m) => m.subject === subject && m.direction === 'inbound');

  async function piQueueIdle(): Promise<void> {
    await waitFor(() => queueIdle(inst.running, 'pi'), 30_000);
  }

  /** One SMTP session from the outside domain's server, over STARTTLS. */
  const deliverFromOutside = (from: string, raw: string | Buffer) =>
    world.deliver({ helo: `mx.${OUTSIDE}`, from, to: [`alice@${DOMAIN}`], raw });

  async function keysOfContact(token: string, address: string): Promise<any[]> {
    const contacts = ok(await inst.api('GET', '/api/v1/contacts?limit=200', { token })).items as any[];
    const contact = contacts.find((c) => c.identities.some((i: any) => i.address === address));
    assert.ok(contact, `a contact for ${address}`);
    return ok(await inst.api('GET', `/api/v1/contacts/${contact.id}/keys`, { token })).items;
  }

  test('two accounts on one instance: encrypted and signed, decrypted at arrival, PI up by exactly 25 + 8 + 1', async () => {
    // A first message, neither encrypted nor signed: it carries Alice's Autocrypt header (she has a key).
    const plain = ok(
      await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: { to: [{ address: `bob@${DOMAIN}` }], subject: 'Lunch', text: 'Noon?', encryption: 'none', sign: false },
      }),
      202,
    );
    assert.deepEqual([plain.encrypted, plain.signed, plain.recipients[0].encrypted], [false, false, false]);
    const baseline = await received(bob.token, 'Lunch');
    assert.equal(baseline.facts.openpgp.kind, 'none');
    // Over local delivery the Autocrypt header is trusted as far as Autocrypt goes: Alice's key is now Bob's contact's.
    const learnt = await keysOfContact(bob.token, `alice@${DOMAIN}`);
    assert.deepEqual(
      learnt.map((k) => [k.fingerprint, k.source, k.status]),
      [[aliceKey.fingerprint, 'autocrypt', 'active']],
    );

    // The route preview says the message will be encrypted (Bob's key on this instance, Alice's own for her copy).
    const preview = ok(await inst.api('GET', `/api/v1/routes?to=bob@${DOMAIN}`, { token: alice.token }));
    assert.equal(preview.chosen, 'openpgp-email');
    assert.equal(preview.encrypted, true);
    assert.deepEqual(
      preview.routes.map((r: any) => [r.route, r.status]),
      [
        ['openpgp-email', 'available'],
        ['local', 'available'],
      ],
    );
    assert.equal(preview.routes[0].key.source, 'local');
    assert.ok(preview.routes[0].pi.score > preview.routes[1].pi.score, 'the encrypted route gives more');

    const sent = ok(
      await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: { to: [{ address: `bob@${DOMAIN}` }], subject: 'The safe code', text: 'It is 4-8-15-16, swordfish.' },
      }),
      202,
    );
    assert.deepEqual(
      [sent.encrypted, sent.signed, sent.recipients[0].encrypted],
      [true, true, true],
      'auto: every key known, so encrypted; signed by default',
    );

    const m = await received(bob.token, 'The safe code');
    assert.equal(m.facts.openpgp.kind, 'pgp-mime-encrypted');
    assert.equal(m.facts.openpgp.encrypted, true);
    assert.equal(m.facts.openpgp.decrypted, true);
    assert.equal(m.facts.openpgp.signature, 'valid', m.facts.openpgp.problem ?? '');
    assert.equal(m.facts.openpgp.signerFingerprint, aliceKey.fingerprint);
    assert.equal(m.facts.openpgp.signerKeyTrust, 'autocrypt');
    assert.equal(m.subject, 'The safe code', 'the inner (protected) subject');
    assert.match(m.body.text, /4-8-15-16, swordfish/, 'Bob reads the decrypted text');
    await piQueueIdle();
    const pi = checkedPi(ok(await inst.api('GET', `/api/v1/messages/${m.id}`, { token: bob.token })));
    const base = checkedPi(ok(await inst.api('GET', `/api/v1/messages/${baseline.id}`, { token: bob.token })));
    assert.equal(pi.score - base.score, 25 + 8 + 1, `encrypted ${explain(pi)} vs plain ${explain(base)}`);
    assert.equal(factor(pi, 'e2e.openpgp')?.contribution, 25);
    assert.equal(factor(pi, 'origin.signature')?.contribution, 8);
    assert.match(factor(pi, 'origin.signature')!.evidence, new RegExp(aliceKey.fingerprint.slice(-16), 'i'));
    assert.equal(factor(pi, 'origin.key_trust')?.contribution, 1);
    assert.match(factor(pi, 'origin.key_trust')!.evidence, /Autocrypt/);

    // The raw message stays ciphertext; the search finds the decrypted words; Alice's Sent copy reads as hers.
    const raw = await inst.api('GET', `/api/v1/messages/${m.id}/raw`, { token: bob.token });
    assert.equal(raw.status, 200);
    assert.ok(!raw.text.includes('swordfish'));
    assert.match(raw.text, /^Subject: \.\.\.\r$/m, 'the outer subject is hidden (protected headers)');
    await waitFor(
      async () =>
        ok(await inst.api('GET', '/api/v1/search?q=swordfish', { token: bob.token })).items.some(
          (i: any) => i.message.id === m.id,
        ),
      20_000,
    );
    const own = ok(await inst.api('GET', `/api/v1/messages/${sent.id}`, { token: alice.token }));
    assert.equal(own.subject, 'The safe code');
    assert.equal(own.facts.openpgp.encrypted, true);
    assert.equal(own.facts.openpgp.decrypted, true, 'read with what was encrypted, as decrypting it gives');
    assert.equal(own.facts.openpgp.signature, 'none', "a signature is a fact about a correspondent, not one's own");
    assert.equal(factor(checkedPi(own), 'e2e.openpgp')?.contribution, 25);
  });

  test('an outside correspondent with a key: incoming encrypted and signed mail is decrypted and verified; the Autocrypt key is attached to the contact', async () => {
    const keydata = await autocryptKeydata(carolKey.publicKey.write(), CAROL, new Date());
    const autocrypt = autocryptHeader({ address: CAROL, keydata, preferEncrypt: true });
    // First a plain letter (with her Autocrypt header, as her client adds to every message), then an encrypted one.
    await deliverFromOutside(CAROL, await dkimSigned(letter(`Carol <${CAROL}>`, 'Tuesday', [autocrypt])));
    const plain = await received(alice.token, 'Tuesday');
    assert.equal(plain.facts.authentication.dkim[0]?.result, 'pass');
    const keys = await keysOfContact(alice.token, CAROL);
    assert.deepEqual(
      keys.map((k) => [k.fingerprint, k.source, k.status]),
      [[carolKey.fingerprint, 'autocrypt', 'active']],
    );

    const encrypted = await pgpMimeEncrypted({
      from: `Carol <${CAROL}>`,
      to: `Alice <alice@${DOMAIN}>`,
      subject: 'Contract draft',
      recipients: [aliceKey],
      signer: carolKey,
      text: 'Clause 7 is the one, albatross.',
    });
    await deliverFromOutside(CAROL, await dkimSigned(withHeader(encrypted, autocrypt)));
    const m = await received(alice.token, 'Contract draft');
    assert.equal(m.facts.transport.tls?.version, 'TLSv1.3');
    assert.equal(m.facts.openpgp.decrypted, true);
    assert.equal(m.facts.openpgp.signature, 'valid', m.facts.openpgp.problem ?? '');
    assert.equal(m.facts.openpgp.signerFingerprint, carolKey.fingerprint);
    await piQueueIdle();
    const pi = checkedPi(ok(await inst.api('GET', `/api/v1/messages/${m.id}`, { token: alice.token })));
    const base = checkedPi(ok(await inst.api('GET', `/api/v1/messages/${plain.id}`, { token: alice.token })));
    assert.equal(pi.score - base.score, 25 + 8 + 1, `encrypted ${explain(pi)} vs plain ${explain(base)}`);
    for (const id of ['e2e.openpgp', 'origin.signature', 'origin.key_trust', 'transport.tls', 'auth.dkim'])
      assert.ok((factor(pi, id)?.contribution ?? 0) > 0, `${id}: ${explain(pi)}`);
    await waitFor(
      async () =>
        ok(await inst.api('GET', '/api/v1/search?q=albatross', { token: alice.token })).items.some(
          (i: any) => i.message.id === m.id,
        ),
      20_000,
    );
  });

  test('the route preview chooses openpgp-email once the key is known; the reply leaves encrypted and the correspondent decrypts it', async () => {
    const preview = ok(await inst.api('GET', `/api/v1/routes?to=${CAROL}`, { token: alice.token }));
    assert.equal(preview.chosen, 'openpgp-email');
    assert.equal(preview.encrypted, true);
    assert.deepEqual(
      preview.routes.map((r: any) => r.route),
      ['openpgp-email', 'tls-email', 'email'],
      'most private first',
    );
    const { armored, ...known } = preview.routes[0].key;
    assert.deepEqual(known, { fingerprint: carolKey.fingerprint, source: 'autocrypt', verified: false });
    assert.equal(
      (await openpgp.readKey({ armoredKey: armored })).getFingerprint().toLowerCase(),
      carolKey.fingerprint,
      'the armoured key is hers (for a client that encrypts on the device)',
    );
    assert.equal(preview.routes[1].status, 'unknown', 'never delivered to outside.example yet');
    const scores = preview.routes.map((r: any) => r.pi.score);
    assert.ok(scores[0] > scores[2] && scores[1] >= scores[2], `scores ${scores}`);
    assert.ok(
      factor(preview.routes[2].pi, 'transport.plaintext') && scores[2] <= 5,
      `plain email is a postcard: ${explain(preview.routes[2].pi)}`,
    );

    const before = sink.messages.length;
    const sent = ok(
      await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: {
          to: [{ address: CAROL }],
          subject: 'Re: Contract draft',
          text: 'Agreed on clause 7. Alice',
          encryption: 'require',
        },
      }),
      202,
    );
    assert.deepEqual(
      [sent.encrypted, sent.signed, sent.recipients[0].route, sent.recipients[0].encrypted],
      [true, true, 'smtp', true],
    );
    const [got] = (await sink.waitForMessages(before + 1)).slice(before);
    assert.ok(got);
    const wire = got.raw.toString('latin1');
    assert.ok(
      !wire.includes('clause 7') && !wire.includes('Contract draft'),
      'neither content nor subject on the wire',
    );
    // Carol's side: her private key decrypts, Alice's key (from the Autocrypt header of the mail) verifies.
    const header = readAutocryptHeader(got.raw).header;
    assert.ok(header);
    assert.equal(header.address, `alice@${DOMAIN}`);
    const aliceFromHeader = await openpgp.readKey({ binaryKey: header.keydata });
    assert.equal(aliceFromHeader.getFingerprint(), aliceKey.fingerprint);
    const part = detectOpenPgp(got.raw);
    assert.equal(part.kind, 'pgp-mime-encrypted');
    const decrypted = await openpgp.decrypt({
      message: await openpgp.readMessage({ armoredMessage: String(part.encryptedData) }),
      decryptionKeys: carolKey.privateKey,
      verificationKeys: aliceFromHeader,
      expectSigned: true,
      format: 'binary',
    });
    const inner = Buffer.from(decrypted.data).toString('utf8');
    assert.match(inner, /Agreed on clause 7/);
    assert.match(inner, /^Subject: Re: Contract draft\r$/m, 'the real subject is inside');
    assert.equal(await decrypted.signatures[0]!.verified, true);

    // What the delivery negotiated now shows: TLS to outside.example's server is known.
    await waitFor(
      async () =>
        ok(await inst.api('GET', `/api/v1/routes?to=${CAROL}`, { token: alice.token })).routes[1].status ===
        'available',
      20_000,
    );
  });

  test('bad input: malformed armour or another address’s key in Autocrypt, garbage DNS answers — never a crash, never a higher PI', async () => {
    const garbageArmour = `Autocrypt: addr=${DAVE}; keydata=LS0tLS1CRUdJTiBQR1AgUFVCTElDIEtFWS0tLS0tCgpub3QgYSBrZXkK`;
    const carolsKey = autocryptHeader({
      address: DAVE,
      keydata: await autocryptKeydata(carolKey.publicKey.write(), CAROL, new Date()),
      preferEncrypt: true,
    });
    await deliverFromOutside(DAVE, await dkimSigned(letter(`Dave <${DAVE}>`, 'No header')));
    await deliverFromOutside(DAVE, await dkimSigned(letter(`Dave <${DAVE}>`, 'Garbage armour', [garbageArmour])));
    await deliverFromOutside(DAVE, await dkimSigned(letter(`Dave <${DAVE}>`, 'Somebody else key', [carolsKey])));
    const plain = await received(alice.token, 'No header');
    const garbage = await received(alice.token, 'Garbage armour');
    const other = await received(alice.token, 'Somebody else key');
    await piQueueIdle();
    assert.deepEqual(await keysOfContact(alice.token, DAVE), [], 'no key attached to Dave');
    for (const m of [garbage, other]) {
      const pi = checkedPi(ok(await inst.api('GET', `/api/v1/messages/${m.id}`, { token: alice.token })));
      assert.ok(pi.score <= checkedPi(plain).score, `${m.subject}: ${explain(pi)} vs ${explain(plain.pi)}`);
    }

    // Garbage DNS answers for the key lookup: the preview still answers, with no key and no encryption.
    const preview = ok(await inst.api('GET', '/api/v1/routes?to=eve@garbage.example', { token: alice.token }));
    assert.equal(preview.encrypted, false);
    assert.equal(preview.routes[0].route, 'openpgp-email');
    assert.equal(preview.routes[0].available, false);
    assert.notEqual(preview.chosen, 'email', 'never plaintext while TLS may be had');
    assert.ok(
      dns.queries.some((q) => q.name.endsWith('garbage.example')),
      'the resolver was asked',
    );
    // Requiring encryption to her is refused, naming her, and nothing is stored or sent.
    const countBefore = (await mailbox(alice.token)).length;
    const sinkBefore = sink.messages.length;
    const refused = await inst.api('POST', '/api/v1/messages', {
      token: alice.token,
      body: { to: [{ address: 'eve@garbage.example' }], subject: 'x', text: 'x', encryption: 'require' },
    });
    assert.equal(refused.status, 422, refused.text);
    assert.equal(refused.body.code, 'encryption_unavailable');
    assert.match(refused.body.detail, /eve@garbage\.example/);
    assert.equal((await mailbox(alice.token)).length, countBefore);
    assert.equal(sink.messages.length, sinkBefore);
    // A sender without a key: no signature, no required encryption — refused with what to do, nothing stored.
    const dan = await inst.user('dan');
    const unsigned = await inst.api('POST', '/api/v1/messages', {
      token: dan.token,
      body: { to: [{ address: `bob@${DOMAIN}` }], subject: 'x', text: 'x', sign: true },
    });
    assert.equal(unsigned.status, 422, unsigned.text);
    assert.equal(unsigned.body.code, 'signing_key_unavailable');
    const keyless = await inst.api('POST', '/api/v1/messages', {
      token: dan.token,
      body: { to: [{ address: `bob@${DOMAIN}` }], subject: 'x', text: 'x', encryption: 'require' },
    });
    assert.equal(keyless.status, 422, keyless.text);
    assert.equal(keyless.body.code, 'encryption_unavailable');
    assert.match(keyless.body.detail, /no OpenPGP key of your own/);
    assert.deepEqual(await mailbox(dan.token), []);
    const auto = ok(
      await inst.api('POST', '/api/v1/messages', {
        token: dan.token,
        body: { to: [{ address: `bob@${DOMAIN}` }], subject: 'From Dan', text: 'Plain, and that is fine.' },
      }),
      202,
    );
    assert.deepEqual([auto.encrypted, auto.signed], [false, false], 'auto without a key of your own: sent as it is');
    assert.equal(
      readAutocryptHeader(await inst.running.services.messages.raw(dan.id, auto.id)).header,
      null,
      'no Autocrypt header without a key',
    );
    // Hostile addresses in the preview: a clear 400.
    for (const to of ['not-an-address', 'a@b', `x@${'y'.repeat(300)}.example`, 'a\r\nBcc: b@c.example@d.example']) {
      const r = await inst.api('GET', `/api/v1/routes?to=${encodeURIComponent(to)}`, { token: alice.token });
      assert.equal(r.status, 400, `${to}: ${r.text}`);
      assert.ok(['recipient_invalid', 'validation_failed'].includes(r.body.code), r.text);
    }
    assert.equal((await inst.api('GET', '/healthz')).status, 200);
  });
});

describe('end-to-end encrypted mail with the account-keys service itself (server-side and client-side keys)', () => {
  let inst: TestInstance;

  beforeAll(async () => {
    inst = await startTestInstance({ domain: DOMAIN, services: { keyDiscovery: { wkd: false, dns: false } } });
  });
  afterAll(async () => {
    await inst?.stop();
  });

  async function messageWithSubject(token: string, subject: string): Promise<any> {
    let found: any = null;
    await waitFor(async () => {
      for (const d of ok(await inst.api('GET', '/api/v1/discussions?limit=50', { token })).items) {
        found ??=
          ok(await inst.api('GET', `/api/v1/discussions/${d.id}/messages?limit=50`, { token })).items.find(
            (m: any) => m.subject === subject && m.direction === 'inbound',
          ) ?? null;
      }
      return found !== null;
    }, 20_000);
    return ok(await inst.api('GET', `/api/v1/messages/${found.id}`, { token }));
  }

  test('server-side keys made through the API: encrypted, signed, decrypted at arrival; a client-side key: never decrypted here', async () => {
    const alice = await inst.user('alice');
    const bob = await inst.user('bob');
    const clara = await inst.user('clara');
    ok(
      await inst.api('POST', '/api/v1/keys', {
        token: alice.token,
        body: { mode: 'server', password: alice.password },
      }),
      201,
    );
    ok(
      await inst.api('POST', '/api/v1/keys', { token: bob.token, body: { mode: 'server', password: bob.password } }),
      201,
    );
    const claraKey = await generateTestKey(`clara@${DOMAIN}`);
    ok(
      await inst.api('POST', '/api/v1/keys', {
        token: clara.token,
        body: { mode: 'client', armoredPublicKey: claraKey.armoredPublic },
      }),
      201,
    );

    // Bob learns Alice's key from the Autocrypt header of a first message, then gets an encrypted one.
    ok(
      await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: { to: [{ address: `bob@${DOMAIN}` }], subject: 'Hello', text: 'hi', encryption: 'none', sign: false },
      }),
      202,
    );
    const base = await messageWithSubject(bob.token, 'Hello');
    // Signed only (the default when the server can use the key): the signature counts without encryption.
    ok(
      await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: { to: [{ address: `bob@${DOMAIN}` }], subject: 'Signed', text: 'signed', encryption: 'none' },
      }),
      202,
    );
    const signed = await messageWithSubject(bob.token, 'Signed');
    assert.equal(signed.facts.openpgp.kind, 'pgp-mime-signed');
    assert.equal(signed.facts.openpgp.signature, 'valid', signed.facts.openpgp.problem ?? '');
    assert.equal(
      checkedPi(signed).score - checkedPi(base).score,
      8 + 1,
      `${explain(signed.pi)} vs ${explain(base.pi)}`,
    );
    const sent = ok(
      await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: { to: [{ address: `bob@${DOMAIN}` }], subject: 'Vault', text: 'The vault word is kingfisher.' },
      }),
      202,
    );
    assert.deepEqual([sent.encrypted, sent.signed], [true, true]);
    const m = await messageWithSubject(bob.token, 'Vault');
    assert.equal(m.facts.openpgp.decrypted, true);
    assert.equal(m.facts.openpgp.signature, 'valid', m.facts.openpgp.problem ?? '');
    assert.match(m.body.text, /kingfisher/);
    assert.equal(checkedPi(m).score - checkedPi(base).score, 25 + 8 + 1, `${explain(m.pi)} vs ${explain(base.pi)}`);

    // Clara keeps her private key on her devices: the server stores ciphertext, and searches metadata only.
    const toClara = ok(
      await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: { to: [{ address: `clara@${DOMAIN}` }], subject: 'For Clara', text: 'The word is heron.' },
      }),
      202,
    );
    assert.equal(toClara.encrypted, true);
    const c = await messageWithSubject(clara.token, '...');
    assert.equal(c.facts.openpgp.encrypted, true);
    assert.equal(c.facts.openpgp.decrypted, undefined, 'never decrypted on the server');
    assert.equal(c.facts.openpgp.signature, 'unverifiable');
    assert.ok(!c.body.text.includes('heron'));
    // Once the message is indexed (its metadata is searchable), its words are still not.
    await waitFor(
      async () =>
        ok(await inst.api('GET', '/api/v1/search?q=from:alice', { token: clara.token })).items.some(
          (i: any) => i.message.id === c.id,
        ),
      20_000,
    );
    assert.equal(
      ok(await inst.api('GET', '/api/v1/search?q=heron', { token: clara.token })).total,
      0,
      'the words are not in the index',
    );
    // Her client decrypts what the server kept.
    const raw = await inst.api('GET', `/api/v1/messages/${c.id}/raw`, { token: clara.token });
    const decrypted = await openpgp.decrypt({
      message: await openpgp.readMessage({
        armoredMessage: String(detectOpenPgp(Buffer.from(raw.text, 'latin1')).encryptedData),
      }),
      decryptionKeys: claraKey.privateKey,
      format: 'binary',
    });
    assert.match(Buffer.from(decrypted.data).toString('utf8'), /The word is heron/);
  });
});
