import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Account } from '../accounts/account.entity.ts';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import type { MessageFacts } from '../messages/message.facts.ts';
import type { JobQueue } from '../queue/job-queue.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Clock } from '../shared/clock.ts';
import type { Storage } from '../storage/storage.port.ts';
import { buildBounce } from './bounce.ts';
import { CONTROL_CHARS, parseAddress, type EmailAddress } from './compose.address.ts';
import { asMessageIdHeader, buildMime, headerValue, messageIds, withoutHeaders, type MimeAttachment } from './compose.mime.ts';
import { signWithDkim, type DkimKey } from './dkim-key.ts';
import { SMTP_OUT_QUEUE, type DeliveryJob, type OnDelivered, type RecipientResult } from './smtp-outbound.types.ts';

export type RecipientKind = 'to' | 'cc' | 'bcc';

/** A recipient as the API takes it: an address (with an optional display name) or one of the sender's contacts. */
export interface RecipientInput {
  address?: string;
  name?: string;
  contactId?: string;
}

export interface AttachmentInput {
  filename: string;
  contentType: string;
  /** base64 (line breaks and spaces are tolerated). */
  content: string;
}

export interface ComposeInput {
  to?: RecipientInput[];
  cc?: RecipientInput[];
  bcc?: RecipientInput[];
  subject?: string;
  text?: string;
  html?: string;
  attachments?: AttachmentInput[];
  /** Id of a message of the account this one answers. */
  inReplyTo?: string;
}

export interface RecipientStatus {
  address: string;
  kind: RecipientKind;
  route: 'local' | 'smtp';
  status: 'delivered' | 'queued' | 'failed';
  detail?: string;
}

export interface SendResult {
  /** The stored Sent copy. */
  id: string;
  conversationId: string;
  /** The Message-ID header. */
  messageId: string;
  recipients: RecipientStatus[];
}

export interface ComposeDeps {
  domain: string;
  clock: Clock;
  storage: Storage;
  queue: JobQueue;
  ingest: MessageIngest;
  blobs: BlobStore;
  dkimKey: () => Promise<DkimKey>;
  limits: { maxRecipients: number; maxAttachmentBytes: number };
  retry: { attempts: number; baseDelayMs: number };
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Told of local deliveries (recorded on the Sent copy for its PI). */
  onDelivered?: OnDelivered;
}

const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Facts of a message that never left this instance (composed here, or delivered locally). */
export const LOCAL_FACTS: MessageFacts = {
  transport: { via: 'local', tls: null, clientIp: null, helo: null, receivedChain: [], externalHops: 0, plaintextHops: 0 },
  authentication: null,
};

interface ResolvedRecipient {
  kind: RecipientKind;
  name: string | null;
  email: EmailAddress;
  /** The local account, when the address is on this instance. */
  localAccount: Account | null;
}

/**
 * Sending mail: checks everything first (recipients, headers, attachments, the message answered) so that a refused
 * request stores and queues nothing; then builds the MIME message, signs it with the instance DKIM key, stores the
 * sender's Sent copy through ingest (the quota applies there), hands it to local recipients through ingest (no SMTP
 * hop) and queues one delivery job per remote domain.
 */
export class ComposeService {
  constructor(private readonly deps: ComposeDeps) {}

  async send(sender: Account, input: ComposeInput): Promise<SendResult> {
    const { deps } = this;
    const recipients = await this.resolveRecipients(sender, input);
    const subject = input.subject ?? '';
    if (CONTROL_CHARS.test(subject.replace(/\t/g, ' '))) throw new AppError('header_invalid', 'The subject contains a control character (CR, LF, NUL...).');
    const attachments = this.decodeAttachments(input.attachments ?? []);
    const thread = await this.threadOf(sender, input.inReplyTo);

    const now = deps.clock();
    const messageId = `<${randomUUID()}@${deps.domain}>`;
    const from = `${sender.username}@${deps.domain}`;
    const pick = (k: RecipientKind) => recipients.filter((r) => r.kind === k).map((r) => ({ name: r.name, address: r.email.address }));
    const mime = await buildMime({
      from: { name: headerSafe(sender.displayName) || null, address: from },
      to: pick('to'),
      cc: pick('cc'),
      bcc: pick('bcc'),
      subject,
      text: input.text ?? null,
      html: input.html ?? null,
      attachments,
      messageId,
      date: now,
      inReplyTo: thread.inReplyTo,
      references: thread.references,
    });
    const raw = await signWithDkim(mime, await deps.dkimKey(), now);

    // The Sent copy first: it is what the delivery jobs read, and the quota is checked there.
    const sent = await deps.ingest.ingest({ accountId: sender.id, raw, direction: 'outbound', receivedAt: now, facts: LOCAL_FACTS, tags: ['sent'], read: true });
    const transmitted = withoutHeaders(raw, ['bcc']);

    const statuses: RecipientStatus[] = [];
    const localFailures: (RecipientResult & { remoteMta: string | null })[] = [];
    const remote = new Map<string, string[]>();
    for (const r of recipients) {
      if (r.localAccount) {
        try {
          await deps.ingest.ingest({ accountId: r.localAccount.id, raw: transmitted, direction: 'inbound', receivedAt: now, facts: LOCAL_FACTS, read: false });
          statuses.push({ address: r.email.address, kind: r.kind, route: 'local', status: 'delivered' });
          await deps.onDelivered?.(sender.id, sent.message.id, { domain: deps.domain, via: 'local', tls: null, peer: null, at: now.toISOString() }).catch((err: unknown) => {
            deps.logger?.warn({ err, messageId: sent.message.id }, 'could not record the delivery on the Sent copy');
          });
        } catch (err) {
          const quota = err instanceof AppError && err.code === 'quota_exceeded';
          if (!quota) deps.logger?.error({ err, messageId: sent.message.id }, 'local delivery failed');
          const detail = quota ? "The recipient's mailbox is full." : 'The recipient could not be reached (internal error).';
          statuses.push({ address: r.email.address, kind: r.kind, route: 'local', status: 'failed', detail });
          localFailures.push({ address: r.email.address, outcome: 'failed', status: quota ? '5.2.2' : '4.3.0', diagnostic: detail, smtpReply: null, remoteMta: null });
        }
      } else {
        const list = remote.get(r.email.domain) ?? [];
        list.push(r.email.address);
        remote.set(r.email.domain, list);
        statuses.push({ address: r.email.address, kind: r.kind, route: 'smtp', status: 'queued' });
      }
    }

    for (const [domain, to] of remote) {
      const job: DeliveryJob = {
        accountId: sender.id,
        messageId: sent.message.id,
        from,
        domain,
        recipients: to,
        attempt: 1,
        queuedAt: now.toISOString(),
        history: [],
      };
      // Retries of SMTP-level failures are new jobs (see smtp-outbound.worker.ts); the queue's own attempts cover
      // only a crash of the handler itself.
      await deps.queue.enqueue(SMTP_OUT_QUEUE, 'deliver', job, {
        jobId: deliveryJobId(sent.message.id, domain, 1),
        attempts: 3,
        backoff: { type: 'exponential', baseDelayMs: deps.retry.baseDelayMs },
      });
    }
    deps.logger?.info(
      { messageId: sent.message.id, local: recipients.filter((r) => r.localAccount).length, remoteDomains: remote.size, bytes: raw.length },
      'message sent',
    );

    if (localFailures.length > 0) {
      const bounce = buildBounce({
        domain: deps.domain,
        to: from,
        original: transmitted,
        originalMessageId: messageId,
        originalSubject: subject,
        arrivalDate: now,
        now,
        failed: localFailures,
        attempts: 1,
      });
      await deps.ingest.ingest({ accountId: sender.id, raw: bounce, direction: 'inbound', receivedAt: now, facts: LOCAL_FACTS, tags: ['bounce'], read: false }).catch((err: unknown) => {
        deps.logger?.error({ err, messageId: sent.message.id }, 'could not store the bounce');
      });
    }

    return { id: sent.message.id, conversationId: sent.message.conversationId, messageId, recipients: statuses };
  }

  private async resolveRecipients(sender: Account, input: ComposeInput): Promise<ResolvedRecipient[]> {
    const { deps } = this;
    const given: [RecipientKind, RecipientInput, number][] = [];
    for (const kind of ['to', 'cc', 'bcc'] as const) (input[kind] ?? []).forEach((r, i) => given.push([kind, r, i]));
    if (given.length === 0) throw new AppError('no_recipients');
    if (given.length > deps.limits.maxRecipients) {
      throw new AppError('too_many_recipients', `${given.length} recipients; at most ${deps.limits.maxRecipients} per message.`);
    }
    const out: ResolvedRecipient[] = [];
    const seen = new Set<string>();
    for (const [kind, r, i] of given) {
      const where = `${kind}[${i}]`;
      if ((r.address === undefined) === (r.contactId === undefined)) {
        throw new AppError('recipient_invalid', `${where}: give either "address" or "contactId".`);
      }
      if (r.name !== undefined && CONTROL_CHARS.test(r.name)) throw new AppError('header_invalid', `${where}.name contains a control character.`);
      let name = r.name?.trim() || null;
      let address = r.address;
      if (r.contactId !== undefined) {
        const contact = await deps.storage.contacts.get(sender.id, r.contactId);
        if (!contact) throw new AppError('recipient_unknown', `${where}: no contact ${r.contactId} among yours.`);
        const email = contact.identities.find((id) => id.protocol === 'email');
        if (!email) throw new AppError('recipient_unknown', `${where}: the contact "${contact.displayName}" has no email address.`);
        address = email.address;
        name ??= headerSafe(contact.displayName) || null;
      }
      const parsed = parseAddress(address!);
      if (!parsed.ok) throw new AppError('recipient_invalid', `${where}: "${printable(address!)}" ${parsed.reason}.`);
      const key = parsed.value.address.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      let localAccount: Account | null = null;
      if (parsed.value.domain === deps.domain) {
        localAccount = await deps.storage.accounts.getByUsername(parsed.value.local.toLowerCase());
        if (!localAccount || localAccount.disabled) throw new AppError('recipient_unknown', `${where}: ${parsed.value.address} is not an account of this instance.`);
      }
      out.push({ kind, name, email: parsed.value, localAccount });
    }
    return out;
  }

  private decodeAttachments(list: AttachmentInput[]): MimeAttachment[] {
    let total = 0;
    return list.map((a, i) => {
      const where = `attachments[${i}]`;
      if (CONTROL_CHARS.test(a.filename) || a.filename.trim() === '') {
        throw new AppError('header_invalid', `${where}.filename is empty or contains a control character.`);
      }
      const contentType = a.contentType.trim().toLowerCase();
      if (!CONTENT_TYPE.test(contentType)) throw new AppError('attachment_invalid', `${where}.contentType "${printable(a.contentType)}" is not a type/subtype media type.`);
      if (/^(multipart|message)\//.test(contentType)) {
        throw new AppError('attachment_invalid', `${where}.contentType ${contentType} cannot be attached as is; send it as application/octet-stream.`);
      }
      const b64 = a.content.replace(/[\r\n\t ]/g, '');
      if (!BASE64.test(b64)) throw new AppError('attachment_invalid', `${where}.content is not valid base64.`);
      // Size from the encoded length, before decoding anything big.
      total += (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
      if (total > this.deps.limits.maxAttachmentBytes) {
        throw new AppError('attachments_too_large', `Attachments total more than ${this.deps.limits.maxAttachmentBytes} bytes.`);
      }
      return { filename: a.filename.trim(), contentType, content: Buffer.from(b64, 'base64') };
    });
  }

  /** In-Reply-To and References for an answer to one of the account's messages (RFC 5322 §3.6.4). */
  private async threadOf(sender: Account, inReplyTo: string | undefined): Promise<{ inReplyTo: string | null; references: string[] }> {
    if (inReplyTo === undefined) return { inReplyTo: null, references: [] };
    const original = await this.deps.storage.messages.get(sender.id, inReplyTo);
    if (!original || original.deletedAt) throw new AppError('not_found', `inReplyTo: no message ${inReplyTo} among yours.`);
    const parentId = asMessageIdHeader(original.externalId);
    if (!parentId) return { inReplyTo: null, references: [] };
    const raw = original.rawRef ? await this.deps.blobs.get(original.rawRef) : null;
    const earlier = raw ? messageIds(headerValue(raw, 'references') ?? headerValue(raw, 'in-reply-to')) : [];
    // Keep the chain bounded: the first id (the thread's root) and the most recent ones.
    const chain = [...earlier.filter((id) => id !== parentId), parentId];
    const references = chain.length > 20 ? [chain[0]!, ...chain.slice(-19)] : chain;
    return { inReplyTo: parentId, references };
  }
}

export const deliveryJobId = (messageId: string, domain: string, attempt: number) => `${messageId}.${domain}.${attempt}`;

/** A display name from stored data, made safe for a header (control characters become spaces). */
function headerSafe(s: string): string {
  return s.replace(new RegExp(CONTROL_CHARS.source, 'g'), ' ').replace(/\s+/g, ' ').trim();
}

/** User input echoed in an error detail: printable and short. */
function printable(s: string): string {
  const p = s.replace(new RegExp(CONTROL_CHARS.source, 'g'), '?');
  return p.length > 80 ? `${p.slice(0, 80)}…` : p;
}
