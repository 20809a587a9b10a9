import type { Prekey } from '@caliopen/federation-protocol';
import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { PrekeyRepository, StoredPrekey } from './prekey.repository.ts';

interface Row {
  prekey: string;
  jws: string;
  private_sealed: string | null;
}

/** The prekeys in the instance's SQLite store (table federation_prekeys, keyed by slot: the window's start). */
export class SqlitePrekeyRepository implements PrekeyRepository {
  private readonly q;

  constructor(db: SqliteDb) {
    this.q = {
      list: db.prepare('SELECT prekey, jws, private_sealed FROM federation_prekeys ORDER BY not_before'),
      claim: db.prepare(
        'INSERT INTO federation_prekeys (not_before, kid, prekey, jws, private_sealed) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      deletePrivate: db.prepare('UPDATE federation_prekeys SET private_sealed = NULL WHERE kid = ?'),
      remove: db.prepare('DELETE FROM federation_prekeys WHERE kid = ?'),
    };
  }

  async list(): Promise<StoredPrekey[]> {
    return (this.q.list.all() as Row[]).map((r) => ({
      prekey: JSON.parse(r.prekey) as Prekey,
      jws: r.jws,
      privateSealed: r.private_sealed,
    }));
  }

  async claimSlot(entry: StoredPrekey): Promise<boolean> {
    const { prekey } = entry;
    return (
      this.q.claim.run(prekey.notBefore, prekey.kid, JSON.stringify(prekey), entry.jws, entry.privateSealed).changes ===
      1
    );
  }

  async deletePrivate(prekey: Prekey): Promise<void> {
    this.q.deletePrivate.run(prekey.kid);
  }

  async remove(prekey: Prekey): Promise<void> {
    this.q.remove.run(prekey.kid);
  }
}
