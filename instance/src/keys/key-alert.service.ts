import type { Contact } from '../contacts/contact.entity.ts';
import type { ContactRepository } from '../contacts/contact.repository.ts';
import { AppError } from '../shared/errors.ts';
import type { CorrespondentKey } from './public-key.entity.ts';
import type { ConflictCursor, CorrespondentKeyRepository } from './public-key.repository.ts';

/**
 * A key alert: trust on first use pinned a key for an address, and a different one appeared since (status
 * `conflict`). The new key is not used until the user decides, and the contact's Privacy Index is capped meanwhile
 * (`cap.key_conflict`). Resolving is the contact key routes' work: verify the new key (it replaces the pinned one),
 * verify the pinned one (the new one is rejected), or reject the new one.
 */
export interface KeyAlert {
  address: string;
  /** The contact holding the address; null when no contact has it (keys are filed per address). */
  contact: Contact | null;
  /** The address's key in use (active), the one trust on first use pinned; null when none is active any more. */
  pinned: CorrespondentKey | null;
  /** The different key that appeared: when, and from where, are its firstSeenAt and source. */
  conflicting: CorrespondentKey;
}

export interface KeyAlertPage {
  items: KeyAlert[];
  /** Cursor of the next page; null on the last one. */
  next: string | null;
}

export interface KeyAlertServiceDeps {
  keys: Pick<CorrespondentKeyRepository, 'listConflicts' | 'listByAddress'>;
  contacts: Pick<ContactRepository, 'findByIdentity'>;
}

const FINGERPRINT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Opaque cursor over the listing order of the conflicts (first seen, address, fingerprint). */
export function encodeAlertCursor(k: Pick<CorrespondentKey, 'firstSeenAt' | 'address' | 'fingerprint'>): string {
  return Buffer.from(`a1\n${k.firstSeenAt.getTime()}\n${k.address}\n${k.fingerprint}`, 'utf8').toString('base64url');
}

export function decodeAlertCursor(cursor: string): ConflictCursor {
  const parts = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8').split('\n') : [];
  const [tag, ms, address, fingerprint] = parts;
  if (
    parts.length !== 4 ||
    tag !== 'a1' ||
    !/^\d{1,15}$/.test(ms!) ||
    address!.length === 0 ||
    address!.length > 320 ||
    /[\u0000-\u001f\u007f]/.test(address!) ||
    !FINGERPRINT.test(fingerprint!)
  ) {
    throw new AppError('validation_failed', 'The cursor is not one this API gave; start again without it.');
  }
  return { firstSeenAt: new Date(Number(ms)), address: address!, fingerprint: fingerprint! };
}

/** The account's key alerts (unresolved trust-on-first-use conflicts), newest first, paged. */
export class KeyAlertService {
  constructor(private readonly deps: KeyAlertServiceDeps) {}

  async list(accountId: string, page: { limit: number; cursor?: string }): Promise<KeyAlertPage> {
    const after = page.cursor === undefined ? undefined : decodeAlertCursor(page.cursor);
    const conflicts = await this.deps.keys.listConflicts(accountId, {
      limit: page.limit + 1,
      ...(after ? { after } : {}),
    });
    const shown = conflicts.slice(0, page.limit);
    // Several alerts may concern one address (two keys seen after the pinned one): read each address once.
    const perAddress = new Map<string, Promise<{ contact: Contact | null; pinned: CorrespondentKey | null }>>();
    const about = (address: string) => {
      let found = perAddress.get(address);
      if (found === undefined) {
        found = Promise.all([
          this.deps.contacts.findByIdentity(accountId, 'email', address),
          this.deps.keys.listByAddress(accountId, address),
        ]).then(([contact, keys]) => ({ contact, pinned: pinnedOf(keys) }));
        perAddress.set(address, found);
      }
      return found;
    };
    const items = await Promise.all(
      shown.map(async (conflicting) => ({
        address: conflicting.address,
        ...(await about(conflicting.address)),
        conflicting,
      })),
    );
    return { items, next: conflicts.length > page.limit ? encodeAlertCursor(shown.at(-1)!) : null };
  }
}

/** The key in use for the address: the active one (a verified one first, then the newest). */
function pinnedOf(keys: readonly CorrespondentKey[]): CorrespondentKey | null {
  const active = keys.filter((k) => k.status === 'active');
  active.sort((a, b) => Number(b.verifiedAt !== null) - Number(a.verifiedAt !== null));
  return active[0] ?? null;
}
