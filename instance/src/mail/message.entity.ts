/** Protocols a message can travel by. Email first; the model is open to others (federation, XMPP later). */
export type Protocol = 'email' | 'federation' | (string & {});

export interface Participant {
  protocol: Protocol;
  /** Normalised address on that protocol (lowercased domain for email). */
  address: string;
  name: string | null;
  /** The contact this address resolved to, when one did. */
  contactId: string | null;
}

/** A stored PI summary: score, level and the model version that computed it. */
export interface StoredPi {
  score: number;
  level: string;
  modelVersion: string;
}

export interface Message {
  id: string;
  accountId: string;
  conversationId: string;
  protocol: Protocol;
  direction: 'inbound' | 'outbound';
  /** Protocol-level id (the Message-ID header for email), when there is one. */
  externalId: string | null;
  /** SHA-256 (hex) of the raw bytes: with externalId, what makes imports and retries idempotent. */
  contentHash: string;
  from: Participant;
  to: Participant[];
  cc: Participant[];
  subject: string;
  snippet: string;
  /** Date the sender claims (header), and the date we received it. */
  sentAt: Date | null;
  receivedAt: Date;
  sizeBytes: number;
  /** Key of the raw message in the blob store (null when the protocol has no raw form). */
  rawRef: string | null;
  /** Subject-based thread key, for the secondary per-subject view. */
  threadKey: string | null;
  tags: string[];
  read: boolean;
  archived: boolean;
  deletedAt: Date | null;
  pi: StoredPi | null;
  importance: number;
  /** Verified facts gathered on the way in (transport, authentication, encryption...), as recorded. */
  facts: Record<string, unknown>;
}

/** The fields a user may change on a message. */
export interface MessageFlags {
  read?: boolean;
  archived?: boolean;
  tags?: string[];
  deletedAt?: Date | null;
  importance?: number;
  pi?: StoredPi | null;
  /** Replaces the recorded facts (the importance section keeps the user's feedback there). */
  facts?: Record<string, unknown>;
}
