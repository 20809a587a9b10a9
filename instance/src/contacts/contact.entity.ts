import type { Protocol, StoredPi } from '../mail/message.entity.ts';

/** One way to reach a contact: an address on a protocol. A contact may have many. */
export interface ContactIdentity {
  protocol: Protocol;
  /** Normalised address (see mail/address.normalise.ts). */
  address: string;
  label: string | null;
}

export interface Contact {
  id: string;
  accountId: string;
  displayName: string;
  identities: ContactIdentity[];
  notes: string;
  /** true when created from correspondence rather than by the user. */
  automatic: boolean;
  pi: StoredPi | null;
  createdAt: Date;
  updatedAt: Date;
}
