import type { Application, ApplicationStatus, CheckRun } from './application.entity.ts';

export type CreateApplicationOutcome = 'created' | 'nonce_taken' | 'domain_pending';

export interface ApplicationRepository {
  /** Creates the application unless its nonce was ever used, or its domain already has a pending application. */
  create(application: Application): Promise<CreateApplicationOutcome>;
  get(id: string): Promise<Application | null>;
  getByTokenHash(tokenHash: string): Promise<Application | null>;
  /** Newest first. */
  listByStatus(status: ApplicationStatus, options: { limit: number }): Promise<Application[]>;
  listByDomain(domain: string): Promise<Application[]>;
  setStatus(id: string, status: ApplicationStatus, at: Date, closedReason?: string | null): Promise<void>;
  /** The declared certificate replaced (an instance's renewed certificate); nothing else of the application changes. */
  replaceCertificate(id: string, certificatePem: string, certFingerprint: string, at: Date): Promise<void>;
}

export interface CheckRunRepository {
  add(run: CheckRun): Promise<void>;
  /** Newest first. */
  listByApplication(applicationId: string, limit: number): Promise<CheckRun[]>;
}

/** This domain's repositories on the registry's storage (database/registry-storage.port.ts). */
declare module '../database/registry-storage.port.ts' {
  interface RegistryStorage {
    readonly applications: ApplicationRepository;
    readonly checkRuns: CheckRunRepository;
  }
}
