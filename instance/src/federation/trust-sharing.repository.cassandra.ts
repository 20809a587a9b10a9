import { TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext } from '@caliopen/platform/cassandra/cassandra.context.ts';
import type { TrustSharingRepository } from './trust-sharing.repository.ts';

/** The users' trust-sharing preference on Cassandra (table trust_sharing, one partition per account). */
export class CassandraTrustSharingRepository implements TrustSharingRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.trustSharing);
    this.q = {
      get: `SELECT share FROM ${t} WHERE account_id = ?`,
      set: `INSERT INTO ${t} (account_id, share, updated_at) VALUES (?, ?, ?)`,
    };
  }

  async sharesTrust(accountId: string): Promise<boolean> {
    const row = await this.ctx.one(this.q.get, [accountId]);
    return row?.get('share') === true;
  }

  async setSharesTrust(accountId: string, share: boolean, at: Date): Promise<void> {
    await this.ctx.write(this.q.set, [accountId, share, at]);
  }
}
