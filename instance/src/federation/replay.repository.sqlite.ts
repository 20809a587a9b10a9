import type { ReplayVerdict } from '@caliopen/federation-protocol';
import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { ReplayRepository } from './replay.repository.ts';

/** Every this many claims, the expired entries are swept (they live at most a day and a minute, SPEC.md §9). */
const SWEEP_EVERY = 1024;

/**
 * The replay record in the instance's SQLite store (table federation_replay). A claim is one transaction: drop the
 * key's expired entry, then `INSERT ... ON CONFLICT DO NOTHING` (a row changed = fresh). Never answers `full`.
 */
export class SqliteReplayRepository implements ReplayRepository {
  private readonly db: SqliteDb;
  private readonly q;
  private inserts = 0;

  /**
   * `durably` runs a write and resolves once it is on disk without holding the event loop for the fsync (the
   * storage's WalSync, ADR 0028); by default the write is simply run (its commit synced as the connection is set).
   */
  constructor(
    db: SqliteDb,
    private readonly durably: <T>(write: () => T) => Promise<T> = async (write) => write(),
  ) {
    this.db = db;
    this.q = {
      dropExpired: db.prepare('DELETE FROM federation_replay WHERE key = ? AND until <= ?'),
      sweep: db.prepare('DELETE FROM federation_replay WHERE until <= ?'),
      claim: db.prepare(
        'INSERT INTO federation_replay (key, until, receipt) VALUES (?, ?, NULL) ON CONFLICT (key) DO NOTHING',
      ),
      forget: db.prepare('DELETE FROM federation_replay WHERE key = ?'),
      setReceipt: db.prepare('UPDATE federation_replay SET receipt = ? WHERE key = ?'),
      receipt: db.prepare('SELECT receipt FROM federation_replay WHERE key = ?'),
    };
  }

  private readonly claimTx = (key: string, until: number, now: number): ReplayVerdict =>
    this.db
      .transaction((): ReplayVerdict => {
        this.q.dropExpired.run(key, now);
        if (++this.inserts >= SWEEP_EVERY) {
          this.inserts = 0;
          this.q.sweep.run(now);
        }
        return this.q.claim.run(key, until).changes === 1 ? 'fresh' : 'seen';
      })
      .immediate();

  async rememberOnce(key: string, until: number, now: number): Promise<ReplayVerdict> {
    return this.durably(() => this.claimTx(key, until, now));
  }

  async forget(key: string): Promise<void> {
    await this.durably(() => this.q.forget.run(key));
  }

  async setReceipt(key: string, receipt: string): Promise<void> {
    await this.durably(() => this.q.setReceipt.run(receipt, key));
  }

  async receiptOf(key: string): Promise<string | null> {
    const row = this.q.receipt.get(key) as { receipt: string | null } | undefined;
    return row?.receipt ?? null;
  }
}
