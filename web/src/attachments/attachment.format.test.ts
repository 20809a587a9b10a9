import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { base64Of, MAX_NAME_CHARS, safeFilename, sendableType } from './attachment.format.ts';

describe('safeFilename', () => {
  test('the last path segment, no hidden file', () => {
    assert.equal(safeFilename('../../etc/passwd', 'file'), 'passwd');
    assert.equal(safeFilename('C:\\Windows\\win.ini', 'file'), 'win.ini');
    assert.equal(safeFilename('.htaccess', 'file'), 'htaccess');
  });

  test('control, CRLF and direction characters go; reserved ones are replaced', () => {
    assert.equal(safeFilename('a\r\nb.txt', 'file'), 'ab.txt');
    assert.equal(safeFilename('invoice\u202Efdp.exe', 'file'), 'invoicefdp.exe');
    assert.equal(safeFilename('a<b>:c.txt', 'file'), 'a_b__c.txt');
  });

  test('the fallback for empty or emptied names', () => {
    for (const n of [null, undefined, '', '  ', '\u202e', '..', '/'])
      assert.equal(safeFilename(n, 'pièce jointe'), 'pièce jointe', JSON.stringify(n));
  });

  test('a 300-character name is cut keeping its extension', () => {
    const s = safeFilename(`${'x'.repeat(300)}.tar.gz`, 'file');
    assert.equal(s.length, MAX_NAME_CHARS);
    assert.ok(s.endsWith('.gz'));
  });

  test('non-ASCII names stay', () => {
    assert.equal(safeFilename('Résumé ✓ 日本.pdf', 'file'), 'Résumé ✓ 日本.pdf');
  });
});

describe('base64Of and sendableType', () => {
  test('base64 of bytes, large ones included', () => {
    assert.equal(base64Of(new Uint8Array([0, 255, 10])), 'AP8K');
    const big = new Uint8Array(200_000).map((_, i) => i % 256);
    assert.equal(base64Of(big), Buffer.from(big).toString('base64'));
  });

  test('a picked file without a usable type is sent as octet-stream', () => {
    assert.equal(sendableType('image/png'), 'image/png');
    assert.equal(sendableType(''), 'application/octet-stream');
    assert.equal(sendableType('message/rfc822'), 'application/octet-stream');
    assert.equal(sendableType('text/plain\r\nX: y'), 'application/octet-stream');
  });
});
