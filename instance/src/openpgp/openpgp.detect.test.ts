import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { detectOpenPgp, firstPacketTag } from './openpgp.detect.ts';

const CRLF = '\r\n';
const msg = (headers: string[], body: string[]) => Buffer.from([...headers, '', ...body].join(CRLF), 'utf8');
const head = ['From: a@b.example', 'To: c@d.example', 'Subject: t', 'MIME-Version: 1.0'];
const SIGNED = [
  '-----BEGIN PGP SIGNED MESSAGE-----',
  'Hash: SHA256',
  '',
  'hi',
  '-----BEGIN PGP SIGNATURE-----',
  '',
  'wnUEARYKAAYFAmcAAAAACgkQ',
  '-----END PGP SIGNATURE-----',
];

describe('detectOpenPgp', () => {
  test('inline armour in the text/plain part of multipart/alternative inside multipart/mixed', () => {
    const raw = msg(
      [...head, 'Content-Type: multipart/mixed; boundary=outer'],
      [
        '--outer',
        'Content-Type: multipart/alternative; boundary="alt"',
        '',
        '--alt',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Before the block',
        ...SIGNED,
        'After the block',
        '--alt',
        'Content-Type: text/html',
        '',
        '<p>hi</p>',
        '--alt--',
        '--outer--',
      ],
    );
    const part = detectOpenPgp(raw);
    assert.equal(part.kind, 'inline-signed');
    assert.ok(part.cleartext?.startsWith('-----BEGIN PGP SIGNED MESSAGE-----'));
    assert.ok(part.cleartext?.trimEnd().endsWith('-----END PGP SIGNATURE-----'));
    assert.ok(part.signature?.toString().startsWith('-----BEGIN PGP SIGNATURE-----'));
  });

  test('a text/plain attachment is not the body; armour not at the start of a line is not armour', () => {
    const attached = msg(
      [...head, 'Content-Type: multipart/mixed; boundary=m'],
      [
        '--m',
        'Content-Type: text/html',
        '',
        '<p>x</p>',
        '--m',
        'Content-Type: text/plain',
        'Content-Disposition: attachment; filename=a.asc',
        '',
        ...SIGNED,
        '--m--',
      ],
    );
    assert.equal(detectOpenPgp(attached).kind, 'none');
    assert.equal(detectOpenPgp(msg(head, [`quoted: ${SIGNED[0]}`])).kind, 'none');
  });

  test('protocol names are compared case-insensitively; S/MIME and protocol-less multipart/signed are not OpenPGP', () => {
    const body = [
      '--s',
      'Content-Type: text/plain',
      '',
      'x',
      '--s',
      'Content-Type: application/pgp-signature',
      '',
      'sig',
      '--s--',
    ];
    assert.equal(
      detectOpenPgp(
        msg([...head, 'Content-Type: multipart/signed; boundary=s; protocol="Application/PGP-Signature"'], body),
      ).kind,
      'pgp-mime-signed',
    );
    assert.equal(
      detectOpenPgp(
        msg([...head, 'Content-Type: multipart/signed; boundary=s; protocol="application/pkcs7-signature"'], body),
      ).kind,
      'none',
    );
    assert.equal(detectOpenPgp(msg([...head, 'Content-Type: multipart/signed; boundary=s'], body)).kind, 'none');
  });

  test('the signed content is the first part byte for byte (headers included), made CRLF', () => {
    const raw = Buffer.from(
      [
        ...head,
        'Content-Type: multipart/signed; boundary=s; protocol="application/pgp-signature"',
        '',
        '--s',
        'Content-Type: text/plain',
        '',
        'line 1  ',
        'line 2',
        '',
        '--s',
        'Content-Type: application/pgp-signature',
        '',
        'sig',
        '--s--',
        '',
      ].join('\n'),
    );
    const part = detectOpenPgp(raw);
    assert.equal(part.signedContent?.toString('latin1'), 'Content-Type: text/plain\r\n\r\nline 1  \r\nline 2\r\n');
    assert.equal(Buffer.from(part.signature as Uint8Array).toString('latin1'), 'sig', 'not armour: kept as bytes');
  });

  test('first packet tags of armoured blocks', () => {
    assert.equal(firstPacketTag('-----BEGIN PGP MESSAGE-----\n\nwV4D\n-----END PGP MESSAGE-----'), 1); // 0xC1: new-format PKESK
    assert.equal(firstPacketTag('-----BEGIN PGP MESSAGE-----\nComment: x\n\nxA0D\n-----END PGP MESSAGE-----'), 4); // 0xC4: one-pass signature
    assert.equal(firstPacketTag('-----BEGIN PGP MESSAGE-----\n\nowGb\n'), 8); // 0xA3: old-format compressed data
    assert.equal(firstPacketTag('-----BEGIN PGP MESSAGE-----\n\n\n-----END PGP MESSAGE-----'), null);
    assert.equal(firstPacketTag('-----BEGIN PGP MESSAGE-----\n\nAAAA\n'), null);
  });

  test('oversize messages and garbage are "none", never a throw', () => {
    assert.equal(detectOpenPgp(Buffer.alloc(0)).kind, 'none');
    assert.equal(detectOpenPgp(Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0x0d])).kind, 'none');
    const huge = Buffer.alloc(64 * 1024 * 1024 + 1, 0x61);
    const part = detectOpenPgp(huge);
    assert.equal(part.kind, 'none');
    assert.match(part.problem ?? '', /too large/);
  });
});
