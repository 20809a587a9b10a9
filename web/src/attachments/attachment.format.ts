/**
 * Attachments in the web app: names safe to save under and to show, bytes to base64 for sending (sizes:
 * app/format-bytes.ts).
 */

/** The longest name offered for saving (characters, extension kept). */
export const MAX_NAME_CHARS = 120;

// Controls, bidi overrides and isolates, zero-width characters and BOM, line and paragraph separators.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

/**
 * A name to save a file under (the `download` attribute): its last path segment, without control or direction
 * characters, reserved characters replaced, no leading dot, cut to MAX_NAME_CHARS keeping the extension; `fallback`
 * when nothing usable is left. The same rules as the instance's Content-Disposition (attachment.download.ts).
 */
export function safeFilename(name: string | null | undefined, fallback: string): string {
  if (typeof name !== 'string') return fallback;
  const s = (name.normalize('NFC').split(/[/\\]/u).pop() ?? '')
    .replace(UNSAFE, '')
    .replace(/[<>:"/\\|?*]/gu, '_')
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(/^[.\s]+/u, '')
    .replace(/[.\s]+$/u, '');
  if (s === '' || /^_+$/u.test(s)) return fallback;
  const chars = Array.from(s);
  if (chars.length <= MAX_NAME_CHARS) return s;
  const dot = s.lastIndexOf('.');
  const ext = dot > 0 && s.length - dot <= 16 ? Array.from(s.slice(dot)) : [];
  return (
    chars
      .slice(0, MAX_NAME_CHARS - ext.length)
      .join('')
      .trimEnd() + ext.join('')
  );
}

/** A name shown on screen: the same cleaning, so a right-to-left override cannot disguise an extension. */
export const displayName = safeFilename;

/** Base64 of bytes, in slices (no call-stack limit on big files). */
export function base64Of(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, Math.min(i + 0x8000, bytes.length)));
  return btoa(binary);
}

/** A content type to send for a picked file: its own when it reads as type/subtype, else octet-stream. */
export function sendableType(type: string): string {
  const t = type.trim().toLowerCase();
  return /^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,120}$/.test(t) && !/^(multipart|message)\//.test(t)
    ? t
    : 'application/octet-stream';
}
