import type { RegistryKeyRecord } from './registry-key.entity.ts';

export interface RegistryKeyRepository {
  add(key: RegistryKeyRecord): Promise<void>;
  list(): Promise<RegistryKeyRecord[]>;
  setNotAfter(kid: string, notAfter: number): Promise<void>;
}

/** This domain's repositories on the registry's storage (database/registry-storage.port.ts). */
declare module '../database/registry-storage.port.ts' {
  interface RegistryStorage {
    readonly keys: RegistryKeyRepository;
  }
}
