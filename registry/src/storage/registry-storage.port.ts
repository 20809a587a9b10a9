import type { Application, ApplicationStatus, CheckRun } from '../applications/application.entity.ts';
import type { AuditEvent, Auditor, AuditorSession, Vote } from '../audits/audit.entity.ts';
import type { LabelRecord, Member, RegistryKeyRecord } from '../labels/label.entity.ts';
import type { FeedPublication, StoredCheckpoint, StoredLogEntry } from '../log/log.entity.ts';

/**
 * The registry's storage port: one repository per domain, all on one engine chosen by configuration.
 * Adapters: registry-storage.sqlite.ts (embedded default, `<dataDir>/registry.db`) and registry-storage.cassandra.ts
 * (scale). Both must pass registry-storage.conformance.ts.
 */

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
}

export interface CheckRunRepository {
  add(run: CheckRun): Promise<void>;
  /** Newest first. */
  listByApplication(applicationId: string, limit: number): Promise<CheckRun[]>;
}

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

export interface TransparencyLogRepository {
  /**
   * Appends entries at indices `expectedSize`, `expectedSize + 1`, ... only if the log holds exactly `expectedSize`
   * entries; resolves false (nothing written) when another writer got there first.
   */
  append(entries: readonly StoredLogEntry[], expectedSize: number): Promise<boolean>;
  size(): Promise<number>;
  /** Entries with start <= index < end, in order. */
  range(start: number, end: number): Promise<StoredLogEntry[]>;
  /** Leaf hashes from `start` to the end, in order (to rebuild or catch up the in-memory tree). */
  leafHashesFrom(start: number): Promise<Uint8Array[]>;
  putCheckpoint(checkpoint: StoredCheckpoint): Promise<void>;
  latestCheckpoint(): Promise<StoredCheckpoint | null>;
}

export interface FeedRepository {
  /** Stores publication `serial` if the latest is `serial - 1` (or none and serial is 1); false otherwise. */
  publish(publication: FeedPublication): Promise<boolean>;
  latest(): Promise<FeedPublication | null>;
  /** Domains changed at serials above `serial` (up to the latest), deduplicated. */
  changedSince(serial: number): Promise<string[]>;
}

export interface RegistryKeyRepository {
  add(key: RegistryKeyRecord): Promise<void>;
  list(): Promise<RegistryKeyRecord[]>;
  setNotAfter(kid: string, notAfter: number): Promise<void>;
}

export interface RegistryStorage {
  readonly engine: 'sqlite' | 'cassandra';
  readonly applications: ApplicationRepository;
  readonly checkRuns: CheckRunRepository;
  readonly auditors: AuditorRepository;
  readonly votes: VoteRepository;
  readonly auditEvents: AuditEventRepository;
  readonly labels: LabelRepository;
  readonly members: MemberRepository;
  readonly log: TransparencyLogRepository;
  readonly feed: FeedRepository;
  readonly keys: RegistryKeyRepository;
  migrate(): Promise<number>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
