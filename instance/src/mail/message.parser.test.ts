import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import fc from 'fast-check';
import { hostileCorpus } from './hostile-mail.fixture.ts';
import { decodeEncodedWords, messageIdOf, readHeaderBlock } from './mime-headers.ts';
import { htmlToText, parseMessage, PARSE_LIMITS, snippetOf } from './message.parser.ts';

const mail = (headers: string[], body = 'hello') => Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}\r\n`);

describe('header reading', () => {
  test('encoded words: B and Q, adjacent words joined, a character split across two words, unknown charsets', () => {
    assert.equal(decodeEncodedWords('=?utf-8?B?w6lsb2RpZQ==?='), 'élodie');
    assert.equal(decodeEncodedWords('=?ISO-8859-1?Q?Andr=E9?= Gide'), 'André Gide');
    assert.equal(decodeEncodedWords('=?utf-8?Q?a_b?= =?utf-8?Q?c?='), 'a bc');
    assert.equal(decodeEncodedWords('=?utf-8?B?w6k=?= =?utf-8?B?w6k=?='), 'éé');
    assert.equal(decodeEncodedWords('=?utf-8?Q?=C3?==?utf-8?Q?=A9?='), 'é');
    assert.equal(decodeEncodedWords('x =?koi8-r?B?wc/C?= y'), 'x аоб y');
    assert.match(decodeEncodedWords('=?x-unknown?Q?h=E9llo?='), /^h.llo$/);
    assert.equal(decodeEncodedWords('plain text'), 'plain text');
  });

  test('Message-ID: the first <id>, brackets kept; a bare token is bracketed; nonsense is null', () => {
    assert.equal(messageIdOf(' <abc@x.example> (comment)'), '<abc@x.example>');
    assert.equal(messageIdOf('abc@x.example'), '<abc@x.example>');
    assert.equal(messageIdOf('   '), null);
    assert.equal(messageIdOf(null), null);
  });

  test('folded headers are unfolded; 8-bit header bytes are read as UTF-8 or Latin-1', () => {
    const raw = Buffer.concat([
      Buffer.from('Subject: one\r\n two\r\nX-Latin: caf'),
      Buffer.from([0xe9]),
      Buffer.from('\r\n\r\nbody'),
    ]);
    const block = readHeaderBlock(raw);
    assert.deepEqual(block.fields, [
      { name: 'subject', value: 'one two' },
      { name: 'x-latin', value: 'café' },
    ]);
    assert.equal(raw.subarray(block.bodyOffset).toString(), 'body');
  });
});

describe('parsing', () => {
  test('a plain message: participants normalised, names decoded, date, snippet without quoted lines', async () => {
    const m = await parseMessage(
      mail(
        [
          'From: "=?utf-8?Q?Al=C3=AFce?=" <Alice@X.Example>',
          'To: bob@b.example, Group: carol@c.example, dave@d.example;',
          'Cc: <erin@e.example>',
          'Subject: =?utf-8?B?UsOpdW5pb24=?=',
          'Date: Tue, 03 Mar 2026 10:00:00 +0100',
          'Message-ID: <m1@x.example>',
          'List-Id: "Dev list" <dev.lists.example>',
        ],
        '> quoted old text\r\nNew text here.',
      ),
    );
    assert.deepEqual(m.from, { address: 'alice@x.example', written: 'Alice@X.Example', name: 'Alïce' });
    assert.deepEqual(
      m.to.map((a) => a.address),
      ['bob@b.example', 'carol@c.example', 'dave@d.example'],
    );
    assert.deepEqual(
      m.cc.map((a) => a.address),
      ['erin@e.example'],
    );
    assert.equal(m.subject, 'Réunion');
    assert.equal(m.date?.toISOString(), '2026-03-03T09:00:00.000Z');
    assert.equal(m.messageId, '<m1@x.example>');
    assert.deepEqual(m.list, { id: 'dev.lists.example', name: 'Dev list' });
    assert.equal(snippetOf(m.text), 'New text here.');
    assert.equal(m.problem, null);
  });

  test('HTML-only mail gives text; attachments are listed', async () => {
    const raw = Buffer.from(
      [
        'From: a@a.example',
        'Subject: html',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<p>Hello <b>wonderful</b> world</p><script>steal()</script>',
        '--b',
        'Content-Type: application/pdf; name="report.pdf"',
        'Content-Disposition: attachment; filename="report.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('%PDF-1.4 fake').toString('base64'),
        '--b--',
        '',
      ].join('\r\n'),
    );
    const m = await parseMessage(raw);
    assert.match(m.text, /Hello wonderful world/);
    assert.equal(m.hasHtml, true);
    assert.deepEqual(m.attachments, [{ filename: 'report.pdf', contentType: 'application/pdf', size: 13 }]);
  });

  for (const h of hostileCorpus()) {
    test(`hostile: ${h.name} — parsed within limits, never throws`, async () => {
      const m = await parseMessage(h.raw);
      if (h.expect.subject instanceof RegExp) assert.match(m.subject, h.expect.subject);
      else if (h.expect.subject !== undefined) assert.equal(m.subject, h.expect.subject);
      if (h.expect.fromAddress !== undefined) assert.equal(m.from?.address ?? '', h.expect.fromAddress);
      if (h.expect.parsed !== undefined) assert.equal(m.problem === null, h.expect.parsed, `problem: ${m.problem}`);
      assert.ok(Array.from(m.subject).length <= PARSE_LIMITS.subjectChars);
      assert.ok(m.to.length <= PARSE_LIMITS.addressesPerField && m.cc.length <= PARSE_LIMITS.addressesPerField);
      assert.ok(m.text.length <= PARSE_LIMITS.textChars);
    });
  }

  test('the oversized header is dropped and the body still read', async () => {
    const long = hostileCorpus().find((h) => h.name === '1 MB header line')!;
    const m = await parseMessage(long.raw);
    assert.match(m.text, /body after a long header/);
    assert.match(m.problem ?? '', /oversized header/);
    assert.equal(m.truncatedHeaders, 1);
  });

  test('the zip-bomb-like attachment is listed at its real (compressed) size, never expanded', async () => {
    const bomb = hostileCorpus().find((h) => h.name.startsWith('zip-bomb'))!;
    const m = await parseMessage(bomb.raw);
    assert.equal(m.attachments.length, 1);
    assert.ok(m.attachments[0]!.size < 1024 * 1024, `attachment of ${m.attachments[0]!.size} bytes`);
    assert.equal(m.attachments[0]!.filename, 'zeros.gz');
  });

  test('5,000 recipients: 100 kept, the rest counted', async () => {
    const many = hostileCorpus().find((h) => h.name === '5,000 recipients')!;
    const m = await parseMessage(many.raw);
    assert.equal(m.to.length, 100);
    // The To header is cut at 64 KiB first: the addresses past the cut are not even read.
    assert.ok(m.droppedAddresses > 3000, `dropped ${m.droppedAddresses}`);
    assert.equal(m.truncatedHeaders, 1);
  });

  test('HTML to text: scripts and styles dropped, blocks become lines, entities decoded, linear on hostile markup', () => {
    assert.equal(
      htmlToText(
        '<html><head><title>t</title><style>p{}</style></head><body><p>Caf&eacute; &amp; th&#233; &#x1F600;</p><script>x()</script><div>two<br>lines</div></body></html>',
      ),
      'Café & thé 😀\n\ntwo\nlines',
    );
    assert.equal(htmlToText('a <!-- hidden --> b'), 'a b');
    assert.equal(htmlToText('&Agrave; &ccedil;a &ndash; &rsquo;&unknown;'), 'À ça – ’&unknown;');
    assert.equal(htmlToText('<script>never closed'), '');
    const hostile = '<script'.repeat(200_000) + '<<<<'.repeat(100_000) + '<!--'.repeat(100_000);
    assert.equal(typeof htmlToText(hostile), 'string');
  });

  test('property: arbitrary bytes never make the parser throw', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2000 }),
        fc.constantFrom(
          '',
          'From: a@b.example\r\nSubject: x\r\n\r\n',
          'Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n',
        ),
        async (bytes, prefix) => {
          const m = await parseMessage(Buffer.concat([Buffer.from(prefix), bytes]));
          assert.equal(typeof m.subject, 'string');
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('snippetOf', () => {
  /** The definition: every line of the first 16 KiB read, joined, collapsed, then cut (what it was before it stopped reading early). */
  function reference(text: string, max = 200): string {
    const lines = text.slice(0, 16 * 1024).split(/\r?\n/);
    const own = lines.filter((l) => !l.trimStart().startsWith('>'));
    const s = (own.length > 0 ? own : lines)
      .join(' ')
      .replace(/[\u0000-\u001f\u007f]/g, ' ')
      .replace(/\s+/gu, ' ')
      .trim();
    const chars = Array.from(s);
    return chars.length > max
      ? `${chars
          .slice(0, max - 1)
          .join('')
          .trimEnd()}…`
      : s;
  }

  test('reads only what it needs and says the same as reading everything', () => {
    const piece = fc.constantFrom(
      '\r\n',
      '\n',
      '\r',
      '> ',
      '>',
      ' ',
      '\t',
      '\u0000',
      'é',
      '😀',
      'word',
      'x'.repeat(60),
    );
    const text = fc.array(piece, { maxLength: 400 }).map((a) => a.join(''));
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 250 }), (t, max) => {
        assert.equal(snippetOf(t, max), reference(t, max));
      }),
      { numRuns: 2000 },
    );
    const long = `${'> quoted\n'.repeat(3000)}${'a few words of the answer\n'.repeat(2000)}`;
    assert.equal(snippetOf(long), reference(long));
    assert.equal(snippetOf('> only\n> quoted'), '> only > quoted');
    assert.equal(snippetOf(''), '');
  });
});
