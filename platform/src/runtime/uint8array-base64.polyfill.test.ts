import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CompactSign, compactVerify, generateKeyPair } from 'jose';
import { describe, test } from 'vitest';
import { fromBase64, installUint8ArrayBase64, toBase64 } from './uint8array-base64.polyfill.ts';

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('Uint8Array base64 polyfill (TC39 Uint8Array to/from base64)', () => {
  test('RFC 4648 §10 vectors, both ways, padded and not', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of vectors) {
      assert.equal(toBase64.call(bytes(plain)), encoded);
      assert.equal(toBase64.call(bytes(plain), { omitPadding: true }), encoded.replace(/=/g, ''));
      assert.equal(toBase64.call(bytes(plain), { alphabet: 'base64url' }), encoded);
      assert.equal(text(fromBase64(encoded)), plain);
      assert.equal(text(fromBase64(encoded.replace(/=/g, ''))), plain, 'padding is optional when loose');
    }
  });

  test('agrees with Buffer on random bytes, for both alphabets, and on views into a larger buffer', () => {
    for (let n = 0; n < 300; n++) {
      const whole = randomBytes(n + 7);
      const view = new Uint8Array(whole.buffer, whole.byteOffset + 3, n);
      const b64 = Buffer.from(view).toString('base64');
      const url = Buffer.from(view).toString('base64url');
      assert.equal(toBase64.call(view), b64);
      assert.equal(toBase64.call(view, { alphabet: 'base64url', omitPadding: true }), url);
      assert.deepEqual(fromBase64(b64), new Uint8Array(view));
      assert.deepEqual(fromBase64(url, { alphabet: 'base64url' }), new Uint8Array(view));
    }
  });

  test('a decoded array owns its memory (never a view into Node’s shared pool)', () => {
    const out = fromBase64('Zm9vYmFy');
    assert.equal(out.byteOffset, 0);
    assert.equal(out.buffer.byteLength, 6);
    assert.ok(!Buffer.isBuffer(out));
  });

  test('hostile input: characters of the other alphabet, stray padding, a lone last character are SyntaxErrors', () => {
    for (const [input, alphabet] of [
      ['Zm9v-A', 'base64'],
      ['Zm9v+A', 'base64url'],
      ['Zm9v/A', 'base64url'],
      ['Zm9vY', 'base64'],
      ['Zg=', 'base64'],
      ['Zg===', 'base64'],
      ['Z===', 'base64'],
      ['=Zm9v', 'base64'],
      ['Zm=9v', 'base64'],
      ['Zm9v\u00e9', 'base64'],
      ['Zm9v.', 'base64url'],
      ['Zm9v\u0000', 'base64'],
    ] as const) {
      assert.throws(() => fromBase64(input, { alphabet }), SyntaxError, JSON.stringify(input));
    }
    assert.throws(() => fromBase64(42 as unknown as string), TypeError);
    assert.throws(() => fromBase64('Zg==', { alphabet: 'hex' as 'base64' }), TypeError);
    assert.throws(() => toBase64.call(new Uint8Array(1), { alphabet: 'hex' as 'base64' }), TypeError);
    assert.throws(() => toBase64.call([1, 2] as unknown as Uint8Array), TypeError);
  });

  test('ASCII whitespace is skipped; lastChunkHandling strict and stop-before-partial', () => {
    assert.equal(text(fromBase64(' Zm9v\r\nYmFy\t')), 'foobar');
    assert.throws(() => fromBase64('Zm9vYg', { lastChunkHandling: 'strict' }), SyntaxError);
    assert.throws(() => fromBase64('Zm9vYh==', { lastChunkHandling: 'strict' }), SyntaxError, 'non-zero extra bits');
    assert.equal(text(fromBase64('Zm9vYg==', { lastChunkHandling: 'strict' })), 'foob');
    assert.equal(text(fromBase64('Zm9vYg', { lastChunkHandling: 'stop-before-partial' })), 'foo');
    assert.equal(text(fromBase64('Zm9vYh==')), 'foob', 'loose ignores the extra bits');
  });

  test('installed, jose signs and verifies through it, and refuses a token with a character outside base64url', async () => {
    installUint8ArrayBase64();
    assert.equal(typeof (Uint8Array.prototype as { toBase64?: unknown }).toBase64, 'function');
    assert.equal(Object.keys(Uint8Array.prototype).includes('toBase64'), false, 'not enumerable');
    assert.equal(installUint8ArrayBase64(), false, 'installed once');
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const payload = randomBytes(15_000);
    const jws = await new CompactSign(payload).setProtectedHeader({ alg: 'EdDSA' }).sign(privateKey);
    const verified = await compactVerify(jws, publicKey);
    assert.deepEqual(Buffer.from(verified.payload), payload);
    const [h, p, s] = jws.split('.');
    await assert.rejects(compactVerify(`${h}.${p!.slice(0, 10)}+${p!.slice(11)}.${s}`, publicKey));
    await assert.rejects(compactVerify(`${h}.${p}.${s!.slice(0, -2)}A`, publicKey));
  });
});
