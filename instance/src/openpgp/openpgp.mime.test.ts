import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import fc from 'fast-check';
import { canonicalCrlf, decodeQuotedPrintable, parseContentType, splitMultipart } from './openpgp.mime.ts';

const b = (s: string) => Buffer.from(s, 'latin1');
const parts = (s: string, boundary: string, max = 64) =>
  splitMultipart(b(s), boundary, max)?.parts.map((p) => p.toString('latin1'));

describe('splitMultipart', () => {
  test('parts are the bytes between delimiter lines; the CRLF before a delimiter belongs to it', () => {
    const body =
      'preamble\r\n--xyz\r\nContent-Type: text/plain\r\n\r\none\r\n\r\n--xyz\r\n\r\ntwo\r\n--xyz--\r\nepilogue\r\n';
    assert.deepEqual(parts(body, 'xyz'), ['Content-Type: text/plain\r\n\r\none\r\n', '\r\ntwo']);
    assert.equal(splitMultipart(b(body), 'xyz', 64)?.closed, true);
  });

  test('bare LF line ends, transport padding after the boundary, no preamble', () => {
    assert.deepEqual(parts('--b \t\nA\n--b\t\nB\n--b-- \n', 'b'), ['A', 'B']);
  });

  test('lines that merely start with the boundary, or contain it, are content', () => {
    const body = '--ab\r\nx --ab\r\n--abc\r\n--ab-not\r\n--ab\r\ny\r\n--ab--';
    assert.deepEqual(parts(body, 'ab'), ['x --ab\r\n--abc\r\n--ab-not', 'y']);
  });

  test('a missing close delimiter keeps the last part to the end; the part count is capped', () => {
    assert.deepEqual(parts('--q\r\nA\r\n--q\r\nB and more', 'q'), ['A', 'B and more']);
    assert.equal(splitMultipart(b('--q\r\nA\r\n--q\r\nB'), 'q', 64)?.closed, false);
    const many = `${'--q\r\nx\r\n'.repeat(1000)}--q--`;
    const split = splitMultipart(b(many), 'q', 10)!;
    assert.equal(split.parts.length, 10);
    assert.equal(split.truncated, true);
  });

  test('unusable boundaries and bodies without delimiters', () => {
    assert.equal(splitMultipart(b('--\r\n'), '', 10), null);
    assert.equal(splitMultipart(b('x'), 'a\r\nb', 10), null);
    assert.equal(splitMultipart(b('x'), 'x'.repeat(300), 10), null);
    assert.deepEqual(parts('no delimiter here', 'zz'), []);
    assert.deepEqual(parts('', 'zz'), []);
  });

  test('hostile bodies: always terminates, parts are slices of the body in order, never more than the cap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('--b', '--b--', '\r\n', '\n', '\r', ' ', 'x', '-', 'b'), { maxLength: 300 }),
        fc.integer({ min: 1, max: 8 }),
        (pieces, max) => {
          const body = b(pieces.join(''));
          const split = splitMultipart(body, 'b', max);
          assert.ok(split !== null);
          assert.ok(split.parts.length <= max);
          let last = 0;
          for (const p of split.parts) {
            const at = p.byteOffset - body.byteOffset;
            assert.ok(at >= last && at + p.length <= body.length);
            last = at + p.length;
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test('a large body full of near-delimiters is split in linear time (no quadratic rescans)', () => {
    const body = b(`--b\r\n${'--bx\r\n'.repeat(400_000)}--b--\r\n`);
    const split = splitMultipart(body, 'b', 4)!;
    assert.equal(split.parts.length, 1);
    assert.equal(split.closed, true);
  });
});

describe('MIME helpers', () => {
  test('content types: case, quoting, comments, defaults', () => {
    const ct = parseContentType(
      'Multipart/Signed; micalg=pgp-sha256; protocol="application/pgp-signature" (x); Boundary="a \\"b"',
    );
    assert.equal(ct.mediaType, 'multipart/signed');
    assert.equal(ct.params.get('protocol'), 'application/pgp-signature');
    assert.equal(ct.params.get('boundary'), 'a "b');
    assert.equal(parseContentType(null).mediaType, 'text/plain');
    assert.equal(parseContentType(';;;; charset==="').mediaType, 'text/plain');
    assert.equal(parseContentType('not a type').mediaType, 'text/plain');
  });

  test('quoted-printable: escapes, soft line breaks, stray = kept', () => {
    assert.equal(decodeQuotedPrintable(b('a=3Db=\r\nc= \r\nd=\ne=ZZ=4')).toString('latin1'), 'a=bcde=ZZ=4');
    assert.equal(decodeQuotedPrintable(b('caf=C3=A9')).toString('utf8'), 'café');
  });

  test('canonical CRLF: bare LF becomes CRLF, CRLF kept, same buffer when already canonical', () => {
    assert.equal(canonicalCrlf(b('a\nb\r\nc\n\n')).toString('latin1'), 'a\r\nb\r\nc\r\n\r\n');
    const ok = b('a\r\nb');
    assert.equal(canonicalCrlf(ok), ok);
    assert.equal(canonicalCrlf(b('\n')).toString('latin1'), '\r\n');
  });
});
