/**
 * How a received attachment is handed to a browser: a filename that names no path and carries no control or
 * direction-changing characters, a content type that can never render active content in the instance's origin, and
 * the Content-Disposition that forces a download.
 */

/** The longest filename offered (in characters, extension kept); file systems take 255 bytes at most. */
export const MAX_FILENAME_CHARS = 120;
export const FALLBACK_FILENAME = 'attachment';

// C0/C1 controls, bidi overrides and isolates, zero-width and BOM, line and paragraph separators.
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;
// Reserved on Windows or meaningful to shells and headers.
const RESERVED = /[<>:"/\\|?*]/gu;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/iu;

/**
 * A filename safe to offer for saving: the last path segment only, unsafe characters removed, reserved ones replaced,
 * no leading dots (no hidden file, no `..`), at most MAX_FILENAME_CHARS characters with the extension kept; the
 * fallback when nothing usable is left.
 */
export function safeAttachmentFilename(name: string | null | undefined, fallback = FALLBACK_FILENAME): string {
  return cleanAttachmentFilename(name) ?? fallback;
}

/** safeAttachmentFilename's rules, null when nothing usable is left (what the message's attachment list shows). */
export function cleanAttachmentFilename(name: string | null | undefined): string | null {
  if (typeof name !== 'string') return null;
  const last = name.slice(0, 4096).normalize('NFC').split(/[/\\]/u).pop() ?? '';
  let s = last
    .replace(UNSAFE_CHARS, '')
    .replace(RESERVED, '_')
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(/^[.\s]+/u, '')
    .replace(/[.\s]+$/u, '');
  if (s === '' || /^_+$/u.test(s)) return null;
  if (WINDOWS_DEVICE.test(s)) s = `_${s}`;
  const chars = Array.from(s);
  if (chars.length <= MAX_FILENAME_CHARS) return s;
  const dot = s.lastIndexOf('.');
  const ext = dot > 0 && s.length - dot <= 16 ? Array.from(s.slice(dot)) : [];
  return (
    chars
      .slice(0, MAX_FILENAME_CHARS - ext.length)
      .join('')
      .trimEnd() + ext.join('')
  );
}

/**
 * Media types that are passive in a browser (shown as data, never run): anything else is served as
 * application/octet-stream. HTML, SVG, XML, XHTML, JavaScript, PDF (scriptable) and unknown types all fall back.
 */
const PASSIVE_TYPES = new Set([
  'text/plain',
  'text/csv',
  'text/calendar',
  'text/vcard',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'audio/mpeg',
  'audio/ogg',
  'audio/wav',
  'video/mp4',
  'video/webm',
  'application/zip',
  'application/gzip',
  'application/octet-stream',
  'application/msword',
  'application/vnd.oasis.opendocument.text',
  'application/vnd.oasis.opendocument.spreadsheet',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/pgp-keys',
]);

/** The Content-Type to serve an attachment with: its own when passive (text/* in UTF-8), else octet-stream. */
export function safeAttachmentType(contentType: string | null | undefined): string {
  const essence = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (!PASSIVE_TYPES.has(essence)) return 'application/octet-stream';
  return essence.startsWith('text/') ? `${essence}; charset=utf-8` : essence;
}

/** RFC 8187 value characters: everything else is percent-encoded (UTF-8). */
function encodeRfc8187(s: string): string {
  return encodeURIComponent(s).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<name>` (RFC 6266): the name already passed through
 * safeAttachmentFilename; the quoted fallback keeps printable ASCII only, for old clients.
 */
export function attachmentDisposition(safeName: string): string {
  const ascii = safeName.replace(/[^\x20-\x7e]/gu, '_').replace(/["\\%]/gu, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeRfc8187(safeName)}`;
}
