import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'vitest';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { tempDir } from '../../../tests/support/tmp.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { createInstanceIdentity, dnsRecords, loadInstanceIdentity } from './instance-identity.ts';
import {
  DKIM_SELECTOR,
  DKIM_SIGNED_HEADERS,
  dkimTxtStrings,
  dkimTxtValue,
  generateDkimKeyPair,
  signWithDkim,
} from './dkim-key.ts';

const MESSAGE = Buffer.from(
  'From: a@alpha.test\r\nTo: b@remote.test\r\nSubject: s\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@alpha.test>\r\n\r\nbody\r\n',
);

test('a new identity has an RSA-2048 DKIM key, sealed at rest, published as <selector>._domainkey TXT strings', async () => {
  const tmp = tempDir('caliopen-dkim-');
  try {
    const box = new SecretBox(randomBytes(32));
    const identity = await createInstanceIdentity(tmp.dir, 'alpha.test', box);
    assert.equal(identity.dkim.selector, 'caliopen1');
    assert.equal(identity.dkim.domain, 'alpha.test');
    const stored = readFileSync(join(tmp.dir, 'keys', 'identity.json'), 'utf8');
    assert.ok(!stored.includes('PRIVATE KEY'), 'the private key is sealed');
    assert.match(stored, /"privateSealed": "v1\./);

    const record = dnsRecords(identity).find((r) => r.name === 'caliopen1._domainkey.alpha.test.')!;
    assert.equal(record.type, 'TXT');
    const strings = [...record.value.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    assert.ok(
      strings.every((s) => s.length <= 255),
      'each TXT string fits in 255 octets',
    );
    assert.equal(strings.join(''), dkimTxtValue(identity.dkim.publicKeyPem));
    assert.match(strings.join(''), /^v=DKIM1; k=rsa; p=MIIBIjANBg/, 'a 2048-bit RSA SPKI');
    assert.deepEqual(strings, dkimTxtStrings(identity.dkim.publicKeyPem));

    const signed = await signWithDkim(MESSAGE, identity.dkim, new Date());
    const verdict = await dkimVerify(signed, { resolver: (async () => [strings]) as never });
    assert.equal(verdict.results[0]!.status.result, 'pass');
  } finally {
    tmp.cleanup();
  }
});

test('an identity created before DKIM gets a key on its next load (once), never under a wrong master key', async () => {
  const tmp = tempDir('caliopen-dkim-');
  try {
    const box = new SecretBox(randomBytes(32));
    await createInstanceIdentity(tmp.dir, 'alpha.test', box);
    const path = join(tmp.dir, 'keys', 'identity.json');
    const old = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    delete old.dkim;
    writeFileSync(path, JSON.stringify(old));

    await assert.rejects(
      loadInstanceIdentity(tmp.dir, new SecretBox(randomBytes(32))),
      /do not open with this master key/,
    );
    assert.equal(
      (JSON.parse(readFileSync(path, 'utf8')) as { dkim?: unknown }).dkim,
      undefined,
      'nothing written under the wrong key',
    );

    const first = await loadInstanceIdentity(tmp.dir, box);
    assert.ok(first.dkim.privateKeyPem.includes('PRIVATE KEY'));
    const second = await loadInstanceIdentity(tmp.dir, box);
    assert.equal(second.dkim.publicKeyPem, first.dkim.publicKeyPem, 'the same key from then on');
    const signed = await signWithDkim(MESSAGE, second.dkim, new Date());
    const verdict = await dkimVerify(signed, {
      resolver: (async () => [dkimTxtStrings(first.dkim.publicKeyPem)]) as never,
    });
    assert.equal(verdict.results[0]!.status.result, 'pass');
  } finally {
    tmp.cleanup();
  }
});

test('the signature covers an Autocrypt header: a key swapped on the way breaks it; Bcc stays out', async () => {
  const tmp = tempDir('caliopen-dkim-');
  try {
    const identity = await createInstanceIdentity(tmp.dir, 'alpha.test', new SecretBox(randomBytes(32)));
    const strings = dkimTxtStrings(identity.dkim.publicKeyPem);
    const resolver = (async () => [strings]) as never;
    const withAutocrypt = Buffer.from(
      MESSAGE.toString('latin1').replace(
        '\r\n\r\n',
        '\r\nBcc: hidden@remote.test\r\nAutocrypt: addr=a@alpha.test; keydata=AAAA\r\n\r\n',
      ),
      'latin1',
    );
    const signed = await signWithDkim(withAutocrypt, identity.dkim, new Date());
    const header = /^DKIM-Signature:[\s\S]*?\r\n(?=\S)/i.exec(signed.toString('latin1'))![0];
    const signedHeaders = /\bh=([^;]+)/.exec(header.replace(/\s+/g, ''))![1]!.toLowerCase().split(':');
    assert.ok(signedHeaders.includes('autocrypt'), `h= lists autocrypt: ${signedHeaders.join(':')}`);
    assert.ok(!signedHeaders.includes('bcc'), 'Bcc is not signed');
    assert.equal((await dkimVerify(signed, { resolver })).results[0]!.status.result, 'pass');
    const swapped = Buffer.from(signed.toString('latin1').replace('keydata=AAAA', 'keydata=BBBB'), 'latin1');
    assert.equal((await dkimVerify(swapped, { resolver })).results[0]!.status.result, 'fail');
    const withoutBcc = Buffer.from(signed.toString('latin1').replace('Bcc: hidden@remote.test\r\n', ''), 'latin1');
    assert.equal((await dkimVerify(withoutBcc, { resolver })).results[0]!.status.result, 'pass');
  } finally {
    tmp.cleanup();
  }
});

test("the signature is byte for byte mailauth's dkimSign (the key parsed once, not per message), for varied messages and keys", async () => {
  const keys = [generateDkimKeyPair(), generateDkimKeyPair()].map((k, i) => ({
    domain: i === 0 ? 'alpha.test' : 'beta.test',
    selector: DKIM_SELECTOR,
    ...k,
  }));
  const folded =
    'From: "A, B" <a@alpha.test>\r\nTo: b@remote.test,\r\n  c@remote.test\r\nCc: d@remote.test\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n   folded  subject\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\nMessage-ID: <2@alpha.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nBcc: hidden@remote.test\r\nX-Other: not signed\r\n\r\nl\u00e9ger   \r\n\r\nspaces\t\tand tabs  \r\n\r\n\r\n';
  const messages = [
    MESSAGE,
    Buffer.from(folded, 'utf8'),
    Buffer.from('From: a@alpha.test\nSubject: bare LF\n\nbody without CRLF'),
    Buffer.from(`From: a@alpha.test\r\nSubject: big\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(3000)),
    Buffer.from('From: a@alpha.test\r\nSubject: no body\r\n\r\n'),
  ];
  const at = new Date('2026-01-02T03:04:05Z');
  for (const key of [keys[0]!, keys[1]!, keys[0]!]) {
    for (const [i, raw] of messages.entries()) {
      const ours = await signWithDkim(raw, key, at);
      const theirs = await dkimSign(raw, {
        canonicalization: 'relaxed/relaxed',
        algorithm: 'rsa-sha256',
        signTime: at,
        headerList: DKIM_SIGNED_HEADERS,
        signatureData: [
          {
            signingDomain: key.domain,
            selector: key.selector,
            privateKey: key.privateKeyPem,
            canonicalization: 'relaxed/relaxed',
            algorithm: 'rsa-sha256',
          },
        ],
      } as never);
      assert.deepEqual(theirs.errors, []);
      assert.equal(ours.toString('latin1'), theirs.signatures + raw.toString('latin1'), `message ${i}, ${key.domain}`);
      const verdict = await dkimVerify(ours, {
        resolver: (async () => [dkimTxtStrings(key.publicKeyPem)]) as never,
      });
      assert.equal(verdict.results[0]!.status.result, 'pass', `message ${i} verifies`);
    }
  }
  // Not an RSA key: refused with a clear error, nothing signed.
  const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  await assert.rejects(signWithDkim(MESSAGE, { ...keys[0]!, privateKeyPem: ed }, at), /DKIM signing failed/);
  await assert.rejects(
    signWithDkim(MESSAGE, { ...keys[0]!, privateKeyPem: 'not a key' }, at),
    (e: Error) => /^DKIM signing failed: /.test(e.message) && !e.message.includes('not a key'),
  );
});
