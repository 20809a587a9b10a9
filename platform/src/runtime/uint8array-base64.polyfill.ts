import { Buffer } from 'node:buffer';

/**
 * `Uint8Array.prototype.toBase64` and `Uint8Array.fromBase64` (TC39 "Uint8Array to/from base64", ES2026) on runtimes
 * that lack them (Node 20 to 24), backed by Buffer's native codec. jose (JWS, JWE: the federation envelope, request
 * signatures, receipts, labels) uses them when they exist and otherwise goes through `btoa`/`atob` and a JavaScript
 * loop over every byte: with ~15 KB envelopes encoded twice and decoded twice per delivery, that fallback was ~3 % of
 * the main thread in the federation bench (docs/benchmarks.md). Each service's composition root installs it once; a
 * runtime that has the methods keeps its own.
 *
 * Only what the specification says, for the options jose and anyone else may pass: `alphabet` ("base64" or
 * "base64url"), `omitPadding`, `lastChunkHandling` ("loose", "strict", "stop-before-partial"); ASCII whitespace is
 * skipped, any other character outside the alphabet is a SyntaxError, as are a lone final character and wrong
 * padding. `setFromBase64`, `toHex` and `fromHex` are not provided.
 */

type Alphabet = 'base64' | 'base64url';
type LastChunkHandling = 'loose' | 'strict' | 'stop-before-partial';

interface ToBase64Options {
  alphabet?: Alphabet;
  omitPadding?: boolean;
}

interface FromBase64Options {
  alphabet?: Alphabet;
  lastChunkHandling?: LastChunkHandling;
}

const WHITESPACE = /[\t\n\f\r ]/g;
const SHAPE: Record<Alphabet, RegExp> = {
  base64: /^[A-Za-z0-9+/]*(={0,2})$/,
  base64url: /^[A-Za-z0-9_-]*(={0,2})$/,
};
const DIGITS: Record<Alphabet, string> = {
  base64: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
  base64url: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
};

function alphabetOf(options: { alphabet?: unknown } | undefined): Alphabet {
  const alphabet = options?.alphabet ?? 'base64';
  if (alphabet !== 'base64' && alphabet !== 'base64url')
    throw new TypeError('alphabet must be "base64" or "base64url"');
  return alphabet;
}

/** The spec's `Uint8Array.prototype.toBase64`. */
export function toBase64(this: Uint8Array, options?: ToBase64Options): string {
  if (!(this instanceof Uint8Array)) throw new TypeError('toBase64 needs a Uint8Array');
  const alphabet = alphabetOf(options);
  const text = Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString(alphabet);
  // Buffer pads "base64" and never pads "base64url".
  if (options?.omitPadding) return alphabet === 'base64' ? text.replace(/=+$/, '') : text;
  return alphabet === 'base64url' && text.length % 4 !== 0 ? text + '='.repeat(4 - (text.length % 4)) : text;
}

/** The spec's `Uint8Array.fromBase64`. */
export function fromBase64(input: string, options?: FromBase64Options): Uint8Array {
  if (typeof input !== 'string') throw new TypeError('fromBase64 needs a string');
  const alphabet = alphabetOf(options);
  const handling = options?.lastChunkHandling ?? 'loose';
  if (handling !== 'loose' && handling !== 'strict' && handling !== 'stop-before-partial')
    throw new TypeError('lastChunkHandling must be "loose", "strict" or "stop-before-partial"');
  const text = input.replace(WHITESPACE, '');
  const shape = SHAPE[alphabet].exec(text);
  if (shape === null) throw new SyntaxError(`not ${alphabet}: a character outside its alphabet`);
  const padding = shape[1]!.length;
  let digits = text.slice(0, text.length - padding);
  const partial = digits.length % 4;
  if (padding > 0) {
    // Padding completes the last chunk exactly: two digits and "==", or three and "=".
    if (partial + padding !== 4 || partial < 2) throw new SyntaxError(`not ${alphabet}: misplaced padding`);
  } else if (partial !== 0) {
    if (handling === 'stop-before-partial') digits = digits.slice(0, digits.length - partial);
    else if (handling === 'strict') throw new SyntaxError(`not ${alphabet}: the last chunk is not padded`);
    else if (partial === 1) throw new SyntaxError(`not ${alphabet}: a lone character in the last chunk`);
  }
  if (handling === 'strict' && digits.length % 4 !== 0) {
    // The bits a short last chunk does not use must be zero.
    const unused = digits.length % 4 === 2 ? 0b1111 : 0b11;
    if ((DIGITS[alphabet].indexOf(digits[digits.length - 1]!) & unused) !== 0)
      throw new SyntaxError(`not ${alphabet}: non-zero bits after the last byte`);
  }
  const bytes = Buffer.from(digits, alphabet);
  // A small Buffer is a view into Node's shared pool: the result gets an ArrayBuffer of its own.
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength
    ? new Uint8Array(bytes.buffer)
    : new Uint8Array(bytes);
}

/** Installs both methods where the runtime lacks them; returns whether it did. */
export function installUint8ArrayBase64(): boolean {
  const proto = Uint8Array.prototype as { toBase64?: unknown };
  const ctor = Uint8Array as { fromBase64?: unknown };
  if (typeof proto.toBase64 === 'function' && typeof ctor.fromBase64 === 'function') return false;
  const method = { writable: true, configurable: true, enumerable: false };
  if (typeof proto.toBase64 !== 'function') Object.defineProperty(proto, 'toBase64', { ...method, value: toBase64 });
  if (typeof ctor.fromBase64 !== 'function')
    Object.defineProperty(ctor, 'fromBase64', { ...method, value: fromBase64 });
  return true;
}
