import type { Prekey } from '@caliopen/federation-protocol';
import { textOrNull } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import type { CassandraContext } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { TABLES } from '../database/cassandra.schema.ts';
import type { PrekeyRepository, StoredPrekey } from './prekey.repository.ts';

/** The one partition holding the instance's prekeys (a handful: the published ones and those in their grace period). */
const BUCKET = 'prekeys';

/**
 * The prekeys on Cassandra (table federation_prekeys, one partition, clustered by slot). A slot is claimed by a
 * lightweight transaction (`INSERT ... IF NOT EXISTS`), so of two processes generating a successor exactly one stores
 * it; every other write to the table is an LWT too, as the schema's rules require for cells written by one.
 */
export class CassandraPrekeyRepository implements PrekeyRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.federationPrekeys);
    this.q = {
      list: `SELECT prekey, jws, private_sealed FROM ${t} WHERE bucket = ?`,
      claim: `INSERT INTO ${t} (bucket, not_before, kid, prekey, jws, private_sealed) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
      deletePrivate: `UPDATE ${t} SET private_sealed = null WHERE bucket = ? AND not_before = ? IF kid = ?`,
      remove: `DELETE FROM ${t} WHERE bucket = ? AND not_before = ? IF kid = ?`,
    };
  }

  async list(): Promise<StoredPrekey[]> {
    const rows = await this.ctx.rows(this.q.list, [BUCKET]);
    return rows.map((r) => ({
      prekey: JSON.parse(String(r.get('prekey'))) as Prekey,
      jws: String(r.get('jws')),
      privateSealed: textOrNull(r.get('private_sealed')),
    }));
  }

  async claimSlot(entry: StoredPrekey): Promise<boolean> {
    const { prekey } = entry;
    const claim = await this.ctx.lwt(this.q.claim, [
      BUCKET,
      prekey.notBefore,
      prekey.kid,
      JSON.stringify(prekey),
      entry.jws,
      entry.privateSealed,
    ]);
    return claim.applied;
  }

  async deletePrivate(prekey: Prekey): Promise<void> {
    await this.ctx.lwt(this.q.deletePrivate, [BUCKET, prekey.notBefore, prekey.kid]);
  }

  async remove(prekey: Prekey): Promise<void> {
    await this.ctx.lwt(this.q.remove, [BUCKET, prekey.notBefore, prekey.kid]);
  }
}
