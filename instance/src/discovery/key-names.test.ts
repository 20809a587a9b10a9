import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'vitest';
import fc from 'fast-check';
import {
  normaliseDomain,
  openPgpKeyHash,
  openPgpKeyName,
  parseMailAddress,
  wkdHash,
  wkdLocalPart,
  zBase32,
} from './key-names.ts';

test('RFC 7929 §3 example: hugh@example.com', () => {
  assert.equal(
    openPgpKeyName('hugh', 'example.com'),
    'c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._openpgpkey.example.com',
  );
  assert.equal(openPgpKeyHash('hugh').length, 56, '28 octets, hex');
  // No case folding: the hash is of the local part as written.
  assert.notEqual(openPgpKeyHash('Hugh'), openPgpKeyHash('hugh'));
  // UTF-8 local parts are hashed as UTF-8.
  assert.equal(
    openPgpKeyHash('josé'),
    createHash('sha256').update(Buffer.from('josé', 'utf8')).digest('hex').slice(0, 56),
  );
});

test('WKD example of the draft: Joe.Doe@Example.ORG', () => {
  const parsed = parseMailAddress('Joe.Doe@Example.ORG');
  assert.deepEqual(parsed, { localPart: 'Joe.Doe', domain: 'example.org' });
  assert.equal(wkdHash(parsed!.localPart), 'iy9q119eutrkn8s1mk4r39qejnbu3n5q');
  assert.equal(wkdHash('joe.doe'), 'iy9q119eutrkn8s1mk4r39qejnbu3n5q');
  // Only ASCII capitals are folded.
  assert.equal(wkdLocalPart('ÉLodie.X'), 'Élodie.x');
});

test('z-base-32: known values and laws', () => {
  assert.equal(zBase32(new Uint8Array()), '');
  assert.equal(zBase32(Uint8Array.from([0])), 'yy');
  assert.equal(zBase32(Uint8Array.from([0xff])), '9h');
  assert.equal(zBase32(Uint8Array.from([0xf0, 0xbf, 0xc7])), '6n9hq');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const out = zBase32(bytes);
      assert.equal(out.length, Math.ceil((bytes.length * 8) / 5));
      assert.match(out, /^[ybndrfg8ejkmcpqxot1uwisza345h769]*$/);
    }),
  );
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 5, maxLength: 5 }),
      fc.uint8Array({ minLength: 5, maxLength: 5 }),
      (a, b) => {
        // Injective on whole 40-bit groups.
        if (Buffer.compare(a, b) !== 0) assert.notEqual(zBase32(a), zBase32(b));
      },
    ),
  );
});

test('addresses: what is not one is refused, quoted local parts lose their quotes', () => {
  for (const bad of [
    '',
    '@',
    'a@',
    '@b.c',
    'nodomain',
    'a@b',
    'a@-b.c',
    'a@b..c',
    'a b@c.d',
    'a\n@c.d',
    `${'x'.repeat(65)}@c.d`,
    `a@${'d'.repeat(64)}.org`,
    'a@b.c.',
    'a@exa mple.org',
  ]) {
    const parsed = parseMailAddress(bad);
    if (bad === 'a@b.c.') assert.deepEqual(parsed, { localPart: 'a', domain: 'b.c' }, 'a trailing dot is the root');
    else assert.equal(parsed, null, JSON.stringify(bad));
  }
  assert.deepEqual(parseMailAddress('"john doe"@Example.org'), { localPart: 'john doe', domain: 'example.org' });
  assert.equal(parseMailAddress('a@b@c.org'), null, 'an unquoted local part has no @');
  assert.deepEqual(parseMailAddress('"a@b"@c.org'), { localPart: 'a@b', domain: 'c.org' });
  assert.equal(normaliseDomain('Alpha.Test.'), 'alpha.test');
  assert.equal(normaliseDomain('localhost'), null, 'single-label names are not mail domains');
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (s) => {
      const parsed = parseMailAddress(s);
      if (parsed) {
        assert.ok(Buffer.byteLength(parsed.localPart) <= 64);
        assert.equal(normaliseDomain(parsed.domain), parsed.domain);
      }
    }),
  );
});
