import { createHash } from 'node:crypto';
import { ProtocolError } from './errors.ts';
import { utf8Encode } from './encoding.ts';

/**
 * Canonical JSON per RFC 8785 (JSON Canonicalization Scheme): the one byte sequence that everything we sign or
 * hash is computed over, so two implementations that agree on a value agree on its signature.
 *
 * JCS is JSON with no whitespace, object members sorted by their UTF-16 code units, strings escaped as ECMAScript's
 * JSON.stringify does and numbers written as ECMAScript's Number.prototype.toString does. We therefore delegate
 * primitives to JSON.stringify, and add what it lacks: sorting, and refusing, with the path of the offending value,
 * everything outside the JSON data model instead of silently dropping or rewriting it (JSON.stringify turns NaN
 * into null and drops undefined members; a signature over such a rewrite would not mean what the signer meant).
 */

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * Containers nested deeper than this are refused (`json_unsupported_value`): no document of the protocol comes near
 * it, and the writer recurses, so a hostile value nested 10,000 deep (JSON.parse reads it happily) would otherwise
 * end in a stack overflow (a RangeError) instead of the documented error. Found by fuzzing (docs/fuzzing.md).
 */
export const MAX_JSON_DEPTH = 512;

/**
 * The canonical JSON text of a value; throws `json_unsupported_value` for anything that is not plain JSON, or that is
 * nested deeper than MAX_JSON_DEPTH.
 */
export function canonicalJson(value: unknown): string {
  return new Canonicalizer().run(value);
}

/** The UTF-8 bytes of the canonical JSON text: what gets signed and hashed. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return utf8Encode(canonicalJson(value));
}

export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** SHA-256 of the canonical JSON bytes of a value. */
export function canonicalSha256(value: unknown): Uint8Array {
  return sha256(canonicalJson(value));
}

/** Matches an unpaired surrogate; with the `u` flag a well-formed pair is one code point and does not match. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * String.prototype.isWellFormed (ES2024, present in Node 20) is an order of magnitude faster than the regex on the
 * long strings of a feed (labels); TypeScript's ES2023 library does not declare it yet.
 */
const nativeIsWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

function isWellFormed(text: string): boolean {
  return nativeIsWellFormed === undefined ? !LONE_SURROGATE.test(text) : nativeIsWellFormed.call(text);
}

class Canonicalizer {
  /** Output pieces, joined once at the end: cheaper than growing one string for multi-megabyte feeds. */
  private readonly out: string[] = [];
  /** Keys and indexes from the root to the value being written, for error messages. */
  private readonly path: (string | number)[] = [];
  /** Objects and arrays being written, to refuse cycles instead of overflowing the stack. */
  private readonly ancestors = new Set<object>();

  run(value: unknown): string {
    this.write(value);
    return this.out.join('');
  }

  private write(value: unknown): void {
    switch (typeof value) {
      case 'string':
        if (!isWellFormed(value)) this.reject('a string with a lone surrogate (not valid Unicode)');
        this.out.push(JSON.stringify(value));
        return;
      case 'number':
        if (!Number.isFinite(value)) this.reject(`${value} (JSON numbers are finite)`);
        this.out.push(JSON.stringify(value));
        return;
      case 'boolean':
        this.out.push(value ? 'true' : 'false');
        return;
      case 'object':
        if (value === null) this.out.push('null');
        else this.writeContainer(value);
        return;
      case 'bigint':
        this.reject('a BigInt (convert it to a string or a safe integer first)');
        return;
      default:
        this.reject(typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`);
    }
  }

  private writeContainer(value: object): void {
    if (this.ancestors.has(value)) this.reject('a cyclic reference');
    if (this.ancestors.size >= MAX_JSON_DEPTH) this.reject(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    this.ancestors.add(value);
    if (Array.isArray(value)) this.writeArray(value);
    else this.writeObject(value);
    this.ancestors.delete(value);
  }

  private writeArray(array: readonly unknown[]): void {
    this.out.push('[');
    for (let index = 0; index < array.length; index++) {
      this.path.push(index);
      if (index > 0) this.out.push(',');
      this.write(array[index]);
      this.path.pop();
    }
    this.out.push(']');
  }

  private writeObject(object: object): void {
    const prototype: unknown = Object.getPrototypeOf(object);
    if (prototype !== Object.prototype && prototype !== null) {
      const kind = (object.constructor as { name?: string } | undefined)?.name ?? 'exotic';
      this.reject(`a ${kind} object (only plain objects are JSON objects)`);
    }
    const record = object as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is exactly the order RFC 8785 §3.2.3 prescribes.
    const keys = Object.keys(record).sort();
    this.out.push('{');
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as string;
      this.path.push(key);
      if (!isWellFormed(key)) this.reject('a member name with a lone surrogate (not valid Unicode)');
      this.out.push(index > 0 ? `,${JSON.stringify(key)}:` : `${JSON.stringify(key)}:`);
      this.write(record[key]);
      this.path.pop();
    }
    this.out.push('}');
  }

  private reject(what: string): never {
    const where = this.path.map((step) => (typeof step === 'number' ? `[${step}]` : `.${step}`)).join('');
    throw new ProtocolError('json_unsupported_value', `Cannot write canonical JSON: $${where} is ${what}.`);
  }
}
