import { randomUUID } from 'node:crypto';
import type { Page } from '../shared/paging.ts';
import type { MailboxLocks } from '../mail/mailbox-lock.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Storage } from '../database/storage.port.ts';
import type { Contact, ContactIdentity } from './contact.entity.ts';
import type { Protocol } from '../mail/message.entity.ts';
import { cleanDisplayName, cleanText, normaliseIdentityAddress } from '../mail/address.normalise.ts';
import { contactIdFromUid, formatVcard, parseVcards } from './contact.vcard.ts';

export interface IdentityInput {
  /** Defaults to 'email'. */
  protocol?: string;
  address: string;
  label?: string | null;
}

export interface ContactInput {
  displayName?: string;
  identities?: IdentityInput[];
  notes?: string;
}

export interface ImportReport {
  created: number;
  updated: number;
  /** Cards (or parts of cards) left out, and why. */
  skipped: { line: number; name: string | null; reason: string }[];
}

export const MAX_IDENTITIES = 50;
export const MAX_NOTES = 10_000;
const LIST_BATCH = 200;

/** Opaque cursor over (displayName, id), the contacts' listing order. */
export function encodeContactCursor(c: Contact): string {
  return Buffer.from(JSON.stringify([c.displayName, c.id]), 'utf8').toString('base64url');
}

function decodeContactCursor(s: string): { displayName: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      typeof v[1] === 'string' &&
      v[0].length <= 400 &&
      /^[0-9a-f-]{36}$/.test(v[1])
    ) {
      return { displayName: v[0], id: v[1] };
    }
  } catch {
    // falls through
  }
  throw new AppError('validation_failed', 'The cursor is not one this API gave; start again without it.');
}

/**
 * What merging contacts asks of the conversations domain (conversations/conversation.service.ts answers): move the
 * sources' conversations to the target. Named here so that contacts do not import the conversations, which import
 * contacts (issue 11).
 */
export interface ContactConversations {
  mergeContacts(
    accountId: string,
    target: Contact,
    sourceIds: ReadonlySet<string>,
  ): Promise<{ conversations: number; messagesMoved: number }>;
}

/**
 * The address book: contacts with several identities (an address on a protocol each). Contacts are created by the
 * user, imported from vCards, or created automatically from correspondence (`automaticFor`); an identity belongs to
 * at most one contact of an account. Merging contacts merges their conversations.
 */
export class ContactService {
  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    private readonly locks: MailboxLocks,
    private readonly conversations: ContactConversations,
  ) {}

  async list(accountId: string, page: { limit: number; cursor?: string }): Promise<Page<Contact>> {
    const after = page.cursor === undefined ? undefined : decodeContactCursor(page.cursor);
    const rows = await this.storage.contacts.list(accountId, { limit: page.limit + 1, ...(after ? { after } : {}) });
    const items = rows.slice(0, page.limit);
    return { items, next: rows.length > page.limit ? encodeContactCursor(items[items.length - 1]!) : null };
  }

  async get(accountId: string, id: string): Promise<Contact> {
    const c = await this.storage.contacts.get(accountId, id);
    if (c === null) throw new AppError('not_found', 'No such contact.');
    return c;
  }

  async create(accountId: string, input: ContactInput): Promise<Contact> {
    const identities = this.identities(input.identities ?? []);
    const displayName = cleanDisplayName(input.displayName) ?? identities[0]?.address;
    if (displayName === undefined)
      throw new AppError('validation_failed', 'A contact needs a display name or at least one identity.');
    const now = this.clock();
    const contact: Contact = {
      id: randomUUID(),
      accountId,
      displayName,
      identities,
      notes: cleanText(input.notes ?? '', MAX_NOTES),
      automatic: false,
      pi: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.locks.run(accountId, async () => {
      if (!(await this.storage.contacts.create(contact))) throw await this.identityTaken(accountId, contact);
    });
    return contact;
  }

  /** Changes what is given; an edited contact is no longer automatic. */
  async update(accountId: string, id: string, input: ContactInput): Promise<Contact> {
    return this.locks.run(accountId, async () => {
      const current = await this.get(accountId, id);
      const next: Contact = {
        ...current,
        displayName:
          input.displayName !== undefined
            ? (cleanDisplayName(input.displayName) ?? current.displayName)
            : current.displayName,
        identities: input.identities !== undefined ? this.identities(input.identities) : current.identities,
        notes: input.notes !== undefined ? cleanText(input.notes, MAX_NOTES) : current.notes,
        automatic: false,
        updatedAt: this.clock(),
      };
      if (!(await this.storage.contacts.update(next))) {
        if ((await this.storage.contacts.get(accountId, id)) === null)
          throw new AppError('not_found', 'No such contact.');
        throw await this.identityTaken(accountId, next);
      }
      return next;
    });
  }

  /** Deletes the contact. Its conversations stay (they keep its id in their participant set). */
  async delete(accountId: string, id: string): Promise<Contact> {
    return this.locks.run(accountId, async () => {
      const c = await this.get(accountId, id);
      await this.storage.contacts.delete(accountId, id);
      return c;
    });
  }

  /**
   * The contact of an address (email unless said), created as an automatic contact when there is none (caller holds the
   * account lock: called while a message is filed). An automatic contact named after its address takes the
   * display name a later message gives.
   */
  async automaticFor(
    accountId: string,
    address: string,
    name: string | null,
    protocol: Protocol = 'email',
  ): Promise<Contact> {
    const existing = await this.storage.contacts.findByIdentity(accountId, protocol, address);
    if (existing !== null) {
      if (existing.automatic && name !== null && existing.displayName === address) {
        const renamed = { ...existing, displayName: name, updatedAt: this.clock() };
        if (await this.storage.contacts.update(renamed)) return renamed;
      }
      return existing;
    }
    const now = this.clock();
    const contact: Contact = {
      id: randomUUID(),
      accountId,
      displayName: name ?? address,
      identities: [{ protocol, address, label: null }],
      notes: '',
      automatic: true,
      pi: null,
      createdAt: now,
      updatedAt: now,
    };
    if (await this.storage.contacts.create(contact)) return contact;
    const raced = await this.storage.contacts.findByIdentity(accountId, protocol, address);
    if (raced === null) throw new AppError('conflict', 'The contact of this address changed meanwhile; retry.');
    return raced;
  }

  /**
   * Merges `sourceIds` into `targetId`: the sources' identities move to the target, the sources are deleted, and
   * their conversations are merged into the target's (re-keyed, messages moved, counters summed).
   *
   * Not atomic across a crash: the port has no multi-contact transaction. The sources are deleted before the
   * target takes their identities (an identity belongs to one contact); a crash in between leaves those addresses
   * without a contact until the next message from them creates an automatic one.
   */
  async merge(
    accountId: string,
    targetId: string,
    sourceIds: string[],
  ): Promise<{ contact: Contact; conversations: number; messagesMoved: number }> {
    const sources = [...new Set(sourceIds)];
    if (sources.includes(targetId)) throw new AppError('contact_merge_invalid', 'The target cannot also be a source.');
    return this.locks.run(accountId, async () => {
      const target = await this.storage.contacts.get(accountId, targetId);
      if (target === null) throw new AppError('not_found', `No such contact: ${targetId}.`);
      const merged: Contact[] = [];
      for (const id of sources) {
        const c = await this.storage.contacts.get(accountId, id);
        if (c === null) throw new AppError('not_found', `No such contact: ${id}.`);
        merged.push(c);
      }
      const identities = dedupeIdentities([...target.identities, ...merged.flatMap((c) => c.identities)]);
      if (identities.length > MAX_IDENTITIES) {
        throw new AppError(
          'contact_merge_invalid',
          `The merged contact would have ${identities.length} identities (at most ${MAX_IDENTITIES}).`,
        );
      }
      const manual = [target, ...merged].find((c) => !c.automatic);
      const next: Contact = {
        ...target,
        displayName: target.automatic && manual ? manual.displayName : target.displayName,
        identities,
        notes: [target.notes, ...merged.map((c) => c.notes)]
          .filter((n) => n !== '')
          .join('\n\n')
          .slice(0, MAX_NOTES),
        automatic: manual === undefined,
        updatedAt: this.clock(),
      };
      for (const c of merged) await this.storage.contacts.delete(accountId, c.id);
      if (!(await this.storage.contacts.update(next)))
        throw new AppError('conflict', 'An address of these contacts was taken meanwhile; retry.');
      const moved = await this.conversations.mergeContacts(accountId, next, new Set(sources));
      return { contact: next, ...moved };
    });
  }

  /** Every contact of the account as one vCard 4.0 file. */
  async exportVcards(accountId: string): Promise<string> {
    const parts: string[] = [];
    let after: { displayName: string; id: string } | undefined;
    for (;;) {
      const rows = await this.storage.contacts.list(accountId, { limit: LIST_BATCH, ...(after ? { after } : {}) });
      for (const c of rows) parts.push(formatVcard(c));
      if (rows.length < LIST_BATCH) break;
      const last = rows[rows.length - 1]!;
      after = { displayName: last.displayName, id: last.id };
    }
    return parts.join('');
  }

  /**
   * Imports a vCard file. A card whose UID names one of the account's contacts (as our export writes it), or whose
   * addresses already belong to exactly one contact, updates that contact (addresses added, name and notes taken
   * from the card); otherwise a contact is created. Invalid addresses, and cards that would join two existing
   * contacts, are reported in `skipped`.
   */
  async importVcards(accountId: string, text: string): Promise<ImportReport> {
    const cards = parseVcards(text);
    const report: ImportReport = { created: 0, updated: 0, skipped: [] };
    for (const card of cards) {
      const skip = (reason: string) => report.skipped.push({ line: card.line, name: card.displayName, reason });
      const identities: ContactIdentity[] = [];
      for (const i of card.identities) {
        const address = normaliseIdentityAddress(i.protocol, i.address);
        if (address === null) skip(`${JSON.stringify(i.address.slice(0, 100))} is not a valid ${i.protocol} address`);
        else
          identities.push({
            protocol: i.protocol,
            address,
            label: i.label === null ? null : cleanText(i.label, 64) || null,
          });
      }
      const name = cleanDisplayName(card.displayName) ?? identities[0]?.address ?? null;
      if (name === null) {
        skip('the card has no name and no address');
        continue;
      }
      await this.locks.run(accountId, async () => {
        const owners = new Map<string, Contact>();
        const byUid = contactIdFromUid(card.uid);
        const uidContact = byUid === null ? null : await this.storage.contacts.get(accountId, byUid);
        if (uidContact !== null) owners.set(uidContact.id, uidContact);
        for (const i of identities) {
          const owner = await this.storage.contacts.findByIdentity(accountId, i.protocol, i.address);
          if (owner !== null) owners.set(owner.id, owner);
        }
        if (owners.size > 1) {
          skip(
            `its addresses belong to several contacts (${[...owners.values()].map((c) => c.displayName).join(', ')}): merge them first`,
          );
          return;
        }
        const existing = [...owners.values()][0];
        const now = this.clock();
        if (existing === undefined) {
          const contact: Contact = {
            id: randomUUID(),
            accountId,
            displayName: name,
            identities: dedupeIdentities(identities).slice(0, MAX_IDENTITIES),
            notes: cleanText(card.notes, MAX_NOTES),
            automatic: false,
            pi: null,
            createdAt: now,
            updatedAt: now,
          };
          if (await this.storage.contacts.create(contact)) report.created++;
          else skip('one of its addresses belongs to another contact');
          return;
        }
        const next: Contact = {
          ...existing,
          displayName: cleanDisplayName(card.displayName) ?? existing.displayName,
          identities: dedupeIdentities([...existing.identities, ...identities]).slice(0, MAX_IDENTITIES),
          notes: card.notes.trim() !== '' ? cleanText(card.notes, MAX_NOTES) : existing.notes,
          automatic: false,
          updatedAt: now,
        };
        if (await this.storage.contacts.update(next)) report.updated++;
        else skip('one of its addresses belongs to another contact');
      });
    }
    return report;
  }

  private identities(input: IdentityInput[]): ContactIdentity[] {
    if (input.length > MAX_IDENTITIES)
      throw new AppError('validation_failed', `A contact has at most ${MAX_IDENTITIES} identities.`);
    const out = input.map((i) => {
      const protocol = i.protocol ?? 'email';
      const address = normaliseIdentityAddress(protocol, i.address);
      if (address === null)
        throw new AppError(
          'identity_address_invalid',
          `${JSON.stringify(i.address.slice(0, 100))} is not a valid ${protocol} address.`,
        );
      const label = i.label ? cleanText(i.label, 64) || null : null;
      return { protocol, address, label };
    });
    return dedupeIdentities(out);
  }

  private async identityTaken(accountId: string, c: Contact): Promise<AppError> {
    for (const i of c.identities) {
      const owner = await this.storage.contacts.findByIdentity(accountId, i.protocol, i.address);
      if (owner !== null && owner.id !== c.id) {
        return new AppError(
          'contact_identity_taken',
          `${i.address} already belongs to the contact ${owner.id} (${owner.displayName}); merge the two contacts instead.`,
        );
      }
    }
    return new AppError('conflict', 'The contact changed meanwhile; reload and retry.');
  }
}

function dedupeIdentities(ids: ContactIdentity[]): ContactIdentity[] {
  const seen = new Set<string>();
  return ids.filter((i) => {
    const k = `${i.protocol}\u0000${i.address}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
