/**
 * Port: the account's own correspondence, as the importance model needs it — the Message-IDs of the messages the
 * account sent (to recognise replies to them) and the addresses it has written to (senders it knows). Existence
 * only: no subject, no date, no body. Written at ingest of every outbound message (the composer's sent copy, IMAP
 * import of a Sent folder); deleted with the account.
 */
export interface SentMessage {
  /** The Message-ID (`<id>` form), when the message has one. */
  externalId: string | null;
  /** Normalised addresses it was written to (To and Cc), the account's own addresses excluded. */
  recipients: readonly { protocol: string; address: string }[];
}

/** At most this many Message-IDs are looked up at once (a References header can be long). */
export const MAX_SENT_LOOKUP = 50;

export interface CorrespondenceRepository {
  /** Records an outbound message. Idempotent. */
  recordSent(accountId: string, sent: SentMessage): Promise<void>;
  /** Which of these Message-IDs are of messages the account sent (only the first MAX_SENT_LOOKUP are looked at). */
  sentAmong(accountId: string, externalIds: readonly string[]): Promise<Set<string>>;
  /** Whether the account has written to this address. */
  hasWrittenTo(accountId: string, protocol: string, address: string): Promise<boolean>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    /** The account's own correspondence (sent Message-IDs, addresses written to), for the importance model. */
    readonly correspondence: CorrespondenceRepository;
  }
}
