import { gzipSync } from 'node:zlib';

/**
 * A corpus of hostile messages, built deterministically, for the tests of the parser, the ingest and the API
 * (and for whoever feeds the SMTP server): each must be stored with what could be read, never crash anything.
 */
export interface HostileMail {
  name: string;
  raw: Buffer;
  /** What the stored message must show. */
  expect: { subject?: string | RegExp; fromAddress?: string; parsed?: boolean };
}

const CRLF = '\r\n';

function nestedMultipart(depth: number): string {
  let head = `From: Deep <deep@nest.example>${CRLF}To: someone@alpha.test${CRLF}Subject: nested ${depth} deep${CRLF}Message-ID: <nest-${depth}@nest.example>${CRLF}MIME-Version: 1.0${CRLF}`;
  let body = '';
  for (let i = 0; i < depth; i++) {
    body +=
      i === 0
        ? `Content-Type: multipart/mixed; boundary="b${i}"${CRLF}${CRLF}`
        : `--b${i - 1}${CRLF}Content-Type: multipart/mixed; boundary="b${i}"${CRLF}${CRLF}`;
  }
  body += `--b${depth - 1}${CRLF}Content-Type: text/plain${CRLF}${CRLF}the bottom of the well${CRLF}`;
  for (let i = depth - 1; i >= 0; i--) body += `--b${i}--${CRLF}`;
  head += body;
  return head;
}

/** A tiny deterministic PRNG, so the garbage is the same on every run. */
function garbage(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function hostileCorpus(to = 'someone@alpha.test'): HostileMail[] {
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  const bombB64 = bomb.toString('base64').replace(/.{76}/g, `$&${CRLF}`);
  return [
    {
      name: 'malformed MIME (multipart without boundary, broken base64, garbage content type)',
      raw: Buffer.from(
        [
          'From: Mal Formed <mal@formed.example>',
          `To: ${to}`,
          'Subject: malformed mime',
          'Message-ID: <malformed@formed.example>',
          'MIME-Version: 1.0',
          'Content-Type: multipart/mixed',
          '',
          '--nowhere',
          'Content-Type: ;;;; charset==="',
          'Content-Transfer-Encoding: base64',
          '',
          '!!!!not base64 at all@@@@',
          '--nowhere',
          '',
        ].join(CRLF),
      ),
      expect: { subject: 'malformed mime', fromAddress: 'mal@formed.example' },
    },
    {
      name: '1 MB header line',
      raw: Buffer.from(
        `From: long@header.example${CRLF}To: ${to}${CRLF}Subject: a long header${CRLF}Message-ID: <long@header.example>${CRLF}X-Long: ${'h'.repeat(1024 * 1024)}${CRLF}${CRLF}body after a long header${CRLF}`,
      ),
      expect: { subject: 'a long header', fromAddress: 'long@header.example' },
    },
    {
      name: '1 MB subject line',
      raw: Buffer.from(
        `From: long@subject.example${CRLF}To: ${to}${CRLF}Subject: ${'s'.repeat(1024 * 1024)}${CRLF}${CRLF}body${CRLF}`,
      ),
      expect: { subject: /^s{500}$/, fromAddress: 'long@subject.example' },
    },
    {
      name: 'missing Date and Message-ID',
      raw: Buffer.from(
        `From: nodate@missing.example${CRLF}To: ${to}${CRLF}Subject: no date, no id${CRLF}${CRLF}hello${CRLF}`,
      ),
      expect: { subject: 'no date, no id', fromAddress: 'nodate@missing.example', parsed: true },
    },
    {
      name: 'unknown charsets in the subject and the body',
      raw: Buffer.concat([
        Buffer.from(
          `From: =?x-klingon-9?Q?Kl=E9ngon?= <charset@unknown.example>${CRLF}To: ${to}${CRLF}Subject: =?x-unknown-999?Q?h=E9llo?= world${CRLF}Message-ID: <charset@unknown.example>${CRLF}MIME-Version: 1.0${CRLF}Content-Type: text/plain; charset=x-unknown-999${CRLF}${CRLF}`,
        ),
        Buffer.from([0x68, 0xe9, 0x6c, 0x6c, 0x6f, 0x0d, 0x0a]),
      ]),
      expect: { subject: /world$/, fromAddress: 'charset@unknown.example' },
    },
    {
      name: '8-bit garbage (no headers at all)',
      raw: garbage(64 * 1024, 42),
      expect: { subject: '(unparsable message)', fromAddress: '' },
    },
    {
      name: '8-bit garbage in headers and body',
      raw: Buffer.concat([
        Buffer.from(`From: `),
        garbage(200, 7),
        Buffer.from(` <eight@bit.example>${CRLF}To: ${to}${CRLF}Subject: `),
        garbage(100, 9),
        Buffer.from(`${CRLF}${CRLF}`),
        garbage(4096, 11),
      ]),
      expect: {},
    },
    {
      name: 'NUL bytes and a bare LF message',
      raw: Buffer.from(`From: nul@bytes.example\nTo: ${to}\nSubject: nul\u0000bytes\n\nbody\u0000with\u0000nuls\n`),
      expect: { subject: 'nul bytes', fromAddress: 'nul@bytes.example' },
    },
    {
      name: 'multipart nesting 1,000 deep',
      raw: Buffer.from(nestedMultipart(1000)),
      expect: { subject: 'nested 1000 deep', fromAddress: 'deep@nest.example', parsed: false },
    },
    {
      name: 'zip-bomb-like attachment (64 MiB of zeros, gzipped)',
      raw: Buffer.from(
        [
          'From: bomb@zip.example',
          `To: ${to}`,
          'Subject: a small attachment',
          'Message-ID: <bomb@zip.example>',
          'MIME-Version: 1.0',
          'Content-Type: multipart/mixed; boundary="zz"',
          '',
          '--zz',
          'Content-Type: text/plain',
          '',
          'see attached',
          '--zz',
          'Content-Type: application/gzip; name="zeros.gz"',
          'Content-Disposition: attachment; filename="zeros.gz"',
          'Content-Transfer-Encoding: base64',
          '',
          bombB64,
          '--zz--',
          '',
        ].join(CRLF),
      ),
      expect: { subject: 'a small attachment', fromAddress: 'bomb@zip.example', parsed: true },
    },
    {
      name: '5,000 recipients',
      raw: Buffer.from(
        `From: many@rcpt.example${CRLF}To: ${Array.from({ length: 5000 }, (_, i) => `r${i}@rcpt.example`).join(', ')}${CRLF}Subject: many recipients${CRLF}${CRLF}hi${CRLF}`,
      ),
      expect: { subject: 'many recipients', fromAddress: 'many@rcpt.example' },
    },
    {
      name: 'empty message',
      raw: Buffer.alloc(0),
      expect: { subject: '(unparsable message)', fromAddress: '' },
    },
    {
      name: 'headers only, no blank line, no body',
      raw: Buffer.from(`From: headers@only.example${CRLF}Subject: only headers`),
      expect: { subject: 'only headers', fromAddress: 'headers@only.example' },
    },
  ];
}
