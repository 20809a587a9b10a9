import type { LabelRecord, Member } from './label.entity.ts';

export interface LabelRepository {
  add(label: LabelRecord): Promise<void>;
  get(id: string): Promise<LabelRecord | null>;
  /** Newest first. */
  listByDomain(domain: string): Promise<LabelRecord[]>;
  markRevoked(id: string, at: Date, reason: string): Promise<void>;
}

export interface MemberRepository {
  get(domain: string): Promise<Member | null>;
  /** Inserts or replaces the member row. */
  put(member: Member): Promise<void>;
  /** Every member, sorted by domain. */
  list(): Promise<Member[]>;
  getMany(domains: readonly string[]): Promise<Member[]>;
}

/** This domain's repositories on the registry's storage (database/registry-storage.port.ts). */
declare module '../database/registry-storage.port.ts' {
  interface RegistryStorage {
    readonly labels: LabelRepository;
    readonly members: MemberRepository;
  }
}
