/** What the transparency log records. Each entry's bytes are the canonical JSON of a LogEntry. */
export type LogEntryType =
  | 'label.issued'
  | 'label.renewed'
  | 'label.revoked'
  | 'label.lapsed'
  | 'label.suspended'
  | 'label.reinstated'
  | 'pi.changed';

export interface LogEntry {
  type: LogEntryType;
  domain: string;
  labelId?: string;
  pi?: { score: number; level: string; modelVersion: string };
  reason?: string;
  /** NumericDate seconds. */
  at: number;
}

export interface StoredLogEntry {
  index: number;
  /** RFC 9162 leaf hash of `entry`'s UTF-8 bytes. */
  leafHash: Uint8Array;
  /** Canonical JSON of the LogEntry. */
  entry: string;
}

export interface StoredCheckpoint {
  treeSize: number;
  jws: string;
  timestamp: number;
}

/** The latest published feed, and what changed at each serial (deltas are built from that). */
export interface FeedPublication {
  serial: number;
  issuedAt: number;
  /** The signed envelope, as served. */
  envelope: Uint8Array;
  /** Base64 SHA-256 of the canonical feed body (its bodySha256, a delta's resultSha256). */
  digest: string;
  checkpointJws: string;
  /** Domains whose entry changed at this serial. */
  changedDomains: string[];
}
