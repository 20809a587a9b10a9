import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { asctime, mboxrdEntry, splitMboxrd } from './account-export.mbox.ts';

describe('mboxrd writer', () => {
  it('writes the separator with the UTC asctime date and the sender, LF line ends', () => {
    const e = mboxrdEntry(
      Buffer.from('Subject: hi\r\n\r\nbody\r\n'),
      'alice@example.org',
      new Date('2026-12-06T09:05:00Z'),
    );
    assert.equal(e.toString(), 'From alice@example.org Sun Dec  6 09:05:00 2026\nSubject: hi\n\nbody\n\n');
    assert.equal(asctime(new Date('2027-01-15T23:59:59Z')), 'Fri Jan 15 23:59:59 2027');
  });

  it('quotes From lines (already quoted ones once more) and reads them back exactly', () => {
    const raws = [
      'Subject: one\r\n\r\nFrom here on\r\n>From there\r\n>>From afar\r\nFromage is not quoted\r\n',
      'Subject: two\r\n\r\nno final newline',
      'Subject: three\r\n\r\n\r\nFrom \r\n\r\n',
      'Subject: caf\xe9 8-bit\r\n\r\n\xff\xfe bytes\r\n',
    ];
    const mbox = Buffer.concat(raws.map((r) => mboxrdEntry(Buffer.from(r, 'latin1'), '', new Date(0))));
    const text = mbox.toString('latin1');
    assert.match(text, /^From MAILER-DAEMON Thu Jan {2}1 00:00:00 1970\n/);
    assert.match(text, /\n>From here on\n>>From there\n>>>From afar\nFromage is not quoted\n/);
    const back = splitMboxrd(mbox).map((b) => b.toString('latin1'));
    assert.deepEqual(
      back,
      raws.map((r) => (r.endsWith('\n') ? r : `${r}\n`).replace(/\r\n/g, '\n')),
    );
  });

  it('never lets a hostile sender break the separator line', () => {
    const e = mboxrdEntry(Buffer.from('x'), 'evil\nFrom injected', new Date(0)).toString();
    assert.match(e, /^From MAILER-DAEMON /);
    assert.equal(splitMboxrd(Buffer.from(e)).length, 1);
    assert.throws(() => splitMboxrd(Buffer.from('not mbox')), /not an mbox/);
  });
});
