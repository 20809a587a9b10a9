import MailComposer from 'nodemailer/lib/mail-composer';

export interface MimeAddress {
  name: string | null;
  address: string;
}

export interface MimeAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface MimeInput {
  from: MimeAddress;
  to: MimeAddress[];
  cc: MimeAddress[];
  bcc: MimeAddress[];
  subject: string;
  text: string | null;
  html: string | null;
  attachments: MimeAttachment[];
  /** With angle brackets: `<id@domain>`. */
  messageId: string;
  date: Date;
  inReplyTo: string | null;
  references: string[];
}

const asNodemailer = (a: MimeAddress) => (a.name ? { name: a.name, address: a.address } : a.address);

/**
 * Builds the RFC 5322 message with nodemailer's MailComposer: every header value and body encoded (RFC 2047 words,
 * quoted-printable or base64 bodies), CRLF line ends, no X-Mailer, no URL or file access. The Bcc header is kept:
 * this is the sender's copy; `withoutHeaders(raw, ['bcc'])` gives what is transmitted.
 */
export async function buildMime(input: MimeInput): Promise<Buffer> {
  const composer = new MailComposer({
    from: asNodemailer(input.from),
    to: input.to.map(asNodemailer),
    ...(input.cc.length ? { cc: input.cc.map(asNodemailer) } : {}),
    ...(input.bcc.length ? { bcc: input.bcc.map(asNodemailer) } : {}),
    subject: input.subject,
    ...(input.text !== null ? { text: input.text } : {}),
    ...(input.html !== null ? { html: input.html } : {}),
    ...(input.text === null && input.html === null ? { text: '' } : {}),
    attachments: input.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content,
      contentTransferEncoding: 'base64',
    })),
    messageId: input.messageId,
    date: input.date,
    ...(input.inReplyTo ? { inReplyTo: input.inReplyTo } : {}),
    ...(input.references.length ? { references: input.references } : {}),
    newline: 'win',
    disableUrlAccess: true,
    disableFileAccess: true,
  });
  const node = composer.compile();
  node.keepBcc = true;
  return node.build();
}

/** Where the header section ends: the offset of the empty line's first byte (or the whole length). */
function headerEnd(raw: Buffer): { end: number; bodyStart: number } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { end: crlf + 2, bodyStart: crlf + 4 };
  if (lf >= 0) return { end: lf + 1, bodyStart: lf + 2 };
  return { end: raw.length, bodyStart: raw.length };
}

/** The header section (each field with its line end), without the empty line that ends it. */
export function headerSection(raw: Buffer): Buffer {
  return raw.subarray(0, headerEnd(raw).end);
}

/** Splits a header section into fields, each with its folded continuation lines. */
function fields(section: string): string[] {
  const out: string[] = [];
  for (const line of section.split(/(?<=\n)/)) {
    if (/^[ \t]/.test(line) && out.length > 0) out[out.length - 1] += line;
    else if (line !== '') out.push(line);
  }
  return out;
}

/** The message without the named header fields (case-insensitive), continuation lines included; body untouched. */
export function withoutHeaders(raw: Buffer, names: readonly string[]): Buffer {
  const drop = new Set(names.map((n) => n.toLowerCase()));
  const { end } = headerEnd(raw);
  const kept = fields(raw.subarray(0, end).toString('latin1')).filter((f) => {
    const name = /^([^:\s]+)\s*:/.exec(f)?.[1]?.toLowerCase();
    return name === undefined || !drop.has(name);
  });
  return Buffer.concat([Buffer.from(kept.join(''), 'latin1'), raw.subarray(end)]);
}

/** The unfolded value of the first field with that name, or null. */
export function headerValue(raw: Buffer, name: string): string | null {
  const wanted = name.toLowerCase();
  for (const f of fields(headerSection(raw).toString('latin1'))) {
    const m = /^([^:\s]+)\s*:([\s\S]*)$/.exec(f);
    if (m && m[1]!.toLowerCase() === wanted) return m[2]!.replace(/\r?\n[ \t]/g, ' ').trim();
  }
  return null;
}

/** Message ids (`<...>`) found in a References / In-Reply-To value. */
export function messageIds(value: string | null): string[] {
  return value ? [...value.matchAll(/<[^<>\s]{1,250}>/g)].map((m) => m[0]) : [];
}

/** A stored Message-ID (with or without its angle brackets) as a header value `<id>`, or null when unusable. */
export function asMessageIdHeader(externalId: string | null): string | null {
  if (!externalId) return null;
  const bare = externalId.trim().replace(/^<|>$/g, '');
  return /^[^<>\s]{1,250}$/.test(bare) ? `<${bare}>` : null;
}
