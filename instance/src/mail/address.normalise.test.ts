import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import fc from 'fast-check';
import {
  cleanDisplayName,
  cleanText,
  normaliseDomain,
  normaliseEmailAddress,
  normaliseIdentityAddress,
} from './address.normalise.ts';

describe('email address normalisation', () => {
  test('lowercases the whole address, converts IDN domains to ASCII, strips brackets and mailto:', () => {
    assert.equal(normaliseEmailAddress('Alice@X.Example'), 'alice@x.example');
    assert.equal(normaliseEmailAddress('  <ALICE.Smith+News@Mail.Example.ORG>  '), 'alice.smith+news@mail.example.org');
    assert.equal(normaliseEmailAddress('mailto:bob@b.example'), 'bob@b.example');
    assert.equal(normaliseEmailAddress('chloé@exämple.com'), 'chloé@xn--exmple-cua.com');
    assert.equal(normaliseEmailAddress('x@sub.domain.example.'), 'x@sub.domain.example', 'trailing root dot');
  });

  test('refuses what is not a usable mailbox address', () => {
    for (const bad of [
      '',
      'alice',
      '@x.example',
      'alice@',
      'alice@localhost',
      'alice@[127.0.0.1]',
      'alice@127.0.0.1',
      'al ice@x.example',
      '"quoted local"@x.example',
      'a..b@x.example',
      '.a@x.example',
      'a.@x.example',
      'a@-x.example',
      'a@x-.example',
      'a@x..example',
      'a\u0000b@x.example',
      'a\r\nBcc: evil@x.example',
      `${'a'.repeat(65)}@x.example`,
      `a@${'b'.repeat(64)}.example`,
      `a@${'b.'.repeat(130)}example`,
    ]) {
      assert.equal(normaliseEmailAddress(bad), null, JSON.stringify(bad));
    }
  });

  test('is idempotent and never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (s) => {
        const once = normaliseEmailAddress(s);
        if (once !== null) assert.equal(normaliseEmailAddress(once), once);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.emailAddress(), (s) => {
        const n = normaliseEmailAddress(s);
        if (n !== null) {
          assert.equal(n, n.toLowerCase());
          assert.equal(normaliseEmailAddress(s.toUpperCase()), n, 'case never splits an address in two');
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('domains', () => {
    assert.equal(normaliseDomain('Example.COM'), 'example.com');
    assert.equal(normaliseDomain('münchen.de'), 'xn--mnchen-3ya.de');
    assert.equal(normaliseDomain('nodot'), null);
    assert.equal(normaliseDomain('a b.example'), null);
  });
});

describe('display names', () => {
  test('strip quotes, controls, bidi overrides and invisible characters; drop a name that repeats the address', () => {
    assert.equal(cleanDisplayName('  "Alice   Liddell"  '), 'Alice Liddell');
    assert.equal(cleanDisplayName("'Bob'"), 'Bob');
    assert.equal(cleanDisplayName('Evil\u202Egnp.exe'), 'Evil gnp.exe');
    assert.equal(cleanDisplayName('Zero\u200Bwidth\u0000'), 'Zero width');
    assert.equal(cleanDisplayName('alice@x.example', 'alice@x.example'), null);
    assert.equal(cleanDisplayName('<ALICE@x.example>', 'alice@x.example'), null);
    assert.equal(cleanDisplayName('   '), null);
    assert.equal(cleanDisplayName(null), null);
    assert.equal(Array.from(cleanDisplayName('é'.repeat(1000))!).length, 200);
  });

  test('never leaves a control character, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        const n = cleanDisplayName(s);
        if (n !== null) {
          assert.doesNotMatch(n, /[\u0000-\u001f\u007f\u202a-\u202e]/u);
          assert.equal(n, n.trim());
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('free text keeps newlines, drops other controls', () => {
    assert.equal(cleanText('a\r\nb\u0007c\td', 100), 'a\nbc\td');
    assert.equal(cleanText('x'.repeat(50), 10), 'x'.repeat(10));
  });
});

describe('identities on other protocols', () => {
  test('xmpp addresses are bare JIDs; unknown protocols keep their address; bad protocols are refused', () => {
    assert.equal(normaliseIdentityAddress('xmpp', 'xmpp:Alice@Chat.Example/phone'), 'alice@chat.example');
    assert.equal(normaliseIdentityAddress('email', 'Bob@B.example'), 'bob@b.example');
    assert.equal(normaliseIdentityAddress('matrix', '@alice:matrix.example'), '@alice:matrix.example');
    assert.equal(normaliseIdentityAddress('matrix', 'has space'), null);
    assert.equal(normaliseIdentityAddress('Bad Protocol', 'x'), null);
  });
});
