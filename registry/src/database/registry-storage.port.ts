/**
 * The registry's storage port: one repository per domain, all on one engine chosen by configuration.
 * Adapters: storage/registry-storage.sqlite.ts (embedded default, `<dataDir>/registry.db`) and
 * storage/registry-storage.cassandra.ts (scale). Both must pass storage/registry-storage.conformance.ts.
 *
 * The port is open: each domain adds its repositories to it beside their own ports
 * (`declare module '../database/registry-storage.port.ts' { interface RegistryStorage { ... } }`: applications,
 * audits, labels, log, keys), so that services take the whole storage without this floor importing every domain
 * above it (issue 11); the adapters, which compose the repositories, are checked against the whole interface.
 */
export interface RegistryStorage {
  readonly engine: 'sqlite' | 'cassandra';
  migrate(): Promise<number>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
