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
  close(): Promise<void>;
}
