import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'vitest';
import fc from 'fast-check';
import { AppError } from '../shared/errors.ts';
import { contactIdFromUid, formatVcard, parseVcards, VCARD_LIMITS, type VcardSource } from './contact.vcard.ts';

const source = (over: Partial<VcardSource> = {}): VcardSource => ({
  id: randomUUID(),
  displayName: 'Alice Liddell',
  identities: [
    { protocol: 'email', address: 'alice@x.example', label: 'work' },
    { protocol: 'email', address: 'alice@y.example', label: null },
    { protocol: 'xmpp', address: 'alice@chat.example', label: null },
  ],
  notes: 'Met at the conference; likes "tea", commas, semicolons; and back\\slashes.\nSecond line.',
  updatedAt: new Date('2026-03-01T10:00:00.000Z'),
  ...over,
});

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseVcards(text),
    (e: unknown) => e instanceof AppError && e.code === 'vcard_invalid' && pattern.test(e.detail ?? ''),
    `expected vcard_invalid matching ${pattern}`,
  );
}

describe('vCard export and import', () => {
  test('round trip: UID, FN, every identity with its label, notes with escapes and newlines', () => {
    const c = source();
    const text = formatVcard(c);
    assert.match(text, /^BEGIN:VCARD\r\nVERSION:4\.0\r\nUID:urn:uuid:/);
    assert.ok(text.endsWith('END:VCARD\r\n'));
    const [card, ...rest] = parseVcards(text);
    assert.equal(rest.length, 0);
    assert.equal(contactIdFromUid(card!.uid), c.id);
    assert.equal(card!.displayName, c.displayName);
    assert.equal(card!.notes, c.notes);
    assert.deepEqual(card!.identities, c.identities);
  });

  test('long lines are folded at 75 octets without splitting a character, and unfolded on import', () => {
    const c = source({ displayName: 'Ωμέγα '.repeat(40).trim(), notes: '日本語のメモ'.repeat(50) });
    const text = formatVcard(c);
    for (const line of text.split('\r\n'))
      assert.ok(Buffer.byteLength(line, 'utf8') <= 75, `line of ${Buffer.byteLength(line)} octets`);
    const [card] = parseVcards(text);
    assert.equal(card!.displayName, c.displayName);
    assert.equal(card!.notes, c.notes);
  });

  test('property: any name and notes survive the round trip', () => {
    const text = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 120 })
      .filter((s) => !/[\u0000-\u001f\u007f]/.test(s) && s.trim() === s && s !== '');
    fc.assert(
      fc.property(
        text,
        fc.array(
          fc.string({ unit: 'grapheme', maxLength: 60 }).filter((s) => !/[\u0000-\u0009\u000b-\u001f\u007f]/.test(s)),
          { maxLength: 4 },
        ),
        (name, noteLines) => {
          const c = source({ displayName: name, notes: noteLines.join('\n') });
          const [card] = parseVcards(formatVcard(c));
          assert.equal(card!.displayName, name);
          assert.equal(card!.notes, c.notes);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('reads vCard 3.0 and 2.1 as other software writes them: N without FN, bare TYPEs, quoted-printable, several cards', () => {
    const text = [
      'BEGIN:VCARD',
      'VERSION:3.0',
      'N:Liddell;Alice;;Dr.;',
      'EMAIL;TYPE=INTERNET,HOME:alice@home.example',
      'EMAIL;TYPE=INTERNET:alice@work.example',
      'item1.EMAIL;type=pref:alice@pref.example',
      'PHOTO;ENCODING=b;TYPE=JPEG:AAAA',
      'END:VCARD',
      'BEGIN:VCARD',
      'VERSION:2.1',
      'FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Andr=C3=A9 Gide',
      'EMAIL;INTERNET;PREF:andre@gide.example',
      'NOTE;ENCODING=QUOTED-PRINTABLE:line one=0D=0A=',
      'line two',
      'END:VCARD',
      '',
    ].join('\n');
    const [a, b] = parseVcards(text);
    assert.equal(a!.displayName, 'Dr. Alice Liddell');
    assert.deepEqual(
      a!.identities.map((i) => [i.address, i.label]),
      [
        ['alice@home.example', 'HOME'],
        ['alice@work.example', null],
        ['alice@pref.example', null],
      ],
    );
    assert.equal(b!.displayName, 'André Gide');
    assert.deepEqual(
      b!.identities.map((i) => i.address),
      ['andre@gide.example'],
    );
    assert.equal(b!.notes, 'line one\r\nline two');
  });

  test('hostile files are rejected with the line and the problem', () => {
    rejects('', /no BEGIN:VCARD/);
    rejects('hello world', /line 1: not a vCard property/);
    rejects('FN:Alice\r\n', /line 1: property FN outside/);
    rejects('BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\n', /line 1: the card is not closed/);
    rejects('BEGIN:VCARD\r\nVERSION:4.0\r\nBEGIN:VCARD\r\n', /line 3: a card cannot contain another card/);
    rejects('END:VCARD\r\n', /END:VCARD without a matching BEGIN/);
    rejects('BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\n', /card without VERSION/);
    rejects('BEGIN:VCARD\r\nVERSION:9.9\r\nEND:VCARD\r\n', /unsupported VERSION/);
    rejects('BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n', /not a vCard/);
    rejects('BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\u0000B\r\nEND:VCARD\r\n', /line 3: control character U\+0000/);
    rejects('BEGIN:VCARD\r\nVERSION:4.0\r\nF N:A\r\nEND:VCARD\r\n', /line 3: bad property name/);
    rejects(
      `BEGIN:VCARD\r\nVERSION:4.0\r\nNOTE:${'x'.repeat(VCARD_LIMITS.lineChars + 1)}\r\nEND:VCARD\r\n`,
      /longer than/,
    );
    // A folded line that never ends is still one (too long) line.
    rejects(
      `BEGIN:VCARD\r\nVERSION:4.0\r\nNOTE:x\r\n${' y\r\n'.repeat(VCARD_LIMITS.lineChars)}END:VCARD\r\n`,
      /longer than/,
    );
    rejects('BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n'.repeat(VCARD_LIMITS.cards + 1), /more than 1000 cards/);
    rejects(
      `BEGIN:VCARD\r\nVERSION:4.0\r\n${'EMAIL:a@b.example\r\n'.repeat(60)}END:VCARD\r\n`,
      /more than 50 addresses/,
    );
    rejects(
      `BEGIN:VCARD\r\nVERSION:4.0\r\n${'X-FOO:bar\r\n'.repeat(VCARD_LIMITS.propertiesPerCard + 1)}END:VCARD\r\n`,
      /more than 500 properties/,
    );
    assert.throws(() => parseVcards('x'.repeat(VCARD_LIMITS.bytes + 1)), /larger than/);
  });

  test('never throws anything but vcard_invalid, whatever the input', () => {
    const line = fc.oneof(
      fc.constantFrom(
        'BEGIN:VCARD',
        'END:VCARD',
        'VERSION:4.0',
        'VERSION:2.1',
        'FN:x',
        'N:a;b',
        'EMAIL;TYPE="a,b":x@y.example',
        ' folded',
        '=',
        'NOTE;ENCODING=QUOTED-PRINTABLE:=',
        'UID:urn:uuid:x',
      ),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
        try {
          parseVcards(lines.join('\r\n'));
        } catch (e) {
          assert.ok(e instanceof AppError && e.code === 'vcard_invalid', String(e));
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('UIDs name our contacts only when they are uuids', () => {
    const id = randomUUID();
    assert.equal(contactIdFromUid(`urn:uuid:${id.toUpperCase()}`), id);
    assert.equal(contactIdFromUid(id), id);
    assert.equal(contactIdFromUid('some-other-uid'), null);
    assert.equal(contactIdFromUid(null), null);
  });
});
