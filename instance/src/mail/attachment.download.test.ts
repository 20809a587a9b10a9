import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import {
  attachmentDisposition,
  FALLBACK_FILENAME,
  MAX_FILENAME_CHARS,
  safeAttachmentFilename,
  safeAttachmentType,
} from './attachment.download.ts';

describe('safeAttachmentFilename', () => {
  test('keeps the last path segment only', () => {
    assert.equal(safeAttachmentFilename('../../etc/passwd'), 'passwd');
    assert.equal(safeAttachmentFilename('..\\..\\windows\\system.ini'), 'system.ini');
    assert.equal(safeAttachmentFilename('/'), FALLBACK_FILENAME);
    assert.equal(safeAttachmentFilename('..'), FALLBACK_FILENAME);
  });

  test('removes control, bidi and zero-width characters, replaces reserved ones', () => {
    assert.equal(safeAttachmentFilename('a\r\nSet-Cookie: x.txt'), 'aSet-Cookie_ x.txt');
    assert.equal(safeAttachmentFilename('invoice\u202Efdp.exe'), 'invoicefdp.exe');
    assert.equal(safeAttachmentFilename('a\u200bb\u2066c\u0000.txt'), 'abc.txt');
    assert.equal(safeAttachmentFilename('what?<is>"this"|*.txt'), 'what__is__this___.txt');
  });

  test('no hidden files, no trailing dots, Windows device names defused', () => {
    assert.equal(safeAttachmentFilename('.bashrc'), 'bashrc');
    assert.equal(safeAttachmentFilename('report.pdf. . '), 'report.pdf');
    assert.equal(safeAttachmentFilename('CON.txt'), '_CON.txt');
  });

  test('the fallback when nothing usable is left', () => {
    for (const empty of [null, undefined, '', '   ', '\u202e', '???', '\r\n'])
      assert.equal(safeAttachmentFilename(empty), FALLBACK_FILENAME, JSON.stringify(empty));
    assert.equal(safeAttachmentFilename('', 'file'), 'file');
  });

  test('long names are cut to the limit, keeping the extension, by characters (not UTF-16 units)', () => {
    const cut = safeAttachmentFilename(`${'a'.repeat(300)}.pdf`);
    assert.equal(cut.length, MAX_FILENAME_CHARS);
    assert.ok(cut.endsWith('.pdf'));
    const emoji = safeAttachmentFilename(`${'😀'.repeat(200)}.txt`);
    assert.equal(Array.from(emoji).length, MAX_FILENAME_CHARS);
    assert.ok(emoji.endsWith('😀.txt'), 'no lone surrogate');
  });

  test('keeps ordinary non-ASCII names', () => {
    assert.equal(safeAttachmentFilename('Résumé d’été ✓.odt'), 'Résumé d’été ✓.odt');
    assert.equal(safeAttachmentFilename('e\u0301te\u0301.txt'), 'été.txt');
  });
});

describe('safeAttachmentType', () => {
  test('active or unknown types become application/octet-stream', () => {
    for (const t of [
      'text/html',
      'TEXT/HTML; charset=utf-8',
      'image/svg+xml',
      'application/xhtml+xml',
      'text/xml',
      'application/xml',
      'application/javascript',
      'text/javascript',
      'application/pdf',
      'multipart/mixed',
      'message/rfc822',
      'application/x-unknown',
      '',
      null,
      'text/plain\r\nX-Evil: 1',
    ])
      assert.equal(safeAttachmentType(t), 'application/octet-stream', String(t));
  });

  test('passive types keep theirs; text in UTF-8', () => {
    assert.equal(safeAttachmentType('image/PNG'), 'image/png');
    assert.equal(safeAttachmentType('text/plain; charset=iso-8859-1'), 'text/plain; charset=utf-8');
  });
});

describe('attachmentDisposition', () => {
  test('an ASCII fallback and the UTF-8 name (RFC 8187)', () => {
    assert.equal(
      attachmentDisposition('été (1).txt'),
      `attachment; filename="_t_ (1).txt"; filename*=UTF-8''%C3%A9t%C3%A9%20%281%29.txt`,
    );
    assert.equal(attachmentDisposition('50%.txt'), `attachment; filename="50_.txt"; filename*=UTF-8''50%25.txt`);
  });
});
