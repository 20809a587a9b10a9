/**
 * The instance's storage: one repository per domain, all on one engine chosen by configuration.
 * Adapters: storage/storage.sqlite.ts (embedded default), storage/storage.cassandra.ts (scale). Both pass
 * storage/storage.conformance.ts.
 *
 * The port is open: each domain adds its repository to it, beside the repository's own port, with
 * `declare module '../database/storage.port.ts' { interface Storage { readonly contacts: ContactRepository } }`
 * (accounts, devices, sessions, messages, correspondence, conversations, contacts, remoteIdentities, keys,
 * accountKeys). A service takes the whole Storage without this floor importing every domain above it (issue 11); the
 * adapters, which compose the repositories, are checked against the whole interface.
 */
export interface Storage {
  readonly engine: 'sqlite' | 'cassandra';
  /** Applies pending schema migrations; idempotent, safe to call at every start. Resolves the schema version. */
  migrate(): Promise<number>;
  /** true when the engine answers. */
  ping(): Promise<boolean>;
  /**
   * Runs `work` as one unit of work: the writes it makes through the repositories (directly or through
   * `unit.item`) are durable together when the returned promise resolves — one commit for the lot where the engine
   * has transactions (SQLite), sequential durable writes where it does not (Cassandra: every write is idempotent, so a
   * crash part-way is repaired by doing the work again). Units run one at a time. `work` throwing undoes what the
   * unit wrote when the engine is `atomic`, then the error is rethrown.
   */
  unitOfWork<T>(work: (unit: UnitOfWork) => Promise<T>): Promise<T>;
  /**
   * Removes everything the store holds about one account (self-service deletion, issue 18): the account, its
   * devices, sessions, contacts, conversations, messages and their listing and dedupe rows, correspondence ledger,
   * keys (correspondents' and its own), remote identities and their folder states, Privacy Index, trust sharing and
   * notices. Instance-wide records (the admin journal, an append-only audit record; the federation replay record;
   * standing-change notices) are not the account's and stay. Idempotent: an interrupted purge is finished by running
   * it again. SQLite: one transaction. Cassandra: idempotent deletes of every partition of the account, found from
   * its own listing tables; the account row goes last so that a rerun still finds what is left.
   */
  purgeAccount(accountId: string): Promise<void>;
  close(): Promise<void>;
}

export interface UnitOfWork {
  /**
   * true: a failed `item` (and a failed unit) leaves no write behind (savepoints and one transaction). false: the
   * writes made before the failure stay; the caller compensates what is not idempotent (a usage counter...).
   */
  readonly atomic: boolean;
  /** Runs one item of the unit (one message of a batch): when it throws, its writes are undone if `atomic`. */
  item<T>(work: () => Promise<T>): Promise<T>;
}
