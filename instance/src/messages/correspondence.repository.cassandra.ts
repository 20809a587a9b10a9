import { TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { MAX_SENT_LOOKUP, type CorrespondenceRepository, type SentMessage } from './correspondence.repository.ts';

/**
 * The correspondence ledger on Cassandra: sent_message_ids and written_addresses, one tiny partition per
 * (account, Message-ID) and per (account, address), key columns only (existence is the whole record). Plain
 * idempotent inserts: writing the same key twice is harmless.
 */
export class CassandraCorrespondenceRepository implements CorrespondenceRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const sent = ctx.table(TABLES.sentMessageIds);
    const written = ctx.table(TABLES.writtenAddresses);
    this.q = {
      insertSent: `INSERT INTO ${sent} (account_id, external_id) VALUES (?, ?)`,
      insertWritten: `INSERT INTO ${written} (account_id, protocol, address) VALUES (?, ?, ?)`,
      // A bounded IN over partition keys (at most MAX_SENT_LOOKUP), all of one account.
      sentAmong: `SELECT external_id FROM ${sent} WHERE account_id = ? AND external_id IN ?`,
      writtenOne: `SELECT address FROM ${written} WHERE account_id = ? AND protocol = ? AND address = ?`,
    };
  }

  async recordSent(accountId: string, sent: SentMessage): Promise<void> {
    const writes: Promise<void>[] = [];
    if (sent.externalId !== null) writes.push(this.ctx.write(this.q.insertSent, [accountId, sent.externalId]));
    const seen = new Set<string>();
    for (const r of sent.recipients) {
      const key = `${r.protocol}\u0000${r.address}`;
      if (r.address === '' || seen.has(key)) continue;
      seen.add(key);
      writes.push(this.ctx.write(this.q.insertWritten, [accountId, r.protocol, r.address]));
    }
    await Promise.all(writes);
  }

  async sentAmong(accountId: string, externalIds: readonly string[]): Promise<Set<string>> {
    const ids = [...new Set(externalIds)].slice(0, MAX_SENT_LOOKUP);
    if (ids.length === 0) return new Set();
    const rows = await this.ctx.rows(this.q.sentAmong, [accountId, ids]);
    return new Set(rows.map((r) => r.get('external_id') as string));
  }

  async hasWrittenTo(accountId: string, protocol: string, address: string): Promise<boolean> {
    return (await this.ctx.one(this.q.writtenOne, [accountId, protocol, address])) !== null;
  }
}
