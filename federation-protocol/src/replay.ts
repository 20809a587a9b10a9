import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';

/**
 * The replay rule (SPEC.md, "Replay"): an envelope is accepted once. Its key is the sending instance and the
 * envelope id; the key is remembered until the envelope expires (plus the clock tolerance), and an envelope outside
 * its validity window is refused by time before any lookup, so nothing has to be remembered longer than
 * MAX_ENVELOPE_LIFETIME_SECONDS. A sender keeps the id across attempts to deliver one message: a retry whose earlier
 * attempt did arrive is refused as `envelope_replayed` and the sender treats it as delivered.
 *
 * `ReplayStore` is the port; `MemoryReplayStore` the in-memory adapter (one process, lost on restart: fine for tests
 * and a single process that refuses envelopes created before it started). A persistent adapter needs one atomic
 * "insert if absent" with an expiry — SQLite `INSERT OR IGNORE` into a table keyed by the key, then `changes() = 1`,
 * with a periodic `DELETE ... WHERE until <= now`; Cassandra `INSERT ... IF NOT EXISTS USING TTL`; Redis
 * `SET key 1 NX EXAT until` — and must commit in the same transaction as the stored message, or `forget` the key when
 * storing fails, so that a failed delivery can be retried.
 */

export type ReplayVerdict = 'fresh' | 'seen' | 'full';

export interface ReplayStore {
  /**
   * Atomically: when `key` is not remembered (or only until a time <= now), remember it until `until` and answer
   * `fresh`; otherwise answer `seen`. `full` when the store cannot remember more now.
   */
  rememberOnce(key: string, until: number, now: number): ReplayVerdict | Promise<ReplayVerdict>;
  /** Forgets a key, when the envelope it admitted could not be stored after all. */
  forget(key: string): void | Promise<void>;
}

export interface ReplayCheckInput {
  readonly from: { readonly instance: string };
  readonly id: string;
  readonly expires: number;
}

const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;

/** The key under which an envelope is remembered: the sending instance and the id. */
export function replayKey(envelope: Pick<ReplayCheckInput, 'from' | 'id'>): string {
  return `${envelope.from.instance} ${envelope.id}`;
}

/**
 * Accepts an opened envelope once: `envelope_expired` outside its window (checked first, without a lookup),
 * `envelope_replayed` when already accepted, `replay_store_full` when the store refuses to grow.
 */
export async function checkReplay(
  store: ReplayStore,
  envelope: ReplayCheckInput,
  options: { now: number; clockToleranceSeconds?: number },
): Promise<Result<{ readonly key: string }>> {
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (options.now - tolerance >= envelope.expires) {
    return fail('envelope_expired', `The envelope expired at ${envelope.expires}; it is ${options.now}.`);
  }
  const key = replayKey(envelope);
  const verdict = await store.rememberOnce(key, envelope.expires + tolerance, options.now);
  if (verdict === 'seen')
    return fail('envelope_replayed', `Envelope ${envelope.id} from ${envelope.from.instance} was already accepted.`);
  if (verdict === 'full') return fail('replay_store_full');
  return ok({ key });
}

/** In-memory replay store, bounded: expired keys are swept as it grows; past `maxEntries` live keys it answers `full`. */
export class MemoryReplayStore implements ReplayStore {
  private readonly entries = new Map<string, number>();
  private readonly maxEntries: number;
  private insertsSinceSweep = 0;

  constructor(options: { maxEntries?: number } = {}) {
    this.maxEntries = options.maxEntries ?? 1_000_000;
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1)
      throw new RangeError('maxEntries must be a positive integer.');
  }

  get size(): number {
    return this.entries.size;
  }

  rememberOnce(key: string, until: number, now: number): ReplayVerdict {
    const remembered = this.entries.get(key);
    if (remembered !== undefined && remembered > now) return 'seen';
    // Sweep when full, and otherwise after as many inserts as there are entries (amortised O(1) per insert).
    if (this.entries.size >= this.maxEntries || ++this.insertsSinceSweep > Math.max(1024, this.entries.size))
      this.sweep(now);
    if (remembered === undefined && this.entries.size >= this.maxEntries) return 'full';
    this.entries.set(key, until);
    return 'fresh';
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every key remembered until a time <= now. */
  sweep(now: number): void {
    this.insertsSinceSweep = 0;
    for (const [key, until] of this.entries) if (until <= now) this.entries.delete(key);
  }
}
