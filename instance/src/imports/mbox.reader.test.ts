import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, test } from 'vitest';
import { fromLineDate, type MboxItem, readMbox } from './mbox.reader.ts';

const dir = mkdtempSync(join(tmpdir(), 'caliopen-mbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function all(path: string, options: Parameters<typeof readMbox>[1] = {}): Promise<MboxItem[]> {
  const out: MboxItem[] = [];
  for await (const item of readMbox(path, options)) out.push(item);
  return out;
}

describe('readMbox', () => {
  test('splits on From lines after an empty line, unquotes >From (mboxrd), keeps line endings; offsets resume', async () => {
    const file = join(dir, 'a.mbox');
    const one = 'From a@x Sun Nov 22 10:00:00 2026\nSubject: 1\n\n>From quoted\n>>From twice\nFrom inside\n\n';
    const two = 'From b@x Mon Nov 23 10:00:00 2026\r\nSubject: 2\r\n\r\nbody\r\n\r\n';
    const three = 'From c@x Tue Nov 24 10:00:00 2026\nSubject: 3\n\nlast';
    writeFileSync(file, one + two + three);
    const items = await all(file);
    assert.deepEqual(
      items.map((i) => (i.kind === 'message' ? i.raw.toString() : i.reason)),
      ['Subject: 1\n\nFrom quoted\n>From twice\nFrom inside\n', 'Subject: 2\r\n\r\nbody\r\n', 'Subject: 3\n\nlast'],
    );
    assert.deepEqual(
      items.map((i) => [i.ordinal, i.offset, i.end]),
      [
        [1, 0, one.length],
        [2, one.length, one.length + two.length],
        [3, one.length + two.length, one.length + two.length + three.length],
      ],
    );
    const m = items[1]! as Extract<MboxItem, { kind: 'message' }>;
    assert.equal(m.fromLineDate?.toISOString(), '2026-11-23T10:00:00.000Z');
    const resumed = await all(file, { startOffset: one.length, startOrdinal: 1 });
    assert.deepEqual(
      resumed.map((i) => i.ordinal),
      [2, 3],
    );
  });

  test('reports what is not a message: a preamble, an empty message, one over the size limit; a file without From', async () => {
    const file = join(dir, 'b.mbox');
    writeFileSync(
      file,
      `junk\n\nFrom a@x Sun Nov 22 10:00:00 2026\n\nFrom b@x Sun Nov 22 10:00:00 2026\nSubject: big\n\n${'x'.repeat(5000)}\n\nFrom c@x Sun Nov 22 10:00:00 2026\nSubject: ok\n\nok\n`,
    );
    const items = await all(file, { maxBytes: 1000 });
    assert.deepEqual(
      items.map((i) => `${i.ordinal}:${i.kind === 'message' ? 'message' : i.reason}`),
      [
        '0:5 bytes before the first "From " line: not a message, skipped',
        '1:empty message',
        '2:larger than 1000 bytes: skipped',
        '3:message',
      ],
    );
    const plain = join(dir, 'c.txt');
    writeFileSync(plain, 'just some text\nno separator\n');
    assert.deepEqual(
      (await all(plain)).map((i) => i.kind === 'problem' && i.reason),
      ['no "From " line: not an mbox file'],
    );
  });

  test('fromLineDate reads asctime dates, with or without a zone; null otherwise', () => {
    assert.equal(fromLineDate('From a@x Sun Nov 22 10:00:00 2026')?.toISOString(), '2026-11-22T10:00:00.000Z');
    assert.equal(fromLineDate('From a@x  Sun Nov  2 09:05:01 +0000 2026')?.toISOString(), '2026-11-02T09:05:01.000Z');
    assert.equal(fromLineDate('From '), null);
    assert.equal(fromLineDate('From a@x Sun Foo 22 10:00:00 2026'), null);
  });
});
