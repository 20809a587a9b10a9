import { createHash } from 'node:crypto';

/**
 * The raw form a chat message is kept in: a small RFC 5322 text/plain message built from the chat's own facts only
 * (who, to whom, its id, its body), so that the same chat heard twice (live, then again from the archive after a
 * reconnect) gives the same bytes, hence the same (Message-ID, content hash) and is filed once by the ingest.
 * Nothing that changes between hearings (arrival time, delay stamps, resource) goes in.
 */
export interface ChatForm {
  /** Bare JIDs. */
  from: string;
  to: string;
  /** The chat's stable key (see XmppService.keyOf). */
  key: string;
  body: string;
}

/** Most characters of a chat body kept; longer bodies are cut (and the message says so in its facts). */
export const MAX_CHAT_BODY_CHARS = 100_000;

/**
 * An address as a header may carry it: internationalised addresses as UTF-8 (RFC 6532); anything that could end the
 * header or the angle brackets (line breaks, controls, spaces, `<>`) removed, whatever the caller passed.
 */
function headerAddress(s: string): string {
  return s.replace(/[\u0000-\u0020\u007f<>\u2028\u2029]/gu, '');
}

/** `<xmpp-<hash>@<domain of the account's JID>>`: derived from the key, whatever characters the key holds. */
export function chatMessageId(key: string, ownJid: string): string {
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 40);
  const domain = ownJid.slice(ownJid.lastIndexOf('@') + 1).replace(/[^a-z0-9.-]/gi, '') || 'xmpp.invalid';
  return `<xmpp-${digest}@${domain}>`;
}

export function chatToMime(form: ChatForm, ownJid: string): Buffer {
  const body = Buffer.from(form.body, 'utf8')
    .toString('base64')
    .replace(/.{1,76}/g, '$&\r\n');
  const headers = [
    `From: <${headerAddress(form.from)}>`,
    `To: <${headerAddress(form.to)}>`,
    `Message-ID: ${chatMessageId(form.key, ownJid)}`,
    'Subject: ',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    'X-Caliopen-Protocol: xmpp',
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}
