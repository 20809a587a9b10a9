import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'vitest';
import { dkimSign } from 'mailauth';
import { dkimResultOf, verifyAuthentication, type DnsResolver } from './smtp-inbound.authentication.ts';

// The remote domains' DNS: the one part of the internet these checks need, played by a function.
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicKeyB64 = (k: typeof rsa) => k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const privateKeyPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const records: Record<string, string[][]> = {
  'sel._domainkey.sender.example TXT': [[`v=DKIM1; k=rsa; p=${publicKeyB64(rsa)}`]],
  'rotated._domainkey.sender.example TXT': [[`v=DKIM1; k=rsa; p=${publicKeyB64(otherRsa)}`]],
  'sender.example TXT': [['v=spf1 ip4:192.0.2.10 -all']],
  '_dmarc.sender.example TXT': [['v=DMARC1; p=reject; adkim=s; aspf=s']],
  'thirdparty.example TXT': [['v=spf1 -all']],
};
const resolver: DnsResolver = async (name, type) => {
  const r = records[`${name.toLowerCase()} ${type}`];
  if (r) return r;
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};

const body = 'Hello Bob,\r\n\r\nthe minutes are attached.\r\n';
const message = (from = 'Alice <alice@sender.example>') =>
  `From: ${from}\r\nTo: bob@alpha.test\r\nSubject: minutes\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@sender.example>\r\n\r\n${body}`;

async function sign(
  msg: string,
  options: { selector?: string; domain?: string; bodyLength?: boolean } = {},
): Promise<string> {
  const signed = await dkimSign(msg, {
    canonicalization: 'relaxed/relaxed',
    // An explicit sign time: without one, mailauth computes t= twice and a signature made across a half-second
    // boundary does not verify (about 1 in 300).
    signTime: new Date(),
    signatureData: [
      {
        signingDomain: options.domain ?? 'sender.example',
        selector: options.selector ?? 'sel',
        privateKey: privateKeyPem,
        ...(options.bodyLength ? { maxBodyLength: 20 } : {}),
      },
    ],
  } as Parameters<typeof dkimSign>[1]);
  assert.deepEqual(signed.errors, []);
  return signed.signatures + msg;
}

const input = {
  ip: '192.0.2.10',
  helo: 'mail.sender.example',
  sender: 'alice@sender.example',
  mta: 'alpha.test',
  resolver,
};

describe('verifyAuthentication (mailauth, injected resolver)', () => {
  it('a real DKIM signature verifies: dkim pass, aligned; SPF pass for the listed address; DMARC pass', async () => {
    const facts = await verifyAuthentication(Buffer.from(await sign(message())), input);
    assert.deepEqual(facts.dkim, [{ result: 'pass', domain: 'sender.example', selector: 'sel', aligned: true }]);
    assert.deepEqual(facts.spf, { result: 'pass', domain: 'sender.example' });
    assert.deepEqual(facts.dmarc, { result: 'pass', domain: 'sender.example', policy: 'reject' });
  });

  it('a signature over a changed body fails (never pass), and so does one over a changed header', async () => {
    const signed = await sign(message());
    const bodyTampered = await verifyAuthentication(
      Buffer.from(signed.replace('minutes are attached', 'minutes are ATTACHED')),
      input,
    );
    assert.deepEqual(
      bodyTampered.dkim.map((d) => d.result),
      ['fail'],
    );
    const headerTampered = await verifyAuthentication(
      Buffer.from(signed.replace('Subject: minutes', 'Subject: wire the money')),
      input,
    );
    assert.deepEqual(
      headerTampered.dkim.map((d) => d.result),
      ['fail'],
    );
  });

  it('a signature made with another key than the published one fails; one whose key is not published is a permerror', async () => {
    const wrongKey = await verifyAuthentication(Buffer.from(await sign(message(), { selector: 'rotated' })), input);
    assert.deepEqual(
      wrongKey.dkim.map((d) => d.result),
      ['fail'],
    );
    const noKey = await verifyAuthentication(Buffer.from(await sign(message(), { selector: 'gone' })), input);
    assert.deepEqual(noKey.dkim, [{ result: 'permerror', domain: 'sender.example', selector: 'gone', aligned: true }]);
  });

  it('DMARC fails when neither SPF nor DKIM align; SPF fails for an address the domain does not list', async () => {
    const facts = await verifyAuthentication(Buffer.from(message()), { ...input, ip: '203.0.113.66' });
    assert.deepEqual(facts.dkim, [], 'an unsigned message has no DKIM entry at all');
    assert.equal(facts.spf.result, 'fail');
    assert.deepEqual(facts.dmarc, { result: 'fail', domain: 'sender.example', policy: 'reject' });
  });

  it('a signature by a third party verifies but is not aligned with From', async () => {
    const facts = await verifyAuthentication(Buffer.from(await sign(message('Carol <carol@thirdparty.example>'))), {
      ...input,
      sender: 'carol@thirdparty.example',
    });
    assert.deepEqual(facts.dkim, [{ result: 'pass', domain: 'sender.example', selector: 'sel', aligned: false }]);
    assert.equal(facts.spf.result, 'fail');
    assert.equal(facts.dmarc.result, 'none', 'thirdparty.example publishes no DMARC policy');
  });

  it('a signature over only part of the body (l=) is not a pass: what follows could have been added by anyone', async () => {
    const signed = await sign(message(), { bodyLength: true });
    const facts = await verifyAuthentication(Buffer.from(`${signed}P.S. appended by someone else\r\n`), input);
    assert.deepEqual(
      facts.dkim.map((d) => d.result),
      ['policy'],
    );
  });

  it('does not trust Authentication-Results or Received headers the message brings', async () => {
    const forged = `Authentication-Results: alpha.test; dkim=pass header.d=sender.example; spf=pass; dmarc=pass\r\nReceived: from mail.sender.example ([192.0.2.10]) by mx.sender.example with ESMTPS; now\r\n${message()}`;
    const facts = await verifyAuthentication(Buffer.from(forged), { ...input, ip: '203.0.113.66' });
    assert.deepEqual([facts.spf.result, facts.dkim.length, facts.dmarc.result], ['fail', 0, 'fail']);
  });

  it('gives a result for hostile input instead of throwing', async () => {
    const garbage = Buffer.concat([
      Buffer.from('DKIM-Signature: v=1; a=rsa-sha256; d=; s=\r\nFrom: \xff\xfe\r\n\r\n', 'latin1'),
      Buffer.alloc(1000, 0),
    ]);
    const facts = await verifyAuthentication(garbage, { ...input, sender: '' });
    assert.ok(facts.dkim.every((d) => d.result !== 'pass'));
    assert.notEqual(facts.spf.result, 'pass');
  });

  it('maps mailauth statuses strictly', () => {
    const row = (result: string, comment?: string, extra: object = {}) => ({
      signingDomain: 'd.example',
      status: { result, ...(comment ? { comment } : {}), ...extra },
    });
    assert.equal(dkimResultOf(row('pass')), 'pass');
    assert.equal(dkimResultOf(row('pass', undefined, { underSized: 12 })), 'policy');
    assert.equal(dkimResultOf(row('neutral', 'body hash did not verify')), 'fail');
    assert.equal(dkimResultOf(row('neutral', 'no key')), 'permerror');
    assert.equal(dkimResultOf(row('neutral', 'expired')), 'neutral');
    assert.equal(dkimResultOf(row('temperr')), 'temperror');
    assert.equal(dkimResultOf(row('something-new')), 'neutral');
  });
});
