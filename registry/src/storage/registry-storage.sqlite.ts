import { join } from 'node:path';
import { migrateSqlite, openSqlite, type SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { Application, ApplicationStatus, CheckRun } from '../labels/application.entity.ts';
import type { AuditEvent, Auditor, AuditorSession, Vote } from '../labels/audit.entity.ts';
import type { LabelRecord, Member, RegistryKeyRecord } from '../labels/label.entity.ts';
import type { KeySetStatementRecord } from '../keys/registry-key.entity.ts';
import type { FeedPublication, StoredCheckpoint, StoredLogEntry } from '../log/log.entity.ts';
import { REGISTRY_SQLITE_MIGRATIONS } from './registry-storage.sqlite.migrations.ts';
import type {
  ApplicationRepository,
  CheckRunRepository,
  CreateApplicationOutcome,
} from '../labels/application.repository.ts';
import type {
  AuditEventRepository,
  AuditorRepository,
  CreateAuditorOutcome,
  VoteRepository,
} from '../labels/audit.repository.ts';
import type { FeedRepository, TransparencyLogRepository } from '../log/log.repository.ts';
import type { LabelRepository, MemberRepository } from '../labels/label.repository.ts';
import type { RegistryKeyRepository } from '../keys/registry-key.repository.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import { applicationFromJson, applicationToJson, memberFromJson, memberToJson } from './registry-storage.mapping.ts';

const ms = (d: Date) => d.getTime();
const date = (n: number) => new Date(n);
const dateOrNull = (n: number | null) => (n === null ? null : new Date(n));

function isUniqueViolation(error: unknown, needle: string): boolean {
  const e = error as { code?: string; message?: string };
  return typeof e.code === 'string' && e.code.startsWith('SQLITE_CONSTRAINT') && (e.message ?? '').includes(needle);
}

class SqliteApplications implements ApplicationRepository {
  constructor(private readonly db: SqliteDb) {}

  async create(a: Application): Promise<CreateApplicationOutcome> {
    // A replay is reported before a pending conflict; the unique indexes decide races between writers.
    if (this.db.prepare('SELECT 1 FROM applications WHERE nonce = ?').get(a.nonce) !== undefined) return 'nonce_taken';
    try {
      this.db
        .prepare(
          `INSERT INTO applications (id, domain, status, nonce, applicant_token_hash, created_at, updated_at, closed_reason, body_json)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          a.id,
          a.domain,
          a.status,
          a.nonce,
          a.applicantTokenHash,
          ms(a.createdAt),
          ms(a.updatedAt),
          a.closedReason,
          applicationToJson(a),
        );
      return 'created';
    } catch (error) {
      if (isUniqueViolation(error, 'applications.nonce')) return 'nonce_taken';
      if (isUniqueViolation(error, 'applications.domain')) return 'domain_pending';
      throw error;
    }
  }

  private row(row: ApplicationRow | undefined): Application | null {
    return row
      ? applicationFromJson(row.body_json, {
          status: row.status,
          updatedAt: date(row.updated_at),
          closedReason: row.closed_reason,
        })
      : null;
  }

  async get(id: string): Promise<Application | null> {
    return this.row(this.db.prepare<[string], ApplicationRow>('SELECT * FROM applications WHERE id = ?').get(id));
  }

  async getByTokenHash(tokenHash: string): Promise<Application | null> {
    return this.row(
      this.db
        .prepare<[string], ApplicationRow>('SELECT * FROM applications WHERE applicant_token_hash = ?')
        .get(tokenHash),
    );
  }

  async listByStatus(status: ApplicationStatus, options: { limit: number }): Promise<Application[]> {
    const rows = this.db
      .prepare<[string, number], ApplicationRow>(
        'SELECT * FROM applications WHERE status = ? ORDER BY created_at DESC, id LIMIT ?',
      )
      .all(status, options.limit);
    return rows.map((r) => this.row(r)!);
  }

  async listByDomain(domain: string): Promise<Application[]> {
    const rows = this.db
      .prepare<[string], ApplicationRow>('SELECT * FROM applications WHERE domain = ? ORDER BY created_at, id')
      .all(domain);
    return rows.map((r) => this.row(r)!);
  }

  async setStatus(id: string, status: ApplicationStatus, at: Date, closedReason: string | null = null): Promise<void> {
    this.db
      .prepare('UPDATE applications SET status = ?, updated_at = ?, closed_reason = ? WHERE id = ?')
      .run(status, ms(at), closedReason, id);
  }

  async replaceCertificate(id: string, certificatePem: string, certFingerprint: string, at: Date): Promise<void> {
    this.db.transaction(() => {
      const row = this.db.prepare<[string], ApplicationRow>('SELECT * FROM applications WHERE id = ?').get(id);
      const app = this.row(row);
      if (app === null) return;
      this.db
        .prepare('UPDATE applications SET body_json = ?, updated_at = ? WHERE id = ?')
        .run(applicationToJson({ ...app, certificatePem, certFingerprint }), ms(at), id);
    })();
  }
}

interface ApplicationRow {
  status: ApplicationStatus;
  updated_at: number;
  closed_reason: string | null;
  body_json: string;
}

class SqliteCheckRuns implements CheckRunRepository {
  constructor(private readonly db: SqliteDb) {}

  async add(run: CheckRun): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO check_runs (id, application_id, domain, trigger, started_at, finished_at, mandatory_ok, results_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        run.id,
        run.applicationId,
        run.domain,
        run.trigger,
        ms(run.startedAt),
        ms(run.finishedAt),
        run.mandatoryPassed ? 1 : 0,
        JSON.stringify(run.results),
      );
  }

  async listByApplication(applicationId: string, limit: number): Promise<CheckRun[]> {
    type Row = {
      id: string;
      application_id: string;
      domain: string;
      trigger: CheckRun['trigger'];
      started_at: number;
      finished_at: number;
      mandatory_ok: number;
      results_json: string;
    };
    const rows = this.db
      .prepare<[string, number], Row>(
        'SELECT * FROM check_runs WHERE application_id = ? ORDER BY finished_at DESC, rowid DESC LIMIT ?',
      )
      .all(applicationId, limit);
    return rows.map((r) => ({
      id: r.id,
      applicationId: r.application_id,
      domain: r.domain,
      trigger: r.trigger,
      startedAt: date(r.started_at),
      finishedAt: date(r.finished_at),
      mandatoryPassed: r.mandatory_ok === 1,
      results: JSON.parse(r.results_json) as CheckRun['results'],
    }));
  }
}

type AuditorRow = { id: string; name: string; password_hash: string; disabled: number; created_at: number };
type SessionRow = {
  id: string;
  auditor_id: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
};

const auditorOf = (r: AuditorRow): Auditor => ({
  id: r.id,
  name: r.name,
  passwordHash: r.password_hash,
  disabled: r.disabled === 1,
  createdAt: date(r.created_at),
});

class SqliteAuditors implements AuditorRepository {
  constructor(private readonly db: SqliteDb) {}

  async create(a: Auditor): Promise<CreateAuditorOutcome> {
    try {
      this.db
        .prepare('INSERT INTO auditors (id, name, password_hash, disabled, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(a.id, a.name, a.passwordHash, a.disabled ? 1 : 0, ms(a.createdAt));
      return 'created';
    } catch (error) {
      if (isUniqueViolation(error, 'auditors.name')) return 'name_taken';
      throw error;
    }
  }

  async get(id: string): Promise<Auditor | null> {
    const r = this.db.prepare<[string], AuditorRow>('SELECT * FROM auditors WHERE id = ?').get(id);
    return r ? auditorOf(r) : null;
  }

  async getByName(name: string): Promise<Auditor | null> {
    const r = this.db.prepare<[string], AuditorRow>('SELECT * FROM auditors WHERE name = ?').get(name);
    return r ? auditorOf(r) : null;
  }

  async list(): Promise<Auditor[]> {
    return this.db.prepare<[], AuditorRow>('SELECT * FROM auditors ORDER BY name').all().map(auditorOf);
  }

  async createSession(s: AuditorSession): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO auditor_sessions (id, auditor_id, token_hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(s.id, s.auditorId, s.tokenHash, ms(s.createdAt), ms(s.expiresAt), s.revokedAt ? ms(s.revokedAt) : null);
  }

  async getSessionByTokenHash(tokenHash: string): Promise<AuditorSession | null> {
    const r = this.db
      .prepare<[string], SessionRow>('SELECT * FROM auditor_sessions WHERE token_hash = ?')
      .get(tokenHash);
    return r
      ? {
          id: r.id,
          auditorId: r.auditor_id,
          tokenHash: r.token_hash,
          createdAt: date(r.created_at),
          expiresAt: date(r.expires_at),
          revokedAt: dateOrNull(r.revoked_at),
        }
      : null;
  }

  async revokeSession(id: string, at: Date): Promise<void> {
    this.db.prepare('UPDATE auditor_sessions SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?').run(ms(at), id);
  }
}

type VoteRow = {
  application_id: string;
  auditor_id: string;
  auditor_name: string;
  vote: Vote['vote'];
  reason: string | null;
  cast_at: number;
};
const voteOf = (r: VoteRow): Vote => ({
  applicationId: r.application_id,
  auditorId: r.auditor_id,
  auditorName: r.auditor_name,
  vote: r.vote,
  reason: r.reason,
  castAt: date(r.cast_at),
});

class SqliteVotes implements VoteRepository {
  constructor(private readonly db: SqliteDb) {}

  async put(v: Vote): Promise<Vote | null> {
    return this.db.transaction(() => {
      const previous = this.db
        .prepare<[string, string], VoteRow>('SELECT * FROM votes WHERE application_id = ? AND auditor_id = ?')
        .get(v.applicationId, v.auditorId);
      this.db
        .prepare(
          `INSERT INTO votes (application_id, auditor_id, auditor_name, vote, reason, cast_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (application_id, auditor_id) DO UPDATE SET auditor_name = excluded.auditor_name, vote = excluded.vote,
             reason = excluded.reason, cast_at = excluded.cast_at`,
        )
        .run(v.applicationId, v.auditorId, v.auditorName, v.vote, v.reason, ms(v.castAt));
      return previous ? voteOf(previous) : null;
    })();
  }

  async delete(applicationId: string, auditorId: string): Promise<Vote | null> {
    const row = this.db
      .prepare<[string, string], VoteRow>('DELETE FROM votes WHERE application_id = ? AND auditor_id = ? RETURNING *')
      .get(applicationId, auditorId);
    return row ? voteOf(row) : null;
  }

  async listByApplication(applicationId: string): Promise<Vote[]> {
    return this.db
      .prepare<[string], VoteRow>('SELECT * FROM votes WHERE application_id = ? ORDER BY cast_at, auditor_name')
      .all(applicationId)
      .map(voteOf);
  }
}

type EventRow = {
  id: string;
  at: number;
  auditor_id: string | null;
  auditor_name: string | null;
  action: AuditEvent['action'];
  domain: string;
  application_id: string | null;
  detail_json: string;
};
const eventOf = (r: EventRow): AuditEvent => ({
  id: r.id,
  at: date(r.at),
  auditorId: r.auditor_id,
  auditorName: r.auditor_name,
  action: r.action,
  domain: r.domain,
  applicationId: r.application_id,
  detail: JSON.parse(r.detail_json) as AuditEvent['detail'],
});

class SqliteAuditEvents implements AuditEventRepository {
  constructor(private readonly db: SqliteDb) {}

  async append(e: AuditEvent): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO audit_events (id, at, auditor_id, auditor_name, action, domain, application_id, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(e.id, ms(e.at), e.auditorId, e.auditorName, e.action, e.domain, e.applicationId, JSON.stringify(e.detail));
  }

  async list(options: { limit: number; before?: Date }): Promise<AuditEvent[]> {
    const rows = options.before
      ? this.db
          .prepare<[number, number], EventRow>(
            'SELECT * FROM audit_events WHERE at < ? ORDER BY at DESC, seq DESC LIMIT ?',
          )
          .all(ms(options.before), options.limit)
      : this.db
          .prepare<[number], EventRow>('SELECT * FROM audit_events ORDER BY at DESC, seq DESC LIMIT ?')
          .all(options.limit);
    return rows.map(eventOf);
  }

  async listByDomain(domain: string): Promise<AuditEvent[]> {
    return this.db
      .prepare<[string], EventRow>('SELECT * FROM audit_events WHERE domain = ? ORDER BY at, seq')
      .all(domain)
      .map(eventOf);
  }
}

type LabelRow = {
  id: string;
  domain: string;
  application_id: string;
  kind: LabelRecord['kind'];
  jws: string;
  issued_at: number;
  expires_at: number;
  pi_score: number;
  revoked_at: number | null;
  revocation_reason: string | null;
};
const labelOf = (r: LabelRow): LabelRecord => ({
  id: r.id,
  domain: r.domain,
  applicationId: r.application_id,
  kind: r.kind,
  jws: r.jws,
  issuedAt: date(r.issued_at),
  expiresAt: date(r.expires_at),
  piScore: r.pi_score,
  revokedAt: dateOrNull(r.revoked_at),
  revocationReason: r.revocation_reason,
});

class SqliteLabels implements LabelRepository {
  constructor(private readonly db: SqliteDb) {}

  async add(l: LabelRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO labels (id, domain, application_id, kind, jws, issued_at, expires_at, pi_score, revoked_at, revocation_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        l.id,
        l.domain,
        l.applicationId,
        l.kind,
        l.jws,
        ms(l.issuedAt),
        ms(l.expiresAt),
        l.piScore,
        l.revokedAt ? ms(l.revokedAt) : null,
        l.revocationReason,
      );
  }

  async get(id: string): Promise<LabelRecord | null> {
    const r = this.db.prepare<[string], LabelRow>('SELECT * FROM labels WHERE id = ?').get(id);
    return r ? labelOf(r) : null;
  }

  async listByDomain(domain: string): Promise<LabelRecord[]> {
    return this.db
      .prepare<[string], LabelRow>('SELECT * FROM labels WHERE domain = ? ORDER BY issued_at DESC, rowid DESC')
      .all(domain)
      .map(labelOf);
  }

  async markRevoked(id: string, at: Date, reason: string): Promise<void> {
    this.db
      .prepare(
        'UPDATE labels SET revoked_at = coalesce(revoked_at, ?), revocation_reason = coalesce(revocation_reason, ?) WHERE id = ?',
      )
      .run(ms(at), reason, id);
  }
}

class SqliteMembers implements MemberRepository {
  constructor(private readonly db: SqliteDb) {}

  async get(domain: string): Promise<Member | null> {
    const r = this.db
      .prepare<[string], { member_json: string }>('SELECT member_json FROM members WHERE domain = ?')
      .get(domain);
    return r ? memberFromJson(r.member_json) : null;
  }

  async put(m: Member): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO members (domain, status, updated_at, member_json) VALUES (?, ?, ?, ?)
         ON CONFLICT (domain) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, member_json = excluded.member_json`,
      )
      .run(m.domain, m.status, ms(m.updatedAt), memberToJson(m));
  }

  async list(): Promise<Member[]> {
    return this.db
      .prepare<[], { member_json: string }>('SELECT member_json FROM members ORDER BY domain')
      .all()
      .map((r) => memberFromJson(r.member_json));
  }

  async getMany(domains: readonly string[]): Promise<Member[]> {
    const out: Member[] = [];
    const stmt = this.db.prepare<[string], { member_json: string }>('SELECT member_json FROM members WHERE domain = ?');
    for (const domain of [...new Set(domains)].sort()) {
      const r = stmt.get(domain);
      if (r) out.push(memberFromJson(r.member_json));
    }
    return out;
  }
}

class SqliteTransparencyLog implements TransparencyLogRepository {
  constructor(private readonly db: SqliteDb) {}

  async append(entries: readonly StoredLogEntry[], expectedSize: number): Promise<boolean> {
    return this.db
      .transaction(() => {
        if (this.count() !== expectedSize) return false;
        const insert = this.db.prepare('INSERT INTO log_entries (idx, leaf_hash, entry) VALUES (?, ?, ?)');
        entries.forEach((e, i) => {
          if (e.index !== expectedSize + i)
            throw new RangeError(`log entry ${e.index} appended at ${expectedSize + i}`);
          insert.run(e.index, Buffer.from(e.leafHash), e.entry);
        });
        return true;
      })
      .immediate();
  }

  private count(): number {
    return (this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM log_entries').get() as { n: number }).n;
  }

  async size(): Promise<number> {
    return this.count();
  }

  async range(start: number, end: number): Promise<StoredLogEntry[]> {
    type Row = { idx: number; leaf_hash: Buffer; entry: string };
    return this.db
      .prepare<[number, number], Row>('SELECT * FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx')
      .all(start, end)
      .map((r) => ({ index: r.idx, leafHash: new Uint8Array(r.leaf_hash), entry: r.entry }));
  }

  async leafHashesFrom(start: number): Promise<Uint8Array[]> {
    return this.db
      .prepare<[number], { leaf_hash: Buffer }>('SELECT leaf_hash FROM log_entries WHERE idx >= ? ORDER BY idx')
      .all(start)
      .map((r) => new Uint8Array(r.leaf_hash));
  }

  async putCheckpoint(c: StoredCheckpoint): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO log_checkpoints (tree_size, jws, timestamp) VALUES (?, ?, ?) ON CONFLICT (tree_size) DO UPDATE SET jws = excluded.jws, timestamp = excluded.timestamp',
      )
      .run(c.treeSize, c.jws, c.timestamp);
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const r = this.db
      .prepare<[], { tree_size: number; jws: string; timestamp: number }>(
        'SELECT * FROM log_checkpoints ORDER BY tree_size DESC LIMIT 1',
      )
      .get();
    return r ? { treeSize: r.tree_size, jws: r.jws, timestamp: r.timestamp } : null;
  }
}

class SqliteFeed implements FeedRepository {
  constructor(private readonly db: SqliteDb) {}

  async publish(p: FeedPublication): Promise<boolean> {
    return this.db
      .transaction(() => {
        const latest = this.db.prepare<[], { serial: number }>('SELECT serial FROM feed_latest WHERE one = 1').get();
        if ((latest?.serial ?? 0) !== p.serial - 1) return false;
        this.db
          .prepare('INSERT INTO feed_publications (serial, issued_at_s, digest, checkpoint) VALUES (?, ?, ?, ?)')
          .run(p.serial, p.issuedAt, p.digest, p.checkpointJws);
        this.db
          .prepare(
            'INSERT INTO feed_latest (one, serial, envelope) VALUES (1, ?, ?) ON CONFLICT (one) DO UPDATE SET serial = excluded.serial, envelope = excluded.envelope',
          )
          .run(p.serial, Buffer.from(p.envelope));
        const change = this.db.prepare('INSERT INTO feed_changes (serial, domain) VALUES (?, ?)');
        for (const domain of new Set(p.changedDomains)) change.run(p.serial, domain);
        return true;
      })
      .immediate();
  }

  async latest(): Promise<FeedPublication | null> {
    type Row = { serial: number; envelope: Buffer; issued_at_s: number; digest: string; checkpoint: string };
    const r = this.db
      .prepare<[], Row>(
        'SELECT l.serial, l.envelope, p.issued_at_s, p.digest, p.checkpoint FROM feed_latest l JOIN feed_publications p ON p.serial = l.serial',
      )
      .get();
    if (!r) return null;
    const changed = this.db
      .prepare<[number], { domain: string }>('SELECT domain FROM feed_changes WHERE serial = ? ORDER BY domain')
      .all(r.serial);
    return {
      serial: r.serial,
      issuedAt: r.issued_at_s,
      envelope: new Uint8Array(r.envelope),
      digest: r.digest,
      checkpointJws: r.checkpoint,
      changedDomains: changed.map((c) => c.domain),
    };
  }

  async changedSince(serial: number): Promise<string[]> {
    return this.db
      .prepare<[number], { domain: string }>(
        'SELECT DISTINCT domain FROM feed_changes WHERE serial > ? ORDER BY domain',
      )
      .all(serial)
      .map((r) => r.domain);
  }
}

class SqliteRegistryKeys implements RegistryKeyRepository {
  constructor(private readonly db: SqliteDb) {}

  async add(k: RegistryKeyRecord): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO registry_keys (kid, public_jwk, private_sealed, not_before_s, not_after_s, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(k.kid, JSON.stringify(k.publicJwk), k.privateSealed, k.notBefore, k.notAfter, ms(k.createdAt));
  }

  async list(): Promise<RegistryKeyRecord[]> {
    type Row = {
      kid: string;
      public_jwk: string;
      private_sealed: string;
      not_before_s: number;
      not_after_s: number;
      created_at: number;
    };
    return this.db
      .prepare<[], Row>('SELECT * FROM registry_keys ORDER BY not_before_s, kid')
      .all()
      .map((r) => ({
        kid: r.kid,
        publicJwk: JSON.parse(r.public_jwk) as RegistryKeyRecord['publicJwk'],
        privateSealed: r.private_sealed,
        notBefore: r.not_before_s,
        notAfter: r.not_after_s,
        createdAt: date(r.created_at),
      }));
  }

  async setNotAfter(kid: string, notAfter: number): Promise<void> {
    this.db.prepare('UPDATE registry_keys SET not_after_s = ? WHERE kid = ?').run(notAfter, kid);
  }

  async addStatement(st: KeySetStatementRecord): Promise<boolean> {
    const r = this.db
      .prepare(
        'INSERT INTO registry_key_statements (sequence, jws, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      )
      .run(st.sequence, st.jws, ms(st.createdAt));
    return r.changes === 1;
  }

  async statements(): Promise<KeySetStatementRecord[]> {
    type Row = { sequence: number; jws: string; created_at: number };
    return this.db
      .prepare<[], Row>('SELECT * FROM registry_key_statements ORDER BY sequence')
      .all()
      .map((r) => ({ sequence: r.sequence, jws: r.jws, createdAt: date(r.created_at) }));
  }
}

/** The registry's embedded store: one SQLite file (`<dataDir>/registry.db`, WAL, synchronous=FULL). */
export class SqliteRegistryStorage implements RegistryStorage {
  readonly engine = 'sqlite' as const;
  readonly db: SqliteDb;
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

  private constructor(db: SqliteDb) {
    this.db = db;
    this.applications = new SqliteApplications(db);
    this.checkRuns = new SqliteCheckRuns(db);
    this.auditors = new SqliteAuditors(db);
    this.votes = new SqliteVotes(db);
    this.auditEvents = new SqliteAuditEvents(db);
    this.labels = new SqliteLabels(db);
    this.members = new SqliteMembers(db);
    this.log = new SqliteTransparencyLog(db);
    this.feed = new SqliteFeed(db);
    this.keys = new SqliteRegistryKeys(db);
  }

  static open(path: string): SqliteRegistryStorage {
    const db = openSqlite(path);
    try {
      migrateSqlite(db, REGISTRY_SQLITE_MIGRATIONS, 'registry');
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteRegistryStorage(db);
  }

  static inDataDir(dataDir: string): SqliteRegistryStorage {
    return SqliteRegistryStorage.open(join(dataDir, 'registry.db'));
  }

  async migrate(): Promise<number> {
    return migrateSqlite(this.db, REGISTRY_SQLITE_MIGRATIONS, 'registry');
  }

  async ping(): Promise<boolean> {
    return this.db.prepare('SELECT 1 AS ok').get() !== undefined;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
