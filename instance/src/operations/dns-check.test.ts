import assert from 'node:assert/strict';
import { test } from 'vitest';
import { txtText } from './dns-check.ts';

test('txtText joins the character-strings of a zone-file TXT value, unescaping quotes', () => {
  assert.equal(txtText('"v=spf1 mx -all"'), 'v=spf1 mx -all');
  assert.equal(txtText('"v=DKIM1; k=rsa; p=ABC" "DEF"'), 'v=DKIM1; k=rsa; p=ABCDEF');
  assert.equal(txtText('"say \\"hi\\""'), 'say "hi"');
  assert.equal(txtText('no quotes'), '');
});
