import assert from 'node:assert/strict';
import { test } from 'vitest';
import { detectOpenPgp } from '../openpgp/openpgp.detect.ts';
import { examineOpenPgp, examineOwnOpenPgp } from './openpgp.facts.ts';
import { PiOpenPgp } from './pi.openpgp.ts';

const now = new Date('2026-12-06T12:00:00Z');
const plain = Buffer.from('From: <a@x.test>\r\nTo: <b@y.test>\r\nSubject: hello\r\n\r\nNo OpenPGP here.\r\n');
const broken = Buffer.from('Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nno end');
const armoured = Buffer.from(
  'From: <a@x.test>\r\nSubject: s\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nwV4DAAAAAAAAAAASAQdA\r\n-----END PGP MESSAGE-----\r\n',
);

test('mail without OpenPGP: the same facts as the full examination, both directions, and no key is looked up', async () => {
  const lookups: string[] = [];
  const pgp = new PiOpenPgp({
    clock: () => now,
    keysFor: async () => {
      lookups.push('keysFor');
      return [];
    },
    decryptionKeyOf: async () => {
      lookups.push('decryptionKeyOf');
      return null;
    },
  });
  for (const raw of [plain, broken]) {
    assert.deepEqual(
      await pgp.examineOpenPgp('acc', 'a@x.test', raw, 'inbound'),
      await examineOpenPgp(raw, [], now, null),
    );
    assert.deepEqual(
      await pgp.examineOpenPgp('acc', 'a@x.test', raw, 'outbound'),
      await examineOwnOpenPgp(raw, now, null),
    );
  }
  assert.deepEqual(lookups, []);
  // With OpenPGP in the message, the keys are asked for as before.
  await pgp.examineOpenPgp('acc', 'a@x.test', armoured, 'inbound');
  assert.deepEqual(lookups, ['decryptionKeyOf', 'keysFor']);
});

test('detection is done once per message buffer, and what it returns cannot be changed by a caller', () => {
  const first = detectOpenPgp(armoured);
  assert.equal(detectOpenPgp(armoured), first, 'the same buffer: the result remembered');
  assert.notEqual(detectOpenPgp(Buffer.from(armoured)), first, 'another buffer with the same bytes: detected again');
  assert.deepEqual(detectOpenPgp(Buffer.from(armoured)), first);
  assert.ok(Object.isFrozen(first));
  assert.throws(() => {
    (first as { kind: string }).kind = 'none';
  }, TypeError);
});
