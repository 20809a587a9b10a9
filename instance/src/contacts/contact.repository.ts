import type { Contact } from './contact.entity.ts';

/** Port: contacts of an account, with a lookup from any of their identities. */
export interface ContactRepository {
  /**
   * Creates a contact. Resolves false (and writes nothing) when one of its identities already belongs to another
   * contact of the same account: an identity resolves to exactly one contact.
   */
  create(contact: Contact): Promise<boolean>;
  get(accountId: string, id: string): Promise<Contact | null>;
  /** Contacts ordered by display name then id, after the given key when given. */
  list(accountId: string, page: { limit: number; after?: { displayName: string; id: string } }): Promise<Contact[]>;
  findByIdentity(accountId: string, protocol: string, address: string): Promise<Contact | null>;
  /** Replaces the contact (identities included). Resolves false when an identity belongs to another contact. */
  update(contact: Contact): Promise<boolean>;
  delete(accountId: string, id: string): Promise<boolean>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly contacts: ContactRepository;
  }
}
