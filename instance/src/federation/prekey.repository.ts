import type { Prekey } from '@caliopen/federation-protocol';

/** One prekey as held: the public claims, the signed form as published, the private half sealed by the master key. */
export interface StoredPrekey {
  readonly prekey: Prekey;
  /** The signed prekey as published (SPEC.md §7). */
  readonly jws: string;
  /** The private JWK sealed by the master key; null once deleted (the entry stays while its window is published). */
  readonly privateSealed: string | null;
}

/**
 * Port: this instance's prekeys (SPEC.md §7), shared by every process of the instance, so that an envelope sealed to
 * a prekey one process published opens in any other. One prekey per rotation slot (its window's start): of two
 * processes generating a successor at once, `claimSlot` lets exactly one store it, and the other uses the winner's.
 * Adapters: prekey.repository.sqlite.ts, prekey.repository.cassandra.ts; covered by storage.conformance.ts.
 */
export interface PrekeyRepository {
  /** Every prekey held, oldest window first. */
  list(): Promise<StoredPrekey[]>;
  /** Stores `entry` in its slot (`prekey.notBefore`) unless one is there already; false when another got it first. */
  claimSlot(entry: StoredPrekey): Promise<boolean>;
  /** Deletes a prekey's private half for good (forward secrecy); its public entry stays. */
  deletePrivate(prekey: Prekey): Promise<void>;
  /** Forgets a prekey entirely (no longer published, no private half). */
  remove(prekey: Prekey): Promise<void>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly prekeys: PrekeyRepository;
  }
}
