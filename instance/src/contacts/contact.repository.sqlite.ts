import type { StoredPi } from '../mail/message.entity.ts';
import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { fromMs, jsonOrNull, parseOrNull, toMs } from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import type { Contact, ContactIdentity } from './contact.entity.ts';
import type { ContactRepository } from './contact.repository.ts';

interface ContactRow {
  id: string;
  account_id: string;
  display_name: string;
  notes: string;
  automatic: number;
  pi_json: string | null;
  created_at: number;
  updated_at: number;
}

interface IdentityRow {
  protocol: string;
  address: string;
  label: string | null;
}

/** Drops repeated (protocol, address) pairs, keeping the first. */
function uniqueIdentities(ids: ContactIdentity[]): ContactIdentity[] {
  const seen = new Set<string>();
  return ids.filter((i) => {
    const k = `${i.protocol}\u0000${i.address}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export class SqliteContactRepository implements ContactRepository {
  private readonly db: SqliteDb;
  private readonly insertContact;
  private readonly insertIdentity;
  private readonly deleteIdentities;
  private readonly identitiesOf;
  private readonly one;
  private readonly firstPage;
  private readonly nextPage;
  private readonly byIdentity;
  private readonly updateContact;
  private readonly deleteContact;
  private readonly identityOwner;

  constructor(db: SqliteDb) {
    this.db = db;
    this.insertContact = db.prepare(
      `INSERT INTO contacts (id, account_id, display_name, notes, automatic, pi_json, created_at, updated_at)
       VALUES (@id, @accountId, @displayName, @notes, @automatic, @piJson, @createdAt, @updatedAt)`,
    );
    this.insertIdentity = db.prepare(
      `INSERT INTO contact_identities (account_id, protocol, address, contact_id, label, position)
       VALUES (@accountId, @protocol, @address, @contactId, @label, @position)`,
    );
    this.deleteIdentities = db.prepare<[string]>('DELETE FROM contact_identities WHERE contact_id = ?');
    this.identitiesOf = db.prepare<[string], IdentityRow>(
      'SELECT protocol, address, label FROM contact_identities WHERE contact_id = ? ORDER BY position',
    );
    this.identityOwner = db.prepare<[string, string, string], { contact_id: string }>(
      'SELECT contact_id FROM contact_identities WHERE account_id = ? AND protocol = ? AND address = ?',
    );
    this.one = db.prepare<[string, string], ContactRow>('SELECT * FROM contacts WHERE account_id = ? AND id = ?');
    this.firstPage = db.prepare<[string, number], ContactRow>(
      'SELECT * FROM contacts WHERE account_id = ? ORDER BY display_name, id LIMIT ?',
    );
    this.nextPage = db.prepare<[string, string, string, number], ContactRow>(
      `SELECT * FROM contacts WHERE account_id = ? AND (display_name, id) > (?, ?)
       ORDER BY display_name, id LIMIT ?`,
    );
    this.byIdentity = db.prepare<[string, string, string], ContactRow>(
      `SELECT c.* FROM contact_identities i JOIN contacts c ON c.id = i.contact_id
       WHERE i.account_id = ? AND i.protocol = ? AND i.address = ?`,
    );
    this.updateContact = db.prepare(
      `UPDATE contacts SET display_name = @displayName, notes = @notes, automatic = @automatic, pi_json = @piJson,
         updated_at = @updatedAt WHERE account_id = @accountId AND id = @id`,
    );
    this.deleteContact = db.prepare<[string, string]>('DELETE FROM contacts WHERE account_id = ? AND id = ?');
  }

  private hydrate(r: ContactRow): Contact {
    return {
      id: r.id,
      accountId: r.account_id,
      displayName: r.display_name,
      notes: r.notes,
      automatic: r.automatic === 1,
      pi: parseOrNull<StoredPi>(r.pi_json),
      createdAt: fromMs(r.created_at),
      updatedAt: fromMs(r.updated_at),
      identities: this.identitiesOf
        .all(r.id)
        .map((i) => ({ protocol: i.protocol, address: i.address, label: i.label })),
    };
  }

  /** false when an identity is held by another contact of the account. */
  private identitiesFree(c: Contact): boolean {
    return c.identities.every((i) => {
      const owner = this.identityOwner.get(c.accountId, i.protocol, i.address);
      return owner === undefined || owner.contact_id === c.id;
    });
  }

  private writeIdentities(c: Contact): void {
    uniqueIdentities(c.identities).forEach((i, position) => {
      this.insertIdentity.run({
        accountId: c.accountId,
        contactId: c.id,
        protocol: i.protocol,
        address: i.address,
        label: i.label,
        position,
      });
    });
  }

  private row(c: Contact) {
    return {
      id: c.id,
      accountId: c.accountId,
      displayName: c.displayName,
      notes: c.notes,
      automatic: c.automatic ? 1 : 0,
      piJson: jsonOrNull(c.pi),
      createdAt: toMs(c.createdAt),
      updatedAt: toMs(c.updatedAt),
    };
  }

  async create(contact: Contact): Promise<boolean> {
    return this.db
      .transaction(() => {
        if (!this.identitiesFree(contact)) return false;
        this.insertContact.run(this.row(contact));
        this.writeIdentities(contact);
        return true;
      })
      .immediate();
  }

  async get(accountId: string, id: string): Promise<Contact | null> {
    const r = this.one.get(accountId, id);
    return r ? this.hydrate(r) : null;
  }

  async list(
    accountId: string,
    page: { limit: number; after?: { displayName: string; id: string } },
  ): Promise<Contact[]> {
    const rows = page.after
      ? this.nextPage.all(accountId, page.after.displayName, page.after.id, page.limit)
      : this.firstPage.all(accountId, page.limit);
    return rows.map((r) => this.hydrate(r));
  }

  async findByIdentity(accountId: string, protocol: string, address: string): Promise<Contact | null> {
    const r = this.byIdentity.get(accountId, protocol, address);
    return r ? this.hydrate(r) : null;
  }

  async update(contact: Contact): Promise<boolean> {
    return this.db
      .transaction(() => {
        if (this.one.get(contact.accountId, contact.id) === undefined) return false;
        if (!this.identitiesFree(contact)) return false;
        this.updateContact.run(this.row(contact));
        this.deleteIdentities.run(contact.id);
        this.writeIdentities(contact);
        return true;
      })
      .immediate();
  }

  async delete(accountId: string, id: string): Promise<boolean> {
    return this.deleteContact.run(accountId, id).changes === 1;
  }
}
