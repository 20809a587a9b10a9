import type { AuditEvent, Auditor, AuditorSession, Vote } from './audit.entity.ts';

export type CreateAuditorOutcome = 'created' | 'name_taken';

export interface AuditorRepository {
  create(auditor: Auditor): Promise<CreateAuditorOutcome>;
  get(id: string): Promise<Auditor | null>;
  getByName(name: string): Promise<Auditor | null>;
  list(): Promise<Auditor[]>;
  createSession(session: AuditorSession): Promise<void>;
  getSessionByTokenHash(tokenHash: string): Promise<AuditorSession | null>;
  revokeSession(id: string, at: Date): Promise<void>;
}

export interface VoteRepository {
  /** Inserts or replaces the auditor's vote; resolves the vote it replaced. */
  put(vote: Vote): Promise<Vote | null>;
  /** Deletes the auditor's vote; resolves the vote deleted. */
  delete(applicationId: string, auditorId: string): Promise<Vote | null>;
  listByApplication(applicationId: string): Promise<Vote[]>;
}

export interface AuditEventRepository {
  append(event: AuditEvent): Promise<void>;
  /** Newest first, strictly before `before` when given. */
  list(options: { limit: number; before?: Date }): Promise<AuditEvent[]>;
  /** Oldest first. */
  listByDomain(domain: string): Promise<AuditEvent[]>;
}

/** This domain's repositories on the registry's storage (database/registry-storage.port.ts). */
declare module '../database/registry-storage.port.ts' {
  interface RegistryStorage {
    readonly auditors: AuditorRepository;
    readonly votes: VoteRepository;
    readonly auditEvents: AuditEventRepository;
  }
}
