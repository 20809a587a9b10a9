import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
} from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';

/*
 * The encryption of a backup file: a fixed header, then the archive cut into 64 KiB chunks, each sealed on its own
 * with AES-256-GCM (node:crypto) — the STREAM construction age uses: nonce = 7-byte random prefix ‖ 32-bit chunk
 * counter ‖ last-chunk flag, so chunks cannot be reordered, dropped, repeated or the file cut short without the
 * next open failing. Nothing is held whole in memory. The key comes from a passphrase (scrypt) or a key file (HKDF
 * of its bytes); the header carries an HMAC under a second derived key, so a wrong passphrase is told apart from a
 * damaged file.
 *
 * Header (64 bytes): "CLPNBAK1" ‖ kdf (1 = scrypt, 2 = key file) ‖ log2 N ‖ r ‖ p ‖ salt (16) ‖ nonce prefix (7)
 * ‖ reserved (5 zero bytes) ‖ HMAC-SHA256(check key, the 40 bytes before)[0..24).
 */

const MAGIC = Buffer.from('CLPNBAK1', 'latin1');
export const CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;
const HEADER_BODY = 40;
export const HEADER_BYTES = HEADER_BODY + 24;
const SCRYPT_DEFAULT = { log2N: 17, r: 8, p: 1 };
const KEY_FILE_MIN_BYTES = 32;

const scrypt = promisify(scryptCallback) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** What opens a backup: a passphrase, or the bytes of a key file (at least 32 bytes, e.g. `head -c 32 /dev/urandom`). */
export type BackupSecret = { passphrase: string } | { keyFile: Buffer };

export class BackupCipherError extends Error {
  constructor(
    message: string,
    /** `secret`: the passphrase or key file does not open it; `damaged`: the file was changed or cut. */
    readonly kind: 'secret' | 'damaged' | 'format',
  ) {
    super(message);
    this.name = 'BackupCipherError';
  }
}

interface Keys {
  encryption: Buffer;
  check: Buffer;
}

async function deriveKeys(
  secret: BackupSecret,
  kdf: number,
  params: typeof SCRYPT_DEFAULT,
  salt: Buffer,
): Promise<Keys> {
  let root: Buffer;
  if (kdf === 1) {
    if (!('passphrase' in secret))
      throw new BackupCipherError('this backup was sealed with a passphrase, not a key file', 'secret');
    if (params.log2N < 14 || params.log2N > 22 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16)
      throw new BackupCipherError('the backup header asks for scrypt settings out of bounds', 'format');
    const N = 2 ** params.log2N;
    root = await scrypt(Buffer.from(secret.passphrase.normalize('NFC'), 'utf8'), salt, 32, {
      N,
      r: params.r,
      p: params.p,
      maxmem: 256 * N * params.r + 32 * 1024 * 1024,
    });
  } else if (kdf === 2) {
    if (!('keyFile' in secret))
      throw new BackupCipherError('this backup was sealed with a key file, not a passphrase', 'secret');
    root = Buffer.from(hkdfSync('sha256', secret.keyFile, salt, 'caliopen-backup key file', 32));
  } else {
    throw new BackupCipherError(`unknown key derivation ${kdf} in the backup header`, 'format');
  }
  return {
    encryption: Buffer.from(hkdfSync('sha256', root, salt, 'caliopen-backup encryption', 32)),
    check: Buffer.from(hkdfSync('sha256', root, salt, 'caliopen-backup header check', 32)),
  };
}

/** Refuses secrets too weak to seal a backup with: an empty or short passphrase, a short key file. */
export function checkSecret(secret: BackupSecret): void {
  if ('passphrase' in secret) {
    if (secret.passphrase.length < 12)
      throw new BackupCipherError('the backup passphrase must be at least 12 characters long', 'secret');
  } else if (secret.keyFile.length < KEY_FILE_MIN_BYTES) {
    throw new BackupCipherError(
      `the key file must hold at least ${KEY_FILE_MIN_BYTES} bytes (e.g. \`head -c 32 /dev/urandom > backup.key\`)`,
      'secret',
    );
  }
}

function nonce(prefix: Buffer, counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(counter, 7);
  n[11] = last ? 1 : 0;
  return n;
}

/** A stream that seals what is written into it (the header first, then chunks). */
export async function encryptStream(
  secret: BackupSecret,
  options: { scrypt?: Partial<typeof SCRYPT_DEFAULT> } = {},
): Promise<Transform> {
  checkSecret(secret);
  const params = { ...SCRYPT_DEFAULT, ...options.scrypt };
  const kdf = 'passphrase' in secret ? 1 : 2;
  const salt = randomBytes(16);
  const prefix = randomBytes(7);
  const keys = await deriveKeys(secret, kdf, params, salt);
  const body = Buffer.concat([
    MAGIC,
    Buffer.from([kdf, params.log2N, params.r, params.p]),
    salt,
    prefix,
    Buffer.alloc(5),
  ]);
  const header = Buffer.concat([body, createHmac('sha256', keys.check).update(body).digest().subarray(0, 24)]);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let counter = 0;
  const seal = (plain: Buffer, last: boolean): Buffer => {
    if (counter === 0xffffffff) throw new Error('backup too large for one stream (256 TiB)');
    const c = createCipheriv('aes-256-gcm', keys.encryption, nonce(prefix, counter++, last));
    c.setAAD(header);
    const out = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
    return out;
  };
  let headerSent = false;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (!headerSent) {
        this.push(header);
        headerSent = true;
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      // Keep at least one byte back: the last chunk is sealed with the last flag, at the end.
      if (pendingBytes > CHUNK_BYTES) {
        let all = Buffer.concat(pending);
        while (all.length > CHUNK_BYTES) {
          this.push(seal(all.subarray(0, CHUNK_BYTES), false));
          all = all.subarray(CHUNK_BYTES);
        }
        pending = [all];
        pendingBytes = all.length;
      }
      done();
    },
    flush(done: TransformCallback) {
      if (!headerSent) this.push(header);
      this.push(seal(Buffer.concat(pending), true));
      pending = [];
      done();
    },
  });
}

/** A stream that opens what `encryptStream` sealed; it errors (BackupCipherError) at the first chunk that does not. */
export function decryptStream(secret: BackupSecret): Transform {
  let keys: Keys | null = null;
  let header: Buffer | null = null;
  let prefix: Buffer | null = null;
  let buffered: Buffer = Buffer.alloc(0);
  let counter = 0;
  let offset = HEADER_BYTES;
  let finished = false;
  const open = (sealed: Buffer, last: boolean): Buffer => {
    if (sealed.length < TAG_BYTES) throw new BackupCipherError('the backup is cut short', 'damaged');
    const d = createDecipheriv('aes-256-gcm', keys!.encryption, nonce(prefix!, counter, last));
    d.setAAD(header!);
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      const plain = Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_BYTES)), d.final()]);
      counter++;
      offset += sealed.length;
      return plain;
    } catch {
      throw new BackupCipherError(
        `the backup is damaged or was changed: chunk ${counter} (byte ${offset}) does not authenticate`,
        'damaged',
      );
    }
  };
  const record = CHUNK_BYTES + TAG_BYTES;
  return new Transform({
    async transform(chunk: Buffer, _enc, done: TransformCallback) {
      try {
        if (finished) throw new BackupCipherError('the backup has bytes after its last chunk', 'damaged');
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        if (keys === null) {
          if (buffered.length < HEADER_BYTES) return done();
          header = Buffer.from(buffered.subarray(0, HEADER_BYTES));
          buffered = buffered.subarray(HEADER_BYTES);
          keys = await openHeader(secret, header);
          prefix = header.subarray(28, 35);
        }
        // A full record followed by more bytes is not the last one.
        while (buffered.length > record) {
          this.push(open(buffered.subarray(0, record), false));
          buffered = buffered.subarray(record);
        }
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        if (keys === null)
          throw new BackupCipherError('this is not a Caliopen backup (no header) or it is cut short', 'format');
        this.push(open(buffered, true));
        finished = true;
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });
}

async function openHeader(secret: BackupSecret, header: Buffer): Promise<Keys> {
  if (!header.subarray(0, 8).equals(MAGIC))
    throw new BackupCipherError('this is not a Caliopen backup (its first bytes are not CLPNBAK1)', 'format');
  const salt = header.subarray(12, 28);
  const keys = await deriveKeys(secret, header[8]!, { log2N: header[9]!, r: header[10]!, p: header[11]! }, salt);
  const expected = createHmac('sha256', keys.check).update(header.subarray(0, HEADER_BODY)).digest().subarray(0, 24);
  if (!timingSafeEqual(expected, header.subarray(HEADER_BODY)))
    throw new BackupCipherError(
      'the passphrase or key file does not open this backup (or its header was changed)',
      'secret',
    );
  return keys;
}
