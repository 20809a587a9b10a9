import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'vitest';
import { SecretBox } from './secret-box.cipher.ts';

test('seal/open round trip; the sealed text does not contain the secret', () => {
  const box = new SecretBox(randomBytes(32));
  const sealed = box.seal('JBSWY3DPEHPK3PXP', 'totp:a1');
  assert.ok(!sealed.includes('JBSWY3DPEHPK3PXP'));
  assert.equal(box.open(sealed, 'totp:a1'), 'JBSWY3DPEHPK3PXP');
  assert.notEqual(box.seal('x', 'p'), box.seal('x', 'p'), 'a fresh IV each time');
});

test('a value sealed for another purpose, under another key, or tampered with does not open', () => {
  const box = new SecretBox(randomBytes(32));
  const sealed = box.seal('secret', 'totp:a1');
  assert.throws(() => box.open(sealed, 'totp:a2'));
  assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'totp:a1'));
  const parts = sealed.split('.');
  const body = Buffer.from(parts[2]!, 'base64url');
  body[0] = body[0]! ^ 1;
  assert.throws(() => box.open(`${parts[0]}.${parts[1]}.${body.toString('base64url')}`, 'totp:a1'));
  assert.throws(() => box.open('garbage', 'totp:a1'), /not a sealed value/);
  assert.throws(() => new SecretBox(randomBytes(16)), /32 bytes/);
});
