import type { SpamFacts, TlsFacts } from '../mail/message.facts.ts';

/**
 * Port: the durable spool between SMTP acceptance and delivery into mailboxes. The SMTP server appends a message and
 * answers `250` only once `append` resolves, i.e. once the message is on disk; the spool worker drains it
 * (authenticate, ingest for each recipient) and removes an entry only after every recipient has it.
 * Adapter: inbound-spool.sqlite.ts (`<dataDir>/spool.db`, group commit).
 */

export interface SpoolRecipient {
  /** The address as given in RCPT TO. */
  address: string;
  accountId: string;
}

/** What the SMTP session measured itself (the parsed trace and authentication come later, off the acceptance path). */
export interface SpoolTransport {
  tls: TlsFacts | null;
  clientIp: string;
  /** Name given in HELO/EHLO. */
  helo: string | null;
  /** The spam filter's verdict at SMTP time (or `unchecked`), when a filter is configured. */
  spam?: SpamFacts;
}

export interface SpoolEntryInput {
  receivedAt: Date;
  /** MAIL FROM ('' for the null sender of bounces). */
  mailFrom: string;
  recipients: SpoolRecipient[];
  transport: SpoolTransport;
  raw: Buffer;
}

export interface SpoolEntry extends SpoolEntryInput {
  id: string;
  /** Delivery attempts that failed so far. */
  attempts: number;
}

export interface SpoolCounts {
  /** Waiting for (another) delivery attempt. */
  queued: number;
  /** Given up after the maximum attempts: kept for the operator, never deleted silently. */
  dead: number;
}

export interface InboundSpool {
  /** Stores the message durably; resolves its spool id once the commit that holds it is on disk. */
  append(entry: SpoolEntryInput): Promise<string>;
  /** Ids of entries due for an attempt at `now`, oldest first, leaving out `exclude` (entries being worked on). */
  due(now: Date, limit: number, exclude: ReadonlySet<string>): Promise<string[]>;
  /** When the next deferred entry becomes due (null when none is waiting). */
  nextDueAt(): Promise<Date | null>;
  get(id: string): Promise<SpoolEntry | null>;
  /** Removes delivered entries (one commit for the lot). */
  remove(ids: readonly string[]): Promise<void>;
  /** Records a failed attempt: retried at `retryAt`, or kept as dead when `retryAt` is null. */
  defer(id: string, error: string, retryAt: Date | null): Promise<void>;
  counts(): Promise<SpoolCounts>;
  /** Called after each commit that appended entries (the worker wakes up on it). */
  onAppend(listener: () => void): void;
  /** Commits what is pending, then closes. */
  close(): Promise<void>;
}
