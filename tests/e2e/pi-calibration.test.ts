/**
 * The calibration table of the Privacy Index (../shared/design/PRIVACY-INDEX.md, "What the seeds say") checked end to
 * end: realistic raw messages are delivered over real SMTP sessions (STARTTLS or not) into a running instance, whose
 * SPF/DKIM/DMARC checks run against a real DNS server on loopback playing the senders' domains (gmail.com included:
 * its DKIM key is ours, published in that DNS), and each message's PI is read back through
 * `GET /api/v1/messages/:id`. OpenPGP mail is built with openpgp.js (RFC 3156 PGP/MIME); the sender's public key is
 * given to the account with `POST /api/v1/contacts/:id/keys`.
 *
 * Every score read here is also checked to be the sum of its factors' contributions.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  generateTestKey,
  pgpMimeEncrypted,
  pgpMimeSigned,
  signedPartContent,
  type TestKey,
} from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { ok } from '../support/api-client.ts';
import type { Zone } from '../support/dns-server.ts';
import type { TestInstance } from '../support/instance.ts';
import {
  dkimKey,
  dkimSigned as signedBy,
  type MailWorld,
  receivedMessage,
  sendingDomain,
  startMailWorld,
} from '../support/mail-world.ts';
import { explain, factor, wellFormedPi, type Pi } from '../support/pi.ts';

const DOMAIN = 'alpha.test';
const RECIPIENT = `ursula@${DOMAIN}`;
const CRLF = '\r\n';

/** One DKIM key (RSA 2048) published for every sending domain below, each under its own selector. */
const dkim = dkimKey();

interface Sender {
  address: string;
  name: string;
  domain: string;
  selector: string;
  /** The HELO/EHLO name its outgoing server announces. */
  helo: string;
}

const GMAIL: Sender = {
  address: 'gabriel.lefebvre@gmail.com',
  name: 'Gabriel Lefebvre',
  domain: 'gmail.com',
  selector: '20230601',
  helo: 'mail-wr1-f41.google.com',
};
const ORDINARY: Sender = {
  address: 'alice.martin@mailbox.example',
  name: 'Alice Martin',
  domain: 'mailbox.example',
  selector: 'mbx2026',
  helo: 'smtp-out.mailbox.example',
};
const PGP_USER: Sender = {
  address: 'dora@pgp.example',
  name: 'Dora Keller',
  domain: 'pgp.example',
  selector: 'k1',
  helo: 'mx1.pgp.example',
};
/** No SPF, DKIM or DMARC records anywhere: a sender nobody vouches for. */
const STRANGER: Sender = {
  address: 'x7@stranger.example',
  name: 'X',
  domain: 'stranger.example',
  selector: 'none',
  helo: 'host-203-0-113-9.stranger.example',
};

/** SPF (this machine may send), DKIM key, and DMARC for a well-configured sending domain. */
const wellConfigured = (s: Sender, dmarcPolicy: string): Zone =>
  sendingDomain(s.domain, s.selector, dkim, `v=DMARC1; p=${dmarcPolicy}; rua=mailto:dmarc@${s.domain}`);

const dkimSigned = (s: Sender, message: string | Buffer) => signedBy(dkim, s, message);

/** A plain text letter as a mail client writes it. */
function letter(
  s: Sender,
  subject: string,
  body = 'Hello Ursula,\r\n\r\nthe minutes of Tuesday are below.\r\n\r\n-- \r\n',
): string {
  return [
    `From: ${s.name} <${s.address}>`,
    `To: Ursula Berg <${RECIPIENT}>`,
    `Subject: ${subject}`,
    'Date: Sun, 22 Nov 2026 10:00:00 +0000',
    `Message-ID: <${randomUUID()}@${s.domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    'User-Agent: Mozilla Thunderbird',
    '',
    `${body}${s.name}${CRLF}`,
  ].join(CRLF);
}

/** The PI, checked to be well formed: integer 0–100 and the factors' contributions adding up to the score. */
const checkedPi = (m: { pi: Pi }): Pi => wellFormedPi(m.pi);

describe('Privacy Index calibration over real SMTP deliveries', () => {
  let world: MailWorld;
  let inst: TestInstance;
  let ursula: { id: string; token: string };
  let ursulaKey: TestKey;
  let doraKey: TestKey;

  /** One SMTP session: EHLO as the sender's server, STARTTLS when asked, the message, QUIT. */
  const deliver = (s: Sender, raw: string | Buffer, o: { tls: boolean }) =>
    world.deliver({ helo: s.helo, from: s.address, to: [RECIPIENT], raw, tls: o.tls });

  /** Waits until the message with this subject is in Ursula's mailbox; resolves its detail (GET /api/v1/messages/:id). */
  const received = (subject: string) => receivedMessage(inst, ursula.token, (m) => m.subject === subject);

  async function deliverAndRead(s: Sender, raw: string | Buffer, subject: string, o: { tls: boolean }): Promise<any> {
    await deliver(s, raw, o);
    return received(subject);
  }

  beforeAll(async () => {
    world = await startMailWorld({
      domain: DOMAIN,
      zone: {
        ...wellConfigured(GMAIL, 'none'),
        ...wellConfigured(ORDINARY, 'quarantine'),
        ...wellConfigured(PGP_USER, 'reject'),
      },
    });
    inst = world.inst;
    assert.ok(inst.running.smtp, 'smtp.enabled=true starts the SMTP server');
    ursula = await inst.user('ursula');
    [ursulaKey, doraKey] = await Promise.all([
      generateTestKey(RECIPIENT),
      generateTestKey(PGP_USER.address, { name: PGP_USER.name }),
    ]);

    // Ursula knows Dora: a contact she made, holding Dora's public key (added as a user would: pasted armour).
    const dora = ok(
      await inst.api('POST', '/api/v1/contacts', {
        token: ursula.token,
        body: { displayName: PGP_USER.name, identities: [{ address: PGP_USER.address }] },
      }),
      201,
    );
    ok(
      await inst.api('POST', `/api/v1/contacts/${dora.id}/keys`, {
        token: ursula.token,
        body: { armored: doraKey.armoredPublic },
      }),
      201,
    );
  });

  afterAll(async () => {
    await world?.stop();
  });

  test('a Gmail user, over TLS with a verified gmail.com DKIM signature: near zero (≤ 10), capped as a data-exploiting provider', async () => {
    const subject = 'Lunch on Friday?';
    const m = await deliverAndRead(GMAIL, await dkimSigned(GMAIL, letter(GMAIL, subject)), subject, { tls: true });
    assert.equal(m.facts.transport.tls?.version, 'TLSv1.3');
    assert.equal(m.facts.transport.helo, GMAIL.helo);
    assert.deepEqual(
      m.facts.authentication.dkim.map((d: any) => [d.result, d.domain, d.aligned]),
      [['pass', 'gmail.com', true]],
      'the gmail.com signature verified against the key in (our) DNS',
    );
    const pi = checkedPi(m);
    assert.ok(pi.score <= 10, explain(pi));
    const cap = factor(pi, 'cap.data_exploiting_provider');
    assert.ok(cap && cap.contribution < 0, `the provider cap takes points away: ${explain(pi)}`);
    assert.match(cap.evidence, /Google/);
    assert.ok(factor(pi, 'transport.tls')!.contribution > 0, 'TLS still counts, under the cap');
  });

  test('a Gmail user, whatever the transport: plaintext stays near zero too', async () => {
    const subject = 'Sent from my phone';
    const m = await deliverAndRead(GMAIL, await dkimSigned(GMAIL, letter(GMAIL, subject)), subject, { tls: false });
    assert.equal(m.facts.transport.tls, null);
    const pi = checkedPi(m);
    assert.ok(pi.score <= 10, explain(pi));
  });

  test('an ordinary provider over TLS with verified, aligned DKIM, SPF and DMARC: low (≤ 30), above the same mail in plaintext', async () => {
    const overTls = 'Minutes of Tuesday';
    const inPlain = 'Minutes of Tuesday (plaintext)';
    const tls = await deliverAndRead(ORDINARY, await dkimSigned(ORDINARY, letter(ORDINARY, overTls)), overTls, {
      tls: true,
    });
    const plain = await deliverAndRead(ORDINARY, await dkimSigned(ORDINARY, letter(ORDINARY, inPlain)), inPlain, {
      tls: false,
    });

    for (const m of [tls, plain]) {
      assert.deepEqual(m.facts.authentication, {
        spf: { result: 'pass', domain: ORDINARY.domain },
        dkim: [{ result: 'pass', domain: ORDINARY.domain, selector: ORDINARY.selector, aligned: true }],
        dmarc: { result: 'pass', domain: ORDINARY.domain, policy: 'quarantine' },
      });
    }
    const piTls = checkedPi(tls);
    const piPlain = checkedPi(plain);
    assert.ok(piTls.score <= 30, explain(piTls));
    assert.ok(piTls.score > piPlain.score, `TLS ${explain(piTls)} vs plaintext ${explain(piPlain)}`);
    assert.ok(factor(piTls, 'transport.tls')!.contribution > 0, explain(piTls));
    assert.ok(factor(piTls, 'auth.dkim')!.contribution > 0, explain(piTls));
    assert.ok(factor(piTls, 'auth.spf')!.contribution > 0, explain(piTls));
    assert.ok(factor(piTls, 'auth.dmarc')!.contribution > 0, explain(piTls));
    assert.equal(factor(piTls, 'cap.data_exploiting_provider'), undefined);
    assert.ok(piPlain.score <= 5, `a postcard, however well authenticated: ${explain(piPlain)}`);
    assert.ok(factor(piPlain, 'cap.plaintext'), explain(piPlain));
  });

  test('PGP/MIME encrypted (and signed inside) from a well-configured host, sender key known: ≥ 20 with the e2e factor', async () => {
    const subject = 'The contract, encrypted';
    const raw = await pgpMimeEncrypted({
      from: `${PGP_USER.name} <${PGP_USER.address}>`,
      to: `Ursula Berg <${RECIPIENT}>`,
      subject,
      recipients: [ursulaKey],
      signer: doraKey,
    });
    const m = await deliverAndRead(PGP_USER, await dkimSigned(PGP_USER, raw), subject, { tls: true });
    assert.equal(m.facts.openpgp.kind, 'pgp-mime-encrypted');
    assert.equal(m.facts.openpgp.encrypted, true);
    assert.equal(
      m.facts.openpgp.signature,
      'unverifiable',
      'a signature inside the encryption cannot be checked by the host',
    );
    assert.equal(m.facts.authentication.dmarc.result, 'pass');
    const pi = checkedPi(m);
    assert.ok(pi.score >= 20, explain(pi));
    assert.ok(factor(pi, 'e2e.openpgp')!.contribution > 0, explain(pi));
    assert.ok(factor(pi, 'origin.signature_unverifiable'), explain(pi));
    assert.ok(factor(pi, 'contact.known')!.contribution > 0, 'Dora is a contact Ursula made');
  });

  test('PGP/MIME signed with a valid signature by the known key of the sender, from a well-configured host: ≥ 20, above the unsigned letter', async () => {
    const signedSubject = 'Signed agenda';
    const plainSubject = 'Unsigned agenda';
    const from = `${PGP_USER.name} <${PGP_USER.address}>`;
    const signedRaw = await pgpMimeSigned({
      from,
      to: `Ursula Berg <${RECIPIENT}>`,
      subject: signedSubject,
      signer: doraKey,
    });
    const signed = await deliverAndRead(PGP_USER, await dkimSigned(PGP_USER, signedRaw), signedSubject, { tls: true });
    const unsigned = await deliverAndRead(
      PGP_USER,
      await dkimSigned(PGP_USER, letter(PGP_USER, plainSubject)),
      plainSubject,
      { tls: true },
    );

    assert.equal(signed.facts.openpgp.kind, 'pgp-mime-signed');
    assert.equal(signed.facts.openpgp.signature, 'valid', signed.facts.openpgp.problem ?? '');
    assert.equal(signed.facts.openpgp.signerFingerprint, doraKey.fingerprint);
    assert.equal(signed.facts.openpgp.signerKeyTrust, 'attached', 'added by the user, fingerprint not compared');
    const pi = checkedPi(signed);
    const base = checkedPi(unsigned);
    assert.ok(pi.score >= 20, explain(pi));
    assert.ok(factor(pi, 'origin.signature')!.contribution > 0, explain(pi));
    assert.ok(factor(pi, 'origin.key_trust')!.contribution > 0, explain(pi));
    assert.ok(pi.score > base.score, `signed ${explain(pi)} vs unsigned ${explain(base)}`);
    assert.ok(
      pi.suggestions.some((s) => s.action === 'contact.verify_key' && s.gain >= 1),
      `comparing the fingerprint is suggested: ${JSON.stringify(pi.suggestions)}`,
    );
  });

  test('a tampered PGP/MIME signature (one byte of the signed part flipped), sender key known: reported invalid, never above unsigned', async () => {
    const tamperedSubject = 'Bank details (signed)';
    const plainSubject = 'Bank details (unsigned)';
    const from = `${PGP_USER.name} <${PGP_USER.address}>`;
    const content = signedPartContent(
      'Hello Ursula,\r\nmy new account is FR76 3000 6000 0112 3456 7890 189.\r\nthis message is signed.\r\n',
    );
    // The byte is flipped after the OpenPGP signature and before DKIM: the host's checks pass, the author's does not.
    const tamperedRaw = await pgpMimeSigned({
      from,
      to: `Ursula Berg <${RECIPIENT}>`,
      subject: tamperedSubject,
      signer: doraKey,
      content,
      tamper: true,
    });
    const tampered = await deliverAndRead(PGP_USER, await dkimSigned(PGP_USER, tamperedRaw), tamperedSubject, {
      tls: true,
    });
    const unsigned = await deliverAndRead(
      PGP_USER,
      await dkimSigned(PGP_USER, letter(PGP_USER, plainSubject)),
      plainSubject,
      { tls: true },
    );

    assert.equal(tampered.facts.openpgp.signature, 'invalid');
    assert.match(tampered.facts.openpgp.problem ?? '', /does not match|does not verify/);
    assert.equal(
      tampered.facts.authentication.dkim[0].result,
      'pass',
      'DKIM covers the tampered bytes: only OpenPGP sees the change',
    );
    const pi = checkedPi(tampered);
    const base = checkedPi(unsigned);
    const invalid = factor(pi, 'origin.signature_invalid');
    assert.ok(invalid, explain(pi));
    assert.equal(invalid.contribution, 0);
    assert.equal(factor(pi, 'origin.signature'), undefined);
    assert.ok(pi.score <= base.score, `tampered ${explain(pi)} vs unsigned ${explain(base)}`);
  });

  test('plaintext SMTP from an unknown sender (no SPF, DKIM or DMARC): a postcard, ≤ 5', async () => {
    const subject = 'Business proposal';
    const m = await deliverAndRead(STRANGER, letter(STRANGER, subject), subject, { tls: false });
    assert.equal(m.facts.transport.tls, null);
    assert.equal(m.facts.authentication.spf.result, 'none');
    assert.deepEqual(m.facts.authentication.dkim, []);
    const pi = checkedPi(m);
    assert.ok(pi.score <= 5, explain(pi));
    assert.equal(factor(pi, 'transport.plaintext')?.contribution, 0, explain(pi));
    assert.equal(factor(pi, 'auth.dkim')?.contribution, 0);
  });

  test('a present-but-invalid DKIM signature (body changed after signing) earns nothing: same score as no signature at all', async () => {
    const badSubject = 'Invoice 2026-118';
    const noneSubject = 'Invoice 2026-118 (no DKIM)';
    const tamper = (raw: string) =>
      raw.replace('the minutes of Tuesday are below.', 'please pay invoice 2026-118 to the new IBAN below.');
    const badRaw = tamper(await dkimSigned(ORDINARY, letter(ORDINARY, badSubject)));
    assert.match(badRaw, /^DKIM-Signature: /);
    const noneRaw = tamper(letter(ORDINARY, noneSubject));
    const bad = await deliverAndRead(ORDINARY, badRaw, badSubject, { tls: true });
    const none = await deliverAndRead(ORDINARY, noneRaw, noneSubject, { tls: true });

    assert.deepEqual(
      bad.facts.authentication.dkim.map((d: any) => [d.result, d.domain]),
      [['fail', ORDINARY.domain]],
    );
    assert.deepEqual(none.facts.authentication.dkim, []);
    const piBad = checkedPi(bad);
    const piNone = checkedPi(none);
    assert.equal(factor(piBad, 'auth.dkim')?.contribution, 0, explain(piBad));
    assert.match(factor(piBad, 'auth.dkim')!.evidence, /does not verify/);
    assert.equal(piBad.score, piNone.score, `invalid DKIM ${explain(piBad)} vs none ${explain(piNone)}`);
    assert.deepEqual(
      piBad.factors.map((f) => [f.id, f.contribution]),
      piNone.factors.map((f) => [f.id, f.contribution]),
      'factor by factor',
    );
  });

  test('hostile facts never raise a PI: forged Authentication-Results and Received headers claiming TLS and DKIM pass change nothing', async () => {
    const subject = 'Totally legit';
    const forged = [
      `Authentication-Results: ${DOMAIN}; dkim=pass header.d=mailbox.example; spf=pass smtp.mailfrom=mailbox.example; dmarc=pass`,
      `Received: from smtp-out.mailbox.example by mx.${DOMAIN} with ESMTPS (version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384); Sun, 22 Nov 2026 09:59:00 +0000`,
      letter(STRANGER, subject),
    ].join(CRLF);
    const m = await deliverAndRead(STRANGER, forged, subject, { tls: false });
    const pi = checkedPi(m);
    assert.equal(m.facts.transport.tls, null, 'only the TLS we negotiated counts');
    assert.deepEqual(m.facts.authentication.dkim, [], 'a claimed DKIM pass is not a verified signature');
    assert.ok(pi.score <= 5, explain(pi));
    assert.equal(factor(pi, 'auth.dkim')?.contribution, 0);
    assert.equal(factor(pi, 'auth.dmarc')?.contribution, 0);
  });
});
