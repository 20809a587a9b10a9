import type { DeliveryEvents } from '../delivery/delivery.events.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import { randomUUID } from 'node:crypto';
import type { PrivateKey } from 'openpgp';
import type { Logger } from 'pino';
import type { Account } from '../accounts/account.entity.ts';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { AccountKeys } from '../keys/account-key.port.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import { LOCAL_FACTS } from '../mail/message.facts.ts';
import { authorsOf, parseHeaders } from '../mail/message.parser.ts';
import {
  AutocryptKeydataCache,
  autocryptHeader,
  ComposeError,
  encryptMimeParts,
  signMime,
  withHeader,
  wrapEncrypted,
} from '../openpgp/openpgp.compose.ts';
import type { JobQueue } from '@caliopen/platform/queue/job-queue.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Storage } from '../database/storage.port.ts';
import { buildBounce } from '../delivery/bounce.ts';
import { CONTROL_CHARS, parseAddress, type EmailAddress } from './compose.address.ts';
import {
  asMessageIdHeader,
  buildMime,
  headerValue,
  messageIds,
  withoutHeaders,
  type MimeAttachment,
} from '../mail/compose.mime.ts';
import {
  deliveryEnqueueOptions,
  deliveryJobId,
  SMTP_OUT_QUEUE,
  type RetryPolicy,
  type DeliveryJob,
  type RecipientResult,
} from '../delivery/delivery.types.ts';

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
  /**
   * The sender address: yours (default), or an imported address you may send as (its provider's submission server
   * set on the identity): then the message is relayed through that provider, without server-side OpenPGP nor the
   * federation.
   */
  from?: string;
  to?: RecipientInput[];
  cc?: RecipientInput[];
  bcc?: RecipientInput[];
  subject?: string;
  text?: string;
  html?: string;
  attachments?: AttachmentInput[];
  /** Id of a message of the account this one answers. */
  inReplyTo?: string;
  /**
   * End-to-end encryption (OpenPGP, RFC 3156): `auto` (default) encrypts when every recipient's key is known (or
   * found by WKD/DNS) and you have a key; `require` refuses to send otherwise (`encryption_unavailable`, naming the
   * recipients without a key); `none` never encrypts.
   */
  encryption?: 'auto' | 'require' | 'none';
  /** Sign with your OpenPGP key. Default: when the server can use your key (server-side key mode, unlocked). */
  sign?: boolean;
  /**
   * The message encrypted (and signed) on the sender's device, for a key kept there (client key mode): one armoured
   * OpenPGP message whose content is the MIME entity to deliver (its protected headers inside). Sent as it is in a
   * multipart/encrypted envelope (RFC 3156 §4), subject hidden; excludes text, html, attachments, sign and encryption.
   */
  encrypted?: string;
  /**
   * How remote recipients are reached: `auto` (default) the most private route open for each — the federation to a
   * labelled member instance, else email; `email` by email even where the federation is open (the user's override);
   * `federation` only over the federation: refused (`route_unavailable`, naming them) if some cannot be reached so.
   */
  route?: 'auto' | 'email' | 'federation';
  /**
   * If the federation closes before a message is delivered over it (a label lapses), send it by email rather than
   * return it to you. Default: the instance's policy (`federation.emailFallback`, off unless the operator set it).
   */
  emailFallback?: boolean;
}

export interface RecipientStatus {
  address: string;
  kind: RecipientKind;
  route: 'local' | 'smtp' | 'federation';
  status: 'delivered' | 'queued' | 'failed';
  detail?: string;
  /** The message went to this recipient encrypted end to end (OpenPGP). */
  encrypted: boolean;
}

export interface SendResult {
  /** The stored Sent copy. */
  id: string;
  conversationId: string;
  /** The Message-ID header. */
  messageId: string;
  recipients: RecipientStatus[];
  /** Encrypted end to end (to every recipient's key and yours). */
  encrypted: boolean;
  /** Signed with your OpenPGP key. */
  signed: boolean;
}

/** What compose needs for end-to-end encryption (the composition root, app/, gives it; without it nothing is encrypted). */
export interface ComposeOpenPgp {
  accountKeys: AccountKeys;
  /** The key to encrypt to for a recipient, as the sender's account knows it (KeyDiscoveryService.keyFor). */
  recipientKey(
    accountId: string,
    address: string,
    options: { discover: boolean },
  ): Promise<{ fingerprint: string; publicKey: Uint8Array } | null>;
  /** Whether the user asks for `prefer-encrypt=mutual` in their Autocrypt header (default: no preference). */
  preferEncrypt?: (accountId: string) => Promise<boolean>;
}

/** Delivery over the federation (federation.wiring.ts composeFederation): for recipients at a labelled peer instance. */
export interface ComposeFederation {
  /** True when mail for this domain goes over the federation now (a peer with a valid label, and ours valid). */
  routes(domain: string): boolean;
  /** Why it does not (for `route: federation` refusals). */
  reason(domain: string): string;
  /** The instance's policy when the sender did not say (`federation.emailFallback`). */
  emailFallback: boolean;
  /** Queues the delivery job (queue 'federation-out'). */
  enqueue(job: DeliveryJob): Promise<void>;
  /**
   * Asks the member instance of `address` whether it exists (SPEC.md §12.1): `unknown` refuses the message before it
   * is queued; `unverified` (not a member, no answer) leaves it to the peer's inbox.
   */
  checkRecipient?(address: string): Promise<'exists' | 'unknown' | 'unverified'>;
}

interface OpenPgpPlan {
  /** Recipients' keys (the sender's own is added) when the message is to be encrypted, else null. */
  encryptTo: Uint8Array[] | null;
  ownKey: Uint8Array | null;
  signer: PrivateKey | null;
  /** The Autocrypt header line, when the sender has a key. */
  autocrypt: string | null;
}

/** Sending as an imported address (identities/send-as.service.ts): mail relayed through the address's provider. */
export interface ComposeSendAs {
  /** Whether the account may send as `address` through one of its imported identities. */
  has(accountId: string, address: string): Promise<boolean>;
  /** Submits the message to the provider with the identity's credentials; resolves once it accepted it. */
  relay(
    accountId: string,
    address: string,
    envelope: { from: string; to: string[] },
    raw: Buffer,
  ): Promise<{ host: string }>;
}

export interface ComposeDeps {
  domain: string;
  clock: Clock;
  storage: Storage;
  queue: JobQueue;
  ingest: MessageIngest;
  blobs: BlobStore;
  limits: { maxRecipients: number; maxAttachmentBytes: number };
  retry: RetryPolicy;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Told of local deliveries (recorded on the Sent copy for its PI). */
  events?: EventPublisher<DeliveryEvents>;
  /** End-to-end encryption (without it nothing is encrypted). */
  openpgp?: ComposeOpenPgp;
  /** Routing of recipients at labelled peer instances over the federation instead of SMTP. */
  federation?: ComposeFederation;
  /** Imported addresses the account may send as, relayed through their provider. */
  sendAs?: ComposeSendAs;
}

const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface ResolvedRecipient {
  kind: RecipientKind;
  name: string | null;
  email: EmailAddress;
  /** The local account, when the address is on this instance. */
  localAccount: Account | null;
}

/**
 * Sending mail: checks everything first (recipients, headers, attachments, the message answered) so that a refused
 * request stores and queues nothing; then builds the MIME message (signed with DKIM only if and when it leaves by
 * SMTP: the delivery worker signs it at each attempt, ADR 0030), stores the
 * sender's Sent copy through ingest (the quota applies there), hands it to local recipients through ingest (no SMTP
 * hop) and queues one delivery job per remote domain.
 */
export class ComposeService {
  private readonly openpgp: ComposeOpenPgp | null;
  private readonly federation: ComposeFederation | null;
  /** The senders' Autocrypt keydata, the same on each of their messages: built once per key (and address). */
  private readonly autocryptKeydata = new AutocryptKeydataCache();

  constructor(private readonly deps: ComposeDeps) {
    this.openpgp = deps.openpgp ?? null;
    this.federation = deps.federation ?? null;
  }

  async send(sender: Account, input: ComposeInput): Promise<SendResult> {
    const { deps } = this;
    const preEncrypted = input.encrypted;
    if (preEncrypted !== undefined) {
      const extra = (['text', 'html', 'attachments', 'sign', 'encryption'] as const).filter(
        (k) => input[k] !== undefined,
      );
      if (extra.length > 0)
        throw new AppError(
          'encrypted_body_invalid',
          `An encrypted body is sent as it is: drop ${extra.map((k) => `\`${k}\``).join(', ')}.`,
        );
    }
    if (
      input.from !== undefined &&
      input.from.trim().toLowerCase() !== `${sender.username}@${deps.domain}`.toLowerCase()
    )
      return this.sendAsImported(sender, input.from.trim().toLowerCase(), input);
    const recipients = await this.resolveRecipients(sender, input);
    const subject = input.subject ?? '';
    if (CONTROL_CHARS.test(subject.replace(/\t/g, ' ')))
      throw new AppError('header_invalid', 'The subject contains a control character (CR, LF, NUL...).');
    const attachments = this.decodeAttachments(input.attachments ?? []);
    const thread = await this.threadOf(sender, input.inReplyTo);
    const routeChoice = input.route ?? 'auto';
    const overFederation = (domain: string) => routeChoice !== 'email' && (this.federation?.routes(domain) ?? false);
    if (routeChoice === 'federation') {
      // Refused before anything is stored: who cannot be reached over the federation, and why.
      const closed = recipients.filter((r) => !r.localAccount && !overFederation(r.email.domain));
      if (closed.length > 0) {
        const why = closed.map(
          (r) => `${r.email.address} (${this.federation?.reason(r.email.domain) ?? 'this instance does not federate'})`,
        );
        throw new AppError('route_unavailable', `Not reachable over the federation: ${why.join('; ')}.`);
      }
    }

    const now = deps.clock();
    const messageId = `<${randomUUID()}@${deps.domain}>`;
    const from = `${sender.username}@${deps.domain}`;
    // Encryption and signature decided before anything is stored: a refusal (require, sign) leaves nothing behind.
    const plan =
      preEncrypted !== undefined
        ? await this.planPreEncrypted(sender, from, now)
        : await this.planOpenPgp(sender, from, recipients, input, now);
    const pick = (k: RecipientKind) =>
      recipients.filter((r) => r.kind === k).map((r) => ({ name: r.name, address: r.email.address }));
    const composed = await buildMime({
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
    const { mime, plaintext } =
      preEncrypted !== undefined
        ? { mime: await this.wrapPreEncrypted(composed, preEncrypted, plan.autocrypt), plaintext: undefined }
        : await this.protect(
            composed,
            plan,
            recipients.some((r) => r.kind === 'bcc'),
            now,
          );
    return this.dispatch(sender, {
      from,
      raw: mime,
      recipients,
      messageId,
      subject,
      now,
      overFederation,
      emailFallback: input.emailFallback,
      encrypted: preEncrypted !== undefined || plan.encryptTo !== null,
      signed: plan.signer !== null,
      ...(plaintext !== undefined ? { plaintext } : {}),
    });
  }

  /** Whether the account may send as `address` (its own address on this instance). */
  async sendsAs(sender: Account, address: string): Promise<boolean> {
    if (address.toLowerCase() === `${sender.username}@${this.deps.domain}`.toLowerCase()) return true;
    return (await this.deps.sendAs?.has(sender.id, address)) ?? false;
  }

  /**
   * A message a mail app submitted (SMTP submission, RFC 6409), as the app wrote it: the same path as `send` from the
   * Sent copy on (local delivery, federation or SMTP routing with its DKIM signature, bounces). The From (and Sender) must be
   * addresses of the account (`sender_not_owned` otherwise); recipients are the envelope's (RCPT TO), those not in
   * To or Cc being blind copies; the Bcc field is never transmitted. A Message-ID and a Date are added when missing.
   * The app's own OpenPGP (if any) is left as it is: nothing is encrypted or signed here.
   */
  async submit(sender: Account, input: { raw: Buffer; recipients: string[]; mailFrom?: string }): Promise<SendResult> {
    const { deps } = this;
    const own = `${sender.username}@${deps.domain}`.toLowerCase();
    const authors = authorsOf(input.raw);
    if (authors.from.length === 0)
      throw new AppError('sender_not_owned', `The message has no From field; it must be ${own}.`);
    const imported = authors.from.length === 1 ? authors.from[0]?.toLowerCase() : undefined;
    if (
      imported &&
      imported !== own &&
      authors.sender.every((a) => a?.toLowerCase() === imported) &&
      (await deps.sendAs?.has(sender.id, imported))
    )
      return this.relayImported(sender, imported, input);
    for (const a of [...authors.from, ...authors.sender]) {
      if (a?.toLowerCase() !== own)
        throw new AppError(
          'sender_not_owned',
          `${a === null ? 'An unreadable address' : printable(a)} in From/Sender is not an address of your account (${own}).`,
        );
    }
    const headers = parseHeaders(input.raw);
    const inHeader = (list: { address: string | null }[]) =>
      new Set(list.map((a) => a.address?.toLowerCase()).filter((a): a is string => !!a));
    const to = inHeader(headers.to);
    const cc = inHeader(headers.cc);
    const given: ComposeInput = { to: [], cc: [], bcc: [] };
    for (const address of input.recipients) {
      const key = address.toLowerCase();
      (to.has(key) ? given.to : cc.has(key) ? given.cc : given.bcc)!.push({ address });
    }
    const recipients = await this.resolveRecipients(sender, given);

    const now = deps.clock();
    let mime = input.raw;
    let messageId = headers.messageId;
    if (messageId === null) {
      messageId = `<${randomUUID()}@${deps.domain}>`;
      mime = withHeader(mime, `Message-ID: ${messageId}`);
    }
    if (headerValue(mime, 'date') === null)
      mime = withHeader(mime, `Date: ${now.toUTCString().replace('GMT', '+0000')}`);
    return this.dispatch(sender, {
      from: own,
      raw: mime,
      recipients,
      messageId,
      subject: headers.subject,
      now,
      overFederation: (domain) => this.federation?.routes(domain) ?? false,
      emailFallback: undefined,
      encrypted: false,
      signed: false,
    });
  }

  /** `send` with `from` an imported address: composed here, relayed through its provider (relayImported). */
  private async sendAsImported(sender: Account, address: string, input: ComposeInput): Promise<SendResult> {
    if (!(await this.deps.sendAs?.has(sender.id, address)))
      throw new AppError('sender_not_owned', `${printable(address)} is not an address you can send as.`);
    const unavailable = [
      input.encrypted !== undefined && '`encrypted`',
      input.encryption === 'require' && 'encryption `require`',
      input.sign === true && '`sign`',
      input.route === 'federation' && 'route `federation`',
    ].filter(Boolean);
    if (unavailable.length > 0)
      throw new AppError(
        'send_as_invalid',
        `Mail from ${address} goes through its provider: ${unavailable.join(', ')} cannot be honoured.`,
      );
    const recipients = await this.resolveRecipients(sender, input);
    const subject = input.subject ?? '';
    if (CONTROL_CHARS.test(subject.replace(/\t/g, ' ')))
      throw new AppError('header_invalid', 'The subject contains a control character (CR, LF, NUL...).');
    const attachments = this.decodeAttachments(input.attachments ?? []);
    const thread = await this.threadOf(sender, input.inReplyTo);
    const now = this.deps.clock();
    const pick = (k: RecipientKind) =>
      recipients.filter((r) => r.kind === k).map((r) => ({ name: r.name, address: r.email.address }));
    const raw = await buildMime({
      from: { name: headerSafe(sender.displayName) || null, address },
      to: pick('to'),
      cc: pick('cc'),
      bcc: pick('bcc'),
      subject,
      text: input.text ?? null,
      html: input.html ?? null,
      attachments,
      messageId: `<${randomUUID()}@${address.slice(address.lastIndexOf('@') + 1)}>`,
      date: now,
      inReplyTo: thread.inReplyTo,
      references: thread.references,
    });
    return this.relayImported(sender, address, { raw, recipients: recipients.map((r) => r.email.address) });
  }

  /**
   * A message from an imported address: relayed through that address's provider (with the identity's submission
   * credentials), then its Sent copy stored. Nothing is signed in this instance's name: the provider's domain is not
   * ours. A refusal of the provider leaves no Sent copy and reaches the mail app as the provider said it.
   */
  private async relayImported(
    sender: Account,
    address: string,
    input: { raw: Buffer; recipients: string[] },
  ): Promise<SendResult> {
    const { deps } = this;
    if (input.recipients.length === 0) throw new AppError('no_recipients');
    if (input.recipients.length > deps.limits.maxRecipients)
      throw new AppError(
        'too_many_recipients',
        `${input.recipients.length} recipients; at most ${deps.limits.maxRecipients} per message.`,
      );
    const recipients = input.recipients.map((r, i) => {
      const parsed = parseAddress(r);
      if (!parsed.ok) throw new AppError('recipient_invalid', `recipient ${i}: "${printable(r)}" ${parsed.reason}.`);
      return parsed.value.address;
    });
    const now = deps.clock();
    const headers = parseHeaders(input.raw);
    let raw = input.raw;
    let messageId = headers.messageId;
    if (messageId === null) {
      messageId = `<${randomUUID()}@${address.slice(address.lastIndexOf('@') + 1)}>`;
      raw = withHeader(raw, `Message-ID: ${messageId}`);
    }
    if (headerValue(raw, 'date') === null) raw = withHeader(raw, `Date: ${now.toUTCString().replace('GMT', '+0000')}`);
    const { host } = await deps.sendAs!.relay(
      sender.id,
      address,
      { from: address, to: recipients },
      withoutHeaders(raw, ['bcc']),
    );
    const sent = await deps.ingest.ingest({
      accountId: sender.id,
      raw,
      direction: 'outbound',
      receivedAt: now,
      facts: LOCAL_FACTS,
      tags: ['sent'],
      read: true,
    });
    deps.logger?.info({ messageId: sent.message.id, relayed: true, recipients: recipients.length }, 'message relayed');
    const to = new Set(headers.to.map((a) => a.address?.toLowerCase()));
    const cc = new Set(headers.cc.map((a) => a.address?.toLowerCase()));
    return {
      id: sent.message.id,
      conversationId: sent.message.conversationId,
      messageId,
      recipients: recipients.map((r) => ({
        address: r,
        kind: to.has(r.toLowerCase()) ? 'to' : cc.has(r.toLowerCase()) ? 'cc' : 'bcc',
        route: 'smtp',
        status: 'delivered',
        detail: `relayed through ${host}`,
        encrypted: false,
      })),
      encrypted: false,
      signed: false,
    };
  }

  /** Stores the Sent copy, delivers to local recipients, queues one job per remote domain, bounces local failures. */
  private async dispatch(
    sender: Account,
    m: {
      from: string;
      raw: Buffer;
      recipients: ResolvedRecipient[];
      messageId: string;
      subject: string;
      now: Date;
      overFederation: (domain: string) => boolean;
      emailFallback: boolean | undefined;
      encrypted: boolean;
      signed: boolean;
      /** Encrypted here: the part that was encrypted (the Sent copy is filed without decrypting it again). */
      plaintext?: Buffer;
    },
  ): Promise<SendResult> {
    const { deps } = this;
    const { from, raw, recipients, messageId, subject, now, overFederation, encrypted } = m;

    // The Sent copy first: it is what the delivery jobs read, and the quota is checked there.
    const sent = await deps.ingest.ingest({
      accountId: sender.id,
      raw,
      direction: 'outbound',
      receivedAt: now,
      facts: LOCAL_FACTS,
      tags: ['sent'],
      read: true,
      ...(m.plaintext !== undefined ? { encryptedPlaintext: m.plaintext } : {}),
    });
    const transmitted = withoutHeaders(raw, ['bcc']);

    const statuses: RecipientStatus[] = [];
    const localFailures: (RecipientResult & { remoteMta: string | null })[] = [];
    const remote = new Map<string, string[]>();
    const federated = new Set<string>();
    for (const r of recipients) {
      if (r.localAccount) {
        try {
          await deps.ingest.ingest({
            accountId: r.localAccount.id,
            raw: transmitted,
            direction: 'inbound',
            receivedAt: now,
            facts: LOCAL_FACTS,
            read: false,
          });
          statuses.push({ address: r.email.address, kind: r.kind, route: 'local', status: 'delivered', encrypted });
          await deps.events?.publish('delivery.recorded', {
            accountId: sender.id,
            messageId: sent.message.id,
            fact: { domain: deps.domain, via: 'local', tls: null, peer: null, at: now.toISOString() },
          });
        } catch (err) {
          const quota = err instanceof AppError && err.code === 'quota_exceeded';
          if (!quota) deps.logger?.error({ err, messageId: sent.message.id }, 'local delivery failed');
          const detail = quota
            ? "The recipient's mailbox is full."
            : 'The recipient could not be reached (internal error).';
          statuses.push({
            address: r.email.address,
            kind: r.kind,
            route: 'local',
            status: 'failed',
            detail,
            encrypted,
          });
          localFailures.push({
            address: r.email.address,
            outcome: 'failed',
            status: quota ? '5.2.2' : '4.3.0',
            diagnostic: detail,
            smtpReply: null,
            remoteMta: null,
          });
        }
      } else {
        const list = remote.get(r.email.domain) ?? [];
        list.push(r.email.address);
        remote.set(r.email.domain, list);
        const federates = overFederation(r.email.domain);
        if (federates) federated.add(r.email.domain);
        statuses.push({
          address: r.email.address,
          kind: r.kind,
          route: federates ? 'federation' : 'smtp',
          status: 'queued',
          encrypted,
        });
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
      if (federated.has(domain)) {
        await this.federation!.enqueue({
          ...job,
          emailFallback: m.emailFallback ?? this.federation!.emailFallback,
        });
        continue;
      }
      await deps.queue.enqueue(
        SMTP_OUT_QUEUE,
        'deliver',
        job,
        deliveryEnqueueOptions(deliveryJobId(sent.message.id, domain, 1), deps.retry),
      );
    }
    deps.logger?.info(
      {
        messageId: sent.message.id,
        local: recipients.filter((r) => r.localAccount).length,
        remoteDomains: remote.size,
        bytes: raw.length,
        encrypted,
        signed: m.signed,
      },
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
      await deps.ingest
        .ingest({
          accountId: sender.id,
          raw: bounce,
          direction: 'inbound',
          receivedAt: now,
          facts: LOCAL_FACTS,
          tags: ['bounce'],
          read: false,
        })
        .catch((err: unknown) => {
          deps.logger?.error({ err, messageId: sent.message.id }, 'could not store the bounce');
        });
    }

    return {
      id: sent.message.id,
      conversationId: sent.message.conversationId,
      messageId,
      recipients: statuses,
      encrypted,
      signed: m.signed,
    };
  }

  /**
   * Whether to encrypt and sign, with which keys (see ComposeInput.encryption / sign). Encryption needs a key for every
   * recipient (to, cc and bcc) and one of the sender's own: the Sent copy is the very message sent, and must stay
   * readable to its owner. Recipients are looked up (WKD, DNS) only when the sender has a key.
   */
  private async planOpenPgp(
    sender: Account,
    from: string,
    recipients: ResolvedRecipient[],
    input: ComposeInput,
    now: Date,
  ): Promise<OpenPgpPlan> {
    const mode = input.encryption ?? 'auto';
    const o = this.openpgp;
    if (o === null) {
      if (mode === 'require')
        throw new AppError('encryption_unavailable', 'End-to-end encryption is not available on this instance.');
      if (input.sign === true)
        throw new AppError('signing_key_unavailable', 'OpenPGP signatures are not available on this instance.');
      return { encryptTo: null, ownKey: null, signer: null, autocrypt: null };
    }
    const [own, unlocked] = await Promise.all([o.accountKeys.publicKey(sender.id), o.accountKeys.unlocked(sender.id)]);
    const sign = input.sign ?? unlocked !== null;
    if (sign && unlocked === null) {
      throw new AppError(
        'signing_key_unavailable',
        own === null
          ? 'You have no OpenPGP key: create or import one to sign.'
          : 'The server cannot use your private key (kept on your devices, or locked until you sign in again).',
      );
    }
    let autocrypt: string | null = null;
    if (own !== null) {
      try {
        const keydata = await this.autocryptKeydata.get(own.publicKey, from, now);
        autocrypt = autocryptHeader({
          address: from,
          keydata,
          preferEncrypt: (await o.preferEncrypt?.(sender.id)) ?? false,
        });
      } catch (err) {
        this.deps.logger?.warn({ err }, 'no Autocrypt header: the sender key cannot be used for it');
      }
    }
    const plan: OpenPgpPlan = {
      encryptTo: null,
      ownKey: own?.publicKey ?? null,
      signer: sign ? unlocked : null,
      autocrypt,
    };
    if (mode === 'none') return plan;
    if (own === null) {
      if (mode === 'require')
        throw new AppError(
          'encryption_unavailable',
          'You have no OpenPGP key of your own: your copy of the message could not be encrypted for you. Create or import a key first.',
          { recipients: [from] },
        );
      return plan;
    }
    const found = await Promise.all(
      recipients.map(async (r) => ({
        address: r.email.address,
        key: await o.recipientKey(sender.id, r.email.address, { discover: true }),
      })),
    );
    const missing = found.filter((f) => f.key === null).map((f) => f.address);
    if (missing.length > 0) {
      if (mode === 'require') {
        throw new AppError(
          'encryption_unavailable',
          `No OpenPGP key is known for ${missing.slice(0, 20).map(printable).join(', ')}${missing.length > 20 ? ` and ${missing.length - 20} more` : ''}.`,
          {
            recipients: missing,
          },
        );
      }
      return plan;
    }
    return { ...plan, encryptTo: found.map((f) => f.key!.publicKey) };
  }

  /** A message encrypted on the sender's device: nothing to encrypt or sign here, the Autocrypt header only. */
  private async planPreEncrypted(sender: Account, from: string, now: Date): Promise<OpenPgpPlan> {
    const own = this.openpgp === null ? null : await this.openpgp.accountKeys.publicKey(sender.id);
    let autocrypt: string | null = null;
    if (own !== null && this.openpgp !== null) {
      try {
        autocrypt = autocryptHeader({
          address: from,
          keydata: await this.autocryptKeydata.get(own.publicKey, from, now),
          preferEncrypt: (await this.openpgp.preferEncrypt?.(sender.id)) ?? false,
        });
      } catch (err) {
        this.deps.logger?.warn({ err }, 'no Autocrypt header: the sender key cannot be used for it');
      }
    }
    return { encryptTo: null, ownKey: own?.publicKey ?? null, signer: null, autocrypt };
  }

  private async wrapPreEncrypted(composed: Buffer, armored: string, autocrypt: string | null): Promise<Buffer> {
    try {
      return await wrapEncrypted({ raw: composed, armored, autocrypt });
    } catch (err) {
      if (err instanceof ComposeError) throw new AppError('encrypted_body_invalid', err.message);
      throw err;
    }
  }

  /**
   * The composed message encrypted and signed, or signed, or with the Autocrypt header only, as planned; when it was
   * encrypted, the part that was (what the Sent copy decrypts to).
   */
  private async protect(
    composed: Buffer,
    plan: OpenPgpPlan,
    hasBcc: boolean,
    now: Date,
  ): Promise<{ mime: Buffer; plaintext?: Buffer }> {
    try {
      if (plan.encryptTo !== null && plan.ownKey !== null) {
        const { message, plaintext } = await encryptMimeParts({
          raw: composed,
          encryptionKeys: [...plan.encryptTo, plan.ownKey],
          signingKey: plan.signer,
          hideRecipients: hasBcc,
          autocrypt: plan.autocrypt,
          now,
        });
        return { mime: message, plaintext };
      }
      if (plan.signer !== null)
        return { mime: await signMime({ raw: composed, signingKey: plan.signer, autocrypt: plan.autocrypt, now }) };
      return { mime: plan.autocrypt === null ? composed : withHeader(composed, plan.autocrypt) };
    } catch (err) {
      if (err instanceof ComposeError)
        throw new AppError(plan.encryptTo !== null ? 'encryption_unavailable' : 'signing_key_unavailable', err.message);
      throw err;
    }
  }

  private async resolveRecipients(sender: Account, input: ComposeInput): Promise<ResolvedRecipient[]> {
    const { deps } = this;
    const given: [RecipientKind, RecipientInput, number][] = [];
    for (const kind of ['to', 'cc', 'bcc'] as const)
      (input[kind] ?? []).forEach((r, i) => {
        given.push([kind, r, i]);
      });
    if (given.length === 0) throw new AppError('no_recipients');
    if (given.length > deps.limits.maxRecipients) {
      throw new AppError(
        'too_many_recipients',
        `${given.length} recipients; at most ${deps.limits.maxRecipients} per message.`,
      );
    }
    const out: ResolvedRecipient[] = [];
    const seen = new Set<string>();
    for (const [kind, r, i] of given) {
      const where = `${kind}[${i}]`;
      if ((r.address === undefined) === (r.contactId === undefined)) {
        throw new AppError('recipient_invalid', `${where}: give either "address" or "contactId".`);
      }
      if (r.name !== undefined && CONTROL_CHARS.test(r.name))
        throw new AppError('header_invalid', `${where}.name contains a control character.`);
      let name = r.name?.trim() || null;
      let address = r.address;
      if (r.contactId !== undefined) {
        const contact = await deps.storage.contacts.get(sender.id, r.contactId);
        if (!contact) throw new AppError('recipient_unknown', `${where}: no contact ${r.contactId} among yours.`);
        const email = contact.identities.find((id) => id.protocol === 'email');
        if (!email)
          throw new AppError(
            'recipient_unknown',
            `${where}: the contact "${contact.displayName}" has no email address.`,
          );
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
        if (!localAccount || localAccount.disabled)
          throw new AppError(
            'recipient_unknown',
            `${where}: ${parsed.value.address} is not an account of this instance.`,
          );
      }
      if (localAccount === null && deps.federation?.checkRecipient) {
        if ((await deps.federation.checkRecipient(parsed.value.address)) === 'unknown')
          throw new AppError(
            'recipient_unknown',
            `${where}: ${parsed.value.domain} says it has no user ${parsed.value.address}; nothing was sent.`,
          );
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
      if (!CONTENT_TYPE.test(contentType))
        throw new AppError(
          'attachment_invalid',
          `${where}.contentType "${printable(a.contentType)}" is not a type/subtype media type.`,
        );
      if (/^(multipart|message)\//.test(contentType)) {
        throw new AppError(
          'attachment_invalid',
          `${where}.contentType ${contentType} cannot be attached as is; send it as application/octet-stream.`,
        );
      }
      const b64 = a.content.replace(/[\r\n\t ]/g, '');
      if (!BASE64.test(b64)) throw new AppError('attachment_invalid', `${where}.content is not valid base64.`);
      // Size from the encoded length, before decoding anything big.
      total += (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
      if (total > this.deps.limits.maxAttachmentBytes) {
        throw new AppError(
          'attachments_too_large',
          `Attachments total more than ${this.deps.limits.maxAttachmentBytes} bytes.`,
        );
      }
      return { filename: a.filename.trim(), contentType, content: Buffer.from(b64, 'base64') };
    });
  }

  /** In-Reply-To and References for an answer to one of the account's messages (RFC 5322 §3.6.4). */
  private async threadOf(
    sender: Account,
    inReplyTo: string | undefined,
  ): Promise<{ inReplyTo: string | null; references: string[] }> {
    if (inReplyTo === undefined) return { inReplyTo: null, references: [] };
    const original = await this.deps.storage.messages.get(sender.id, inReplyTo);
    if (!original || original.deletedAt)
      throw new AppError('not_found', `inReplyTo: no message ${inReplyTo} among yours.`);
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

/** A display name from stored data, made safe for a header (control characters become spaces). */
function headerSafe(s: string): string {
  return s.replace(new RegExp(CONTROL_CHARS.source, 'g'), ' ').replace(/\s+/g, ' ').trim();
}

/** User input echoed in an error detail: printable and short. */
function printable(s: string): string {
  const p = s.replace(new RegExp(CONTROL_CHARS.source, 'g'), '?');
  return p.length > 80 ? `${p.slice(0, 80)}…` : p;
}
