import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'vitest';
import {
  BackupCipherError,
  type BackupSecret,
  CHUNK_BYTES,
  decryptStream,
  encryptStream,
  HEADER_BYTES,
} from './backup.cipher.ts';

const passphrase: BackupSecret = { passphrase: 'correct horse battery staple' };
// Low scrypt cost keeps the test fast; the header records it and decryption reads it from there.
const fast = { scrypt: { log2N: 14 } };

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function seal(plain: Buffer, secret: BackupSecret = passphrase): Promise<Buffer> {
  const enc = await encryptStream(secret, fast);
  // Written in uneven pieces, as a tar stream would.
  const pieces: Buffer[] = [];
  for (let i = 0; i < plain.length; i += 10_007) pieces.push(plain.subarray(i, i + 10_007));
  const out = collect(enc);
  await pipeline(Readable.from(pieces), enc);
  return out;
}

async function open(sealed: Buffer, secret: BackupSecret = passphrase): Promise<Buffer> {
  const dec = decryptStream(secret);
  const out = collect(dec);
  const pieces: Buffer[] = [];
  for (let i = 0; i < sealed.length; i += 4099) pieces.push(sealed.subarray(i, i + 4099));
  await Promise.all([pipeline(Readable.from(pieces), dec), out]);
  return out;
}

async function rejectsWith(p: Promise<unknown>, kind: BackupCipherError['kind'], pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BackupCipherError, `expected a BackupCipherError, got ${e}`);
    assert.equal(e.kind, kind);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('backup encryption (chunked AES-256-GCM)', () => {
  it('round-trips empty, exactly-one-chunk and multi-chunk contents with a passphrase and with a key file', async () => {
    for (const size of [0, 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 12345]) {
      const plain = randomBytes(size);
      const sealed = await seal(plain);
      assert.ok(!sealed.includes(plain.subarray(0, 64)) || size < 64, 'no plaintext in the sealed file');
      assert.deepEqual(await open(sealed), plain, `size ${size}`);
    }
    const key: BackupSecret = { keyFile: randomBytes(32) };
    const plain = randomBytes(200_000);
    assert.deepEqual(await open(await seal(plain, key), key), plain);
  });

  it('tells a wrong passphrase or the wrong kind of secret apart from damage', async () => {
    const sealed = await seal(randomBytes(1000));
    await rejectsWith(open(sealed, { passphrase: 'not the right passphrase' }), 'secret', /does not open this backup/);
    await rejectsWith(open(sealed, { keyFile: randomBytes(32) }), 'secret', /sealed with a passphrase/);
  });

  it('detects a flipped bit, a cut, a dropped or swapped chunk, a changed header and foreign files', async () => {
    const plain = randomBytes(3 * CHUNK_BYTES + 500);
    const sealed = await seal(plain);
    const record = CHUNK_BYTES + 16;

    const flipped = Buffer.from(sealed);
    flipped[HEADER_BYTES + record + 100]! ^= 1;
    await rejectsWith(open(flipped), 'damaged', /chunk 1 .* does not authenticate/);

    await rejectsWith(open(sealed.subarray(0, HEADER_BYTES + 2 * record)), 'damaged', /does not authenticate/);
    await rejectsWith(open(sealed.subarray(0, sealed.length - 1)), 'damaged', /does not authenticate/);

    const dropped = Buffer.concat([
      sealed.subarray(0, HEADER_BYTES + record),
      sealed.subarray(HEADER_BYTES + 2 * record),
    ]);
    await rejectsWith(open(dropped), 'damaged', /does not authenticate/);

    const swapped = Buffer.concat([
      sealed.subarray(0, HEADER_BYTES),
      sealed.subarray(HEADER_BYTES + record, HEADER_BYTES + 2 * record),
      sealed.subarray(HEADER_BYTES, HEADER_BYTES + record),
      sealed.subarray(HEADER_BYTES + 2 * record),
    ]);
    await rejectsWith(open(swapped), 'damaged', /chunk 0/);

    const header = Buffer.from(sealed);
    header[20]! ^= 1; // the salt
    await rejectsWith(open(header), 'secret', /does not open/);

    const appended = Buffer.concat([sealed, randomBytes(CHUNK_BYTES + 100)]);
    await rejectsWith(open(appended), 'damaged', /does not authenticate/);

    await rejectsWith(
      open(Buffer.from('PK\u0003\u0004 a zip file, not a backup, long enough for a header......')),
      'format',
      /not a Caliopen backup/,
    );
    await rejectsWith(open(Buffer.alloc(10)), 'format', /not a Caliopen backup/);
  });

  it('refuses weak secrets and hostile scrypt settings', async () => {
    await assert.rejects(encryptStream({ passphrase: 'short' }), /at least 12 characters/);
    await assert.rejects(encryptStream({ keyFile: randomBytes(16) }), /at least 32 bytes/);
    const sealed = await seal(randomBytes(10));
    const hostile = Buffer.from(sealed);
    hostile[9] = 40; // N = 2^40: would exhaust memory
    await rejectsWith(open(hostile), 'format', /out of bounds/);
  });
});
