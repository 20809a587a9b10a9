import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { MAX_SENT_LOOKUP, type CorrespondenceRepository, type SentMessage } from './correspondence.repository.ts';

/** The correspondence ledger on SQLite: tables sent_message_ids and written_addresses (migration 5). */
export class SqliteCorrespondenceRepository implements CorrespondenceRepository {
  private readonly db: SqliteDb;
  private readonly insertSent;
  private readonly insertWritten;
  private readonly sentOne;
  private readonly writtenOne;

  constructor(db: SqliteDb) {
    this.db = db;
    this.insertSent = db.prepare<[string, string]>(
      'INSERT OR IGNORE INTO sent_message_ids (account_id, external_id) VALUES (?, ?)',
    );
    this.insertWritten = db.prepare<[string, string, string]>(
      'INSERT OR IGNORE INTO written_addresses (account_id, protocol, address) VALUES (?, ?, ?)',
    );
    this.sentOne = db.prepare<[string, string], { n: number }>(
      'SELECT 1 AS n FROM sent_message_ids WHERE account_id = ? AND external_id = ?',
    );
    this.writtenOne = db.prepare<[string, string, string], { n: number }>(
      'SELECT 1 AS n FROM written_addresses WHERE account_id = ? AND protocol = ? AND address = ?',
    );
  }

  async recordSent(accountId: string, sent: SentMessage): Promise<void> {
    this.db.transaction(() => {
      if (sent.externalId !== null) this.insertSent.run(accountId, sent.externalId);
      for (const r of sent.recipients) if (r.address !== '') this.insertWritten.run(accountId, r.protocol, r.address);
    })();
  }

  async sentAmong(accountId: string, externalIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const id of [...new Set(externalIds)].slice(0, MAX_SENT_LOOKUP)) {
      if (this.sentOne.get(accountId, id) !== undefined) out.add(id);
    }
    return out;
  }

  async hasWrittenTo(accountId: string, protocol: string, address: string): Promise<boolean> {
    return this.writtenOne.get(accountId, protocol, address) !== undefined;
  }
}
