import { randomBytes } from 'node:crypto';

/**
 * What the user's open apps are told (GET /api/v1/events, Server-Sent Events). Ids only: an app fetches what it shows
 * through the ordinary API, so nothing here says more than the discussion list does.
 */
export type LiveEvent =
  | { type: 'message.new'; data: { discussionId: string; messageId: string; direction: 'inbound' | 'outbound' } }
  | { type: 'discussion.updated'; data: { discussionId: string } }
  | { type: 'notices.changed'; data: { reason: 'delivery.failed' | 'standing.changed' } }
  | { type: 'key-alerts.changed'; data: Record<string, never> };

/** One open stream of an account. */
export interface LiveConnection {
  send(id: string, event: LiveEvent): void;
}

/** Events kept per account for a reconnecting app (Last-Event-ID); older ones are answered by a `resync`. */
export const LIVE_REPLAY_KEPT = 100;

/** How long an account's recent events are kept after its last stream closed (a reconnection's window). */
export const LIVE_KEEP_AFTER_CLOSE_MS = 10 * 60_000;

interface AccountState {
  connections: Set<LiveConnection>;
  /** When its last stream closed (null: one is open). */
  closedAt: number | null;
  seq: number;
  recent: { seq: number; event: LiveEvent }[];
}

/**
 * The live-update hub of this process: the open streams by account, each account's recent events (ids
 * `<epoch>.<seq>`, the epoch new at each start, so that an id from before a restart asks for a resync), and the cap on
 * streams per account. Nothing is ever sent to another account's streams than the one named.
 */
export class LiveEventHub {
  readonly epoch = randomBytes(6).toString('hex');
  private readonly accounts = new Map<string, AccountState>();

  constructor(
    readonly maxPerAccount: number,
    private readonly now: () => number = Date.now,
  ) {}

  private state(accountId: string): AccountState {
    let s = this.accounts.get(accountId);
    if (s === undefined) {
      s = { connections: new Set(), closedAt: null, seq: 0, recent: [] };
      this.accounts.set(accountId, s);
    }
    return s;
  }

  /** Opens a stream for the account, or null when it has `maxPerAccount` open already. */
  attach(accountId: string, connection: LiveConnection): (() => void) | null {
    const s = this.state(accountId);
    if (s.connections.size >= this.maxPerAccount) return null;
    s.connections.add(connection);
    s.closedAt = null;
    return () => {
      s.connections.delete(connection);
      if (s.connections.size === 0) s.closedAt = this.now();
    };
  }

  openStreams(accountId: string): number {
    return this.accounts.get(accountId)?.connections.size ?? 0;
  }

  /** Tells every open stream of the account (and keeps the event for a reconnecting one). */
  push(accountId: string, event: LiveEvent): void {
    // An account without a stream open now or lately keeps nothing: its apps load afresh when they open.
    const s = this.accounts.get(accountId);
    if (s === undefined) return;
    if (s.connections.size === 0 && s.closedAt !== null && this.now() - s.closedAt > LIVE_KEEP_AFTER_CLOSE_MS) {
      this.accounts.delete(accountId);
      return;
    }
    s.seq += 1;
    s.recent.push({ seq: s.seq, event });
    if (s.recent.length > LIVE_REPLAY_KEPT) s.recent.shift();
    const id = `${this.epoch}.${s.seq}`;
    for (const c of s.connections) c.send(id, event);
  }

  /** Tells every account that has a stream open now or lately (an instance-wide change). */
  pushAll(event: LiveEvent): void {
    for (const accountId of this.accounts.keys()) this.push(accountId, event);
  }

  /**
   * What a stream reconnecting with `lastEventId` missed: the events after it, or 'resync' when they cannot be told
   * (an id from another start, malformed, or older than what is kept).
   */
  since(accountId: string, lastEventId: string): { id: string; event: LiveEvent }[] | 'resync' {
    const m = /^([0-9a-f]{12})\.(\d{1,15})$/.exec(lastEventId);
    if (!m || m[1] !== this.epoch) return 'resync';
    const seq = Number(m[2]);
    const s = this.state(accountId);
    if (seq > s.seq) return 'resync';
    const oldest = s.recent[0]?.seq ?? s.seq + 1;
    if (seq < oldest - 1) return 'resync';
    return s.recent.filter((r) => r.seq > seq).map((r) => ({ id: `${this.epoch}.${r.seq}`, event: r.event }));
  }

  /** The id of the account's last event (what a fresh stream is current with). */
  currentId(accountId: string): string {
    return `${this.epoch}.${this.state(accountId).seq}`;
  }
}
