import type { Message } from '../mail/message.entity.ts';
import type { MessageFacts } from '../mail/message.facts.ts';
import type { ParsedAddress } from '../mail/message.parser.ts';
import type { Protocol } from '../mail/message.entity.ts';

/**
 * The one way a message enters a mailbox, whatever brought it (SMTP, IMAP import, the composer's Sent copy, a bounce,
 * later federation): keep the raw bytes, parse, resolve participants to contacts, find the conversation, store,
 * count usage against the quota, and queue indexing. Idempotent: the same (Message-ID, content hash) for the same
 * account is stored once, so retries and re-imports are harmless.
 */
export interface IngestRequest {
  accountId: string;
  /** The complete RFC 5322 message. */
  raw: Buffer;
  direction: 'inbound' | 'outbound';
  receivedAt: Date;
  facts: MessageFacts;
  /** Tags to start with: IMAP folder names, 'sent', 'bounce'... */
  tags?: string[];
  read?: boolean;
  /**
   * The protocol it came by (default `email`). Another protocol's message (XMPP chat) comes in a synthesised
   * text/plain form (its raw) with its participants given here, as addresses on that protocol: they resolve to the
   * contacts holding those identities, so one person's mail and chat share one conversation. No OpenPGP/Autocrypt
   * examination then (the raw is not the sender's MIME).
   */
  protocol?: Protocol;
  participants?: { from: ParsedAddress; to: ParsedAddress[] };
  /**
   * An outbound message encrypted here (the composer's Sent copy): the part it encrypted, which is what decrypting it
   * would give. Used instead of decrypting the copy again, and only when the account's key could decrypt it here, so
   * that the mailbox records exactly what it would have by decrypting.
   */
  encryptedPlaintext?: Buffer;
}

export interface IngestResult {
  message: Message;
  /** false when the message was already in the mailbox (nothing written). */
  inserted: boolean;
}

export interface MessageIngest {
  ingest(request: IngestRequest): Promise<IngestResult>;
  /**
   * Files several messages as one batch (one commit, one group of blob syncs, one index job): outcomes in request
   * order, one failing never fails the others, each idempotent like `ingest`. Absent (test doubles): callers file one
   * by one through `ingest`.
   */
  ingestBatch?(requests: readonly IngestRequest[]): Promise<PromiseSettledResult<IngestResult>[]>;
}
