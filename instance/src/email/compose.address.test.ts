import assert from 'node:assert/strict';
import { test } from 'vitest';
import { parseAddress } from './compose.address.ts';

test('addresses: normalised domain, local part kept, hostile forms refused with a reason', () => {
  const ok = (s: string) => {
    const r = parseAddress(s);
    assert.ok(r.ok, `${s}: ${r.ok ? '' : r.reason}`);
    return r.value.address;
  };
  assert.equal(ok('Alice.Smith+tag@Example.ORG'), 'Alice.Smith+tag@example.org');
  assert.equal(ok('  bob@sub.example.co.uk '), 'bob@sub.example.co.uk');
  assert.equal(ok('jose@exämple.de'), 'jose@xn--exmple-cua.de');
  for (const bad of [
    '',
    'plain',
    '@example.org',
    'a@',
    'a@b',
    'a@@example.org',
    'a b@example.org',
    '"quoted"@example.org',
    'a..b@example.org',
    '.a@example.org',
    'a@-example.org',
    'a@example-.org',
    'a@[127.0.0.1]',
    'a@1.2.3.4',
    'élodie@example.org',
    'a@example.org\r\nBcc: x@evil.test',
    'a\u0000@example.org',
    `${'x'.repeat(65)}@example.org`,
    `a@${'x'.repeat(250)}.org`,
    'a@exa_mple.org',
  ]) {
    const r = parseAddress(bad);
    assert.equal(r.ok, false, `${JSON.stringify(bad)} should be refused`);
    if (!r.ok) assert.ok(r.reason.length > 5);
  }
});
