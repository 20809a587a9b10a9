import { dateOrNull, listOf, textOrNull } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { piFromUdt, piToUdt, TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext, Row, Statement, UniqueClaims } from '@caliopen/platform/cassandra/cassandra.context.ts';
import type { Contact, ContactIdentity } from './contact.entity.ts';
import type { ContactRepository } from './contact.repository.ts';

const COLUMNS = 'account_id, contact_id, display_name, identities, notes, automatic, pi, created_at, updated_at';

const identityKey = (i: { protocol: string; address: string }) => `${i.protocol}\u0000${i.address}`;

/** Drops repeated (protocol, address) pairs, keeping the first (as the embedded store does). */
function uniqueIdentities(ids: ContactIdentity[]): ContactIdentity[] {
  const seen = new Set<string>();
  return ids.filter((i) => {
    const k = identityKey(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const holds = (c: Contact, protocol: string, address: string) =>
  c.identities.some((i) => i.protocol === protocol && i.address === address);

/** null for a missing row, and for the ghost an update leaves when it races a delete (no created_at). */
function toContact(r: Row | null): Contact | null {
  const createdAt = r ? dateOrNull(r.get('created_at')) : null;
  if (r === null || createdAt === null) return null;
  return {
    id: r.get('contact_id') as string,
    accountId: r.get('account_id') as string,
    displayName: r.get('display_name') as string,
    identities: listOf<{ protocol: string; address: string; label: string | null }>(r.get('identities')).map((u) => ({
      protocol: u.protocol,
      address: u.address,
      label: textOrNull(u.label),
    })),
    notes: (r.get('notes') as string | null) ?? '',
    automatic: r.get('automatic') === true,
    pi: piFromUdt(r.get('pi')),
    createdAt,
    updatedAt: dateOrNull(r.get('updated_at')) ?? createdAt,
  };
}

/**
 * Contacts on Cassandra: contacts_by_account holds each contact (identities as a frozen list), contacts_by_name
 * orders keys by (display name, id), contact_by_identity maps an identity to its one owner.
 *
 * An identity is claimed by LWT before the contact that lists it is written, in one canonical order (so of two
 * writers wanting overlapping identities, the one that gets the first common identity wins and the other gives
 * back what it took). A claim only counts while its owner still lists the identity: lookups check it, and a claim
 * left behind by a crashed writer is taken over once abandoned (CLAIM_GRACE_MS).
 */
export class CassandraContactRepository implements ContactRepository {
  private readonly ctx: CassandraContext;
  private readonly identities: UniqueClaims;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    this.identities = ctx.claims(TABLES.contactByIdentity, ['account_id', 'protocol', 'address'], 'contact_id');
    const byAccount = ctx.table(TABLES.contactsByAccount);
    const byName = ctx.table(TABLES.contactsByName);
    this.q = {
      insert: `INSERT INTO ${byAccount} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      update: `UPDATE ${byAccount} SET display_name = ?, identities = ?, notes = ?, automatic = ?, pi = ?, updated_at = ?
        WHERE account_id = ? AND contact_id = ?`,
      delete: `DELETE FROM ${byAccount} WHERE account_id = ? AND contact_id = ?`,
      one: `SELECT ${COLUMNS} FROM ${byAccount} WHERE account_id = ? AND contact_id = ?`,
      some: `SELECT ${COLUMNS}, WRITETIME(display_name) AS name_written FROM ${byAccount}
        WHERE account_id = ? AND contact_id IN ?`,
      insertName: `INSERT INTO ${byName} (account_id, display_name, contact_id) VALUES (?, ?, ?)`,
      deleteName: `DELETE FROM ${byName} WHERE account_id = ? AND display_name = ? AND contact_id = ?`,
      repairName: `DELETE FROM ${byName} USING TIMESTAMP ? WHERE account_id = ? AND display_name = ? AND contact_id = ?`,
      firstPage: `SELECT display_name, contact_id FROM ${byName} WHERE account_id = ? LIMIT ?`,
      nextPage: `SELECT display_name, contact_id FROM ${byName}
        WHERE account_id = ? AND (display_name, contact_id) > (?, ?) LIMIT ?`,
    };
  }

  async create(contact: Contact): Promise<boolean> {
    const identities = uniqueIdentities(contact.identities);
    if (!(await this.claimIdentities(contact.accountId, contact.id, identities, new Set()))) return false;
    await this.ctx.loggedBatch([
      {
        query: this.q.insert,
        params: [
          contact.accountId,
          contact.id,
          contact.displayName,
          identities,
          contact.notes,
          contact.automatic,
          piToUdt(contact.pi),
          contact.createdAt,
          contact.updatedAt,
        ],
      },
      { query: this.q.insertName, params: [contact.accountId, contact.displayName, contact.id] },
    ]);
    return true;
  }

  async get(accountId: string, id: string): Promise<Contact | null> {
    return toContact(await this.ctx.one(this.q.one, [accountId, id]));
  }

  async list(
    accountId: string,
    page: { limit: number; after?: { displayName: string; id: string } },
  ): Promise<Contact[]> {
    const out: Contact[] = [];
    let after = page.after;
    while (out.length < page.limit) {
      const need = page.limit - out.length;
      const keys = after
        ? await this.ctx.rows(this.q.nextPage, [accountId, after.displayName, after.id, need])
        : await this.ctx.rows(this.q.firstPage, [accountId, need]);
      if (keys.length === 0) break;
      out.push(...(await this.hydrate(accountId, keys)));
      if (keys.length < need) break;
      const last = keys.at(-1)!;
      after = { displayName: last.get('display_name') as string, id: last.get('contact_id') as string };
    }
    return out;
  }

  async findByIdentity(accountId: string, protocol: string, address: string): Promise<Contact | null> {
    const owner = await this.identities.owner([accountId, protocol, address]);
    if (owner === null) return null;
    const contact = await this.get(accountId, owner);
    return contact !== null && holds(contact, protocol, address) ? contact : null;
  }

  async update(contact: Contact): Promise<boolean> {
    const current = await this.get(contact.accountId, contact.id);
    if (current === null) return false;
    const identities = uniqueIdentities(contact.identities);
    const held = new Set(current.identities.map(identityKey));
    if (!(await this.claimIdentities(contact.accountId, contact.id, identities, held))) return false;
    const batch: Statement[] = [
      {
        query: this.q.update,
        params: [
          contact.displayName,
          identities,
          contact.notes,
          contact.automatic,
          piToUdt(contact.pi),
          contact.updatedAt,
          contact.accountId,
          contact.id,
        ],
      },
      { query: this.q.insertName, params: [contact.accountId, contact.displayName, contact.id] },
    ];
    if (current.displayName !== contact.displayName) {
      batch.push({ query: this.q.deleteName, params: [contact.accountId, current.displayName, contact.id] });
    }
    await this.ctx.loggedBatch(batch);
    const kept = new Set(identities.map(identityKey));
    await this.releaseIdentities(
      current,
      current.identities.filter((i) => !kept.has(identityKey(i))),
    );
    return true;
  }

  async delete(accountId: string, id: string): Promise<boolean> {
    const current = await this.get(accountId, id);
    if (current === null) return false;
    await this.ctx.loggedBatch([
      { query: this.q.delete, params: [accountId, id] },
      { query: this.q.deleteName, params: [accountId, current.displayName, id] },
    ]);
    await this.releaseIdentities(current, current.identities);
    return true;
  }

  /**
   * Claims, in canonical order, the identities the contact does not hold yet. On the first one held by another
   * contact, gives back those this call took and resolves false: nothing stays written.
   */
  private async claimIdentities(
    accountId: string,
    contactId: string,
    identities: ContactIdentity[],
    alreadyHeld: Set<string>,
  ): Promise<boolean> {
    const wanted = identities
      .filter((i) => !alreadyHeld.has(identityKey(i)))
      .sort((a, b) => (identityKey(a) < identityKey(b) ? -1 : identityKey(a) > identityKey(b) ? 1 : 0));
    const taken: ContactIdentity[] = [];
    for (const i of wanted) {
      const outcome = await this.identities.acquire([accountId, i.protocol, i.address], contactId, async (owner) => {
        const holder = await this.get(accountId, owner);
        return holder !== null && holds(holder, i.protocol, i.address) ? holder : null;
      });
      if (!outcome.won) {
        await Promise.all(taken.map((t) => this.identities.release([accountId, t.protocol, t.address], contactId)));
        return false;
      }
      taken.push(i);
    }
    return true;
  }

  private async releaseIdentities(contact: Contact, identities: ContactIdentity[]): Promise<void> {
    await Promise.all(
      identities.map((i) => this.identities.release([contact.accountId, i.protocol, i.address], contact.id)),
    );
  }

  /**
   * The contacts of these name keys (one IN query on the account's partition), in key order. A key whose contact
   * is gone or renamed is stale (a lost race between two writers): skipped, and deleted with the timestamp of the
   * contact's current name, so the delete can never hide a key written after that name.
   */
  private async hydrate(accountId: string, keys: Row[]): Promise<Contact[]> {
    const ids = [...new Set(keys.map((k) => k.get('contact_id') as string))];
    const rows = await this.ctx.rows(this.q.some, [accountId, ids]);
    const byId = new Map(rows.map((r) => [r.get('contact_id') as string, r]));
    const out: Contact[] = [];
    for (const k of keys) {
      const id = k.get('contact_id') as string;
      const name = k.get('display_name') as string;
      const row = byId.get(id) ?? null;
      const contact = toContact(row);
      if (contact !== null && contact.displayName === name) {
        out.push(contact);
      } else if (contact !== null && row !== null) {
        await this.ctx.write(this.q.repairName, [row.get('name_written'), accountId, name, id]);
      }
    }
    return out;
  }
}
