import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'vitest';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { tempDir } from '../../../tests/support/tmp.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { createInstanceIdentity, dnsRecords, loadInstanceIdentity } from './instance-identity.ts';
import { dkimTxtStrings, dkimTxtValue, signWithDkim } from './dkim-key.ts';

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
