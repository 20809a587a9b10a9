import type { KeySetStatementRecord, RegistryKeyRecord } from './registry-key.entity.ts';

export interface RegistryKeyRepository {
  add(key: RegistryKeyRecord): Promise<void>;
  list(): Promise<RegistryKeyRecord[]>;
  setNotAfter(kid: string, notAfter: number): Promise<void>;
  /** Stores a key rotation statement (SPEC.md §3); false when its sequence is already taken (another rotation won). */
  addStatement(statement: KeySetStatementRecord): Promise<boolean>;
  /** Every rotation statement, by sequence from 1. */
  statements(): Promise<KeySetStatementRecord[]>;
}

/** This domain's repositories on the registry's storage (database/registry-storage.port.ts). */
declare module '../database/registry-storage.port.ts' {
  interface RegistryStorage {
    readonly keys: RegistryKeyRepository;
  }
}
