import { Buffer } from 'buffer';

/**
 * federation-protocol encodes bytes with Node's Buffer; in the browser the `buffer` package stands in for it. This
 * module is the first import of the site's entry, so the global exists before the protocol's modules evaluate.
 * The package (v5) predates Node's `base64url` encoding, which JOSE values use: it is added here on top of base64.
 */
type BufferClass = typeof Buffer;

const toUrl = (b64: string) => b64.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
const fromUrl = (text: string) => {
  const b64 = text.replaceAll('-', '+').replaceAll('_', '/');
  return b64 + '='.repeat((4 - (b64.length % 4)) % 4);
};

/** Teaches a `buffer`-package Buffer the `base64url` encoding (from and toString); returns it. */
export function withBase64Url(B: BufferClass): BufferClass {
  const marker = B as unknown as { __base64url?: boolean };
  if (marker.__base64url) return B;
  const from = B.from.bind(B) as (...args: unknown[]) => Buffer;
  (B as unknown as { from: (...args: unknown[]) => Buffer }).from = (value: unknown, enc?: unknown, len?: unknown) =>
    typeof value === 'string' && enc === 'base64url'
      ? from(fromUrl(value), 'base64')
      : len === undefined
        ? enc === undefined
          ? from(value)
          : from(value, enc)
        : from(value, enc, len);
  const originalToString = B.prototype.toString;
  B.prototype.toString = function (this: Buffer, enc?: string, start?: number, end?: number): string {
    if (enc === 'base64url') return toUrl(originalToString.call(this, 'base64', start, end));
    return originalToString.call(this, enc as BufferEncoding, start, end);
  } as typeof originalToString;
  marker.__base64url = true;
  return B;
}

const g = globalThis as { Buffer?: unknown };
if (g.Buffer === undefined) g.Buffer = withBase64Url(Buffer);
