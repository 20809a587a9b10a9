import { randomBytes, randomUUID } from 'node:crypto';
import { headerSection, withoutHeaders } from '../mail/compose.mime.ts';
import type { RecipientResult } from './delivery.types.ts';

/** Originals up to this size travel whole in the bounce (message/rfc822); larger ones by their headers only. */
export const BOUNCE_FULL_ORIGINAL_MAX_BYTES = 32 * 1024;
/** Never more header bytes than this in a bounce, whatever the original carried. */
const MAX_ORIGINAL_HEADER_BYTES = 64 * 1024;

export interface BounceInput {
  /** The instance domain (Reporting-MTA, the bounce's From and Message-ID). */
  domain: string;
  /** The sender the bounce goes to. */
  to: string;
  /** The message as it was transmitted (without Bcc). */
  original: Buffer;
  originalMessageId: string | null;
  originalSubject: string;
  /** When the message was accepted for delivery. */
  arrivalDate: Date;
  /** When the bounce is written (also the Last-Attempt-Date). */
  now: Date;
  /** The failed recipients, each with its status and, when a server answered, its reply. */
  failed: (RecipientResult & { remoteMta: string | null })[];
  /** How many attempts were made. */
  attempts: number;
}

/** RFC 5322 date: `Mon, 01 Jan 2024 00:00:00 +0000`. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

const ascii = (s: string) => s.replace(/[^\x20-\x7e]+/g, ' ').trim();

function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

/**
 * A delivery status notification (RFC 3464) for the sender: multipart/report with a human-readable explanation, the
 * machine-readable message/delivery-status (one block per failed recipient: Final-Recipient, Action, Status,
 * Remote-MTA, Diagnostic-Code, Last-Attempt-Date), and the original — whole when small, its headers only
 * (text/rfc822-headers, RFC 6522) when large, so a bounce never doubles a big attachment in the mailbox.
 */
export function buildBounce(input: BounceInput): Buffer {
  const boundary = `dsn-${randomBytes(12).toString('hex')}`;
  const transmitted = withoutHeaders(input.original, ['bcc']);
  const who = input.failed.map((f) => `  <${f.address}>: ${ascii(f.diagnostic)}`).join('\n');
  const human =
    `This is the mail system at ${input.domain}.\n\n` +
    `Your message "${input.originalSubject}" could not be delivered to ${input.failed.length === 1 ? 'this recipient' : 'these recipients'}` +
    ` after ${input.attempts} attempt${input.attempts === 1 ? '' : 's'}:\n\n${who}\n\n` +
    'A permanent error (5.x.x) means the address or the message was refused: check the address, or ask the recipient.\n' +
    "A temporary error (4.x.x) that lasted until we gave up means the recipient's server stayed unreachable or busy.\n";

  const perMessage = [`Reporting-MTA: dns; ${input.domain}`, `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`];
  const perRecipient = input.failed.map((f) =>
    [
      `Final-Recipient: rfc822; ${f.address}`,
      'Action: failed',
      `Status: ${f.status}`,
      ...(f.remoteMta ? [`Remote-MTA: dns; ${f.remoteMta.replace(/:\d+$/, '')}`] : []),
      f.smtpReply
        ? `Diagnostic-Code: smtp; ${ascii(f.smtpReply)}`
        : `Diagnostic-Code: x-caliopen; ${ascii(f.diagnostic)}`,
      `Last-Attempt-Date: ${rfc5322Date(input.now)}`,
    ].join('\r\n'),
  );
  const deliveryStatus = [perMessage.join('\r\n'), ...perRecipient].join('\r\n\r\n');

  const whole = transmitted.length <= BOUNCE_FULL_ORIGINAL_MAX_BYTES;
  let originalPart: string;
  if (whole) {
    originalPart = `Content-Type: message/rfc822\r\nContent-Description: Undelivered message\r\n\r\n${transmitted.toString('latin1')}`;
  } else {
    const headers = headerSection(transmitted).subarray(0, MAX_ORIGINAL_HEADER_BYTES).toString('latin1');
    originalPart = `Content-Type: text/rfc822-headers\r\nContent-Description: Undelivered message headers (the message was ${transmitted.length} bytes)\r\n\r\n${headers}`;
  }

  const ref =
    input.originalMessageId && /^<[^<>\s]{1,250}>$/.test(input.originalMessageId) ? input.originalMessageId : null;
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.domain}>`,
    `To: <${input.to}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${rfc5322Date(input.now)}`,
    `Message-ID: <dsn.${randomUUID()}@${input.domain}>`,
    ...(ref ? [`In-Reply-To: ${ref}`, `References: ${ref}`] : []),
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
  ].join('\r\n');

  const body = [
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8\r\nContent-Description: Notification\r\nContent-Transfer-Encoding: base64\r\n',
    base64Lines(Buffer.from(human.replace(/\n/g, '\r\n'), 'utf8')),
    `--${boundary}`,
    'Content-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n',
    `${deliveryStatus}\r\n`,
    `--${boundary}`,
    originalPart.replace(/(?:\r?\n)*$/, ''),
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return Buffer.from(`${head}\r\n\r\n${body}`, 'latin1');
}
