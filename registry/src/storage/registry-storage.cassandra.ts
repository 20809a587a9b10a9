import { randomUUID } from 'node:crypto';
import type { Client } from 'cassandra-driver';
import {
  CassandraContext,
  type CassandraOptions,
  connectCassandra,
  type Row,
  type Statement,
} from '@caliopen/platform/cassandra/cassandra.context.ts';
import { migrateKeyspace } from '@caliopen/platform/cassandra/cassandra.migrator.ts';
import { dateOrNull, monthBucket, textOrNull, toNumber } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import type { Application, ApplicationStatus, CheckRun } from '../labels/application.entity.ts';
import type { AuditEvent, Auditor, AuditorSession, Vote } from '../labels/audit.entity.ts';
import type { LabelRecord, Member, RegistryKeyRecord } from '../labels/label.entity.ts';
import type { KeySetStatementRecord } from '../keys/registry-key.entity.ts';
import type { FeedPublication, StoredCheckpoint, StoredLogEntry } from '../log/log.entity.ts';
import {
  ENVELOPE_CHUNK_BYTES,
  FEED_CHANGE_BLOCK,
  LOG_CHUNK,
  MEMBER_BUCKETS,
  memberBucket,
  REGISTRY_CASSANDRA_MIGRATIONS,
  REGISTRY_TABLES as T,
} from './registry-storage.cassandra.schema.ts';
import { applicationFromJson, applicationToJson, memberFromJson, memberToJson } from './registry-storage.mapping.ts';
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

/**
 * The registry store on Cassandra, for a registry run as several processes. Query-first tables
 * (registry-storage.cassandra.schema.ts); every statement prepared; plain writes idempotent; LWT only for the nonce,
 * the pending application of a domain, auditor names, log indices and the feed serial.
 *
 * tests/conformance/registry-storage.cassandra.test.ts runs the shared conformance suite against a real Cassandra 5.0
 * node in every npm test (tests/support/engines/cassandra.ts).
 */

const ONE = 'one';
const d = (v: unknown) => dateOrNull(v) as Date;

class CassandraApplications implements ApplicationRepository {
  constructor(private readonly c: CassandraContext) {}

  async create(a: Application): Promise<CreateApplicationOutcome> {
    const nonce = await this.c.lwt(
      `INSERT INTO ${this.c.table(T.applicationNonces)} (nonce, application_id, claimed_at) VALUES (?, ?, ?) IF NOT EXISTS`,
      [a.nonce, a.id, new Date()],
    );
    if (!nonce.applied && String(nonce.row?.get('application_id')) !== a.id) return 'nonce_taken';
    const pending = await this.c.lwt(
      `INSERT INTO ${this.c.table(T.pendingApplicationByDomain)} (domain, application_id, claimed_at) VALUES (?, ?, ?) IF NOT EXISTS`,
      [a.domain, a.id, new Date()],
    );
    if (!pending.applied && String(pending.row?.get('application_id')) !== a.id) {
      const holder = String(pending.row?.get('application_id'));
      const holderApp = await this.get(holder);
      if (holderApp === null || holderApp.status === 'pending') {
        // Refused: give the nonce back, so a refused submission records nothing.
        await this.c.lwt(`DELETE FROM ${this.c.table(T.applicationNonces)} WHERE nonce = ? IF application_id = ?`, [
          a.nonce,
          a.id,
        ]);
        return 'domain_pending';
      }
      // A stale claim (its application is no longer pending): take it over.
      const taken = await this.c.lwt(
        `UPDATE ${this.c.table(T.pendingApplicationByDomain)} SET application_id = ?, claimed_at = ? WHERE domain = ? IF application_id = ?`,
        [a.id, new Date(), a.domain, holder],
      );
      if (!taken.applied) {
        await this.c.lwt(`DELETE FROM ${this.c.table(T.applicationNonces)} WHERE nonce = ? IF application_id = ?`, [
          a.nonce,
          a.id,
        ]);
        return 'domain_pending';
      }
    }
    const month = monthBucket(a.createdAt);
    await this.c.loggedBatch([
      {
        query: `INSERT INTO ${this.c.table(T.applicationsById)} (id, domain, status, nonce, token_hash, created_at, updated_at, closed_reason, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        params: [
          a.id,
          a.domain,
          a.status,
          a.nonce,
          a.applicantTokenHash,
          a.createdAt,
          a.updatedAt,
          a.closedReason,
          applicationToJson(a),
        ],
      },
      {
        query: `INSERT INTO ${this.c.table(T.applicationsByToken)} (token_hash, id) VALUES (?, ?)`,
        params: [a.applicantTokenHash, a.id],
      },
      {
        query: `INSERT INTO ${this.c.table(T.applicationsByDomain)} (domain, created_at, id) VALUES (?, ?, ?)`,
        params: [a.domain, a.createdAt, a.id],
      },
      {
        query: `INSERT INTO ${this.c.table(T.applicationsByStatus)} (status, month, created_at, id) VALUES (?, ?, ?, ?)`,
        params: [a.status, month, a.createdAt, a.id],
      },
      {
        query: `INSERT INTO ${this.c.table(T.applicationStatusMonths)} (status, month) VALUES (?, ?)`,
        params: [a.status, month],
      },
    ]);
    return 'created';
  }

  private of(row: Row | null): Application | null {
    if (row === null) return null;
    return applicationFromJson(row.get('body') as string, {
      status: row.get('status') as ApplicationStatus,
      updatedAt: d(row.get('updated_at')),
      closedReason: textOrNull(row.get('closed_reason')),
    });
  }

  async get(id: string): Promise<Application | null> {
    if (!isUuid(id)) return null;
    return this.of(await this.c.one(`SELECT * FROM ${this.c.table(T.applicationsById)} WHERE id = ?`, [id]));
  }

  async getByTokenHash(tokenHash: string): Promise<Application | null> {
    const row = await this.c.one(`SELECT id FROM ${this.c.table(T.applicationsByToken)} WHERE token_hash = ?`, [
      tokenHash,
    ]);
    return row ? this.get(String(row.get('id'))) : null;
  }

  async listByStatus(status: ApplicationStatus, options: { limit: number }): Promise<Application[]> {
    const months = (
      await this.c.rows(`SELECT month FROM ${this.c.table(T.applicationStatusMonths)} WHERE status = ?`, [status])
    )
      .map((r) => r.get('month') as number)
      .sort((a, b) => b - a);
    const out: Application[] = [];
    for (const month of months) {
      const rows = await this.c.rows(
        `SELECT id FROM ${this.c.table(T.applicationsByStatus)} WHERE status = ? AND month = ?`,
        [status, month],
      );
      for (const r of rows) {
        const app = await this.get(String(r.get('id')));
        // A listing row whose application moved on (a status change between two writes) is skipped.
        if (app !== null && app.status === status) out.push(app);
        if (out.length >= options.limit) return out;
      }
    }
    return out;
  }

  async listByDomain(domain: string): Promise<Application[]> {
    const rows = await this.c.rows(`SELECT id FROM ${this.c.table(T.applicationsByDomain)} WHERE domain = ?`, [domain]);
    const apps = await Promise.all(rows.map((r) => this.get(String(r.get('id')))));
    return apps.filter((a): a is Application => a !== null);
  }

  async setStatus(id: string, status: ApplicationStatus, at: Date, closedReason: string | null = null): Promise<void> {
    const app = await this.get(id);
    if (app === null) return;
    const month = monthBucket(app.createdAt);
    const statements: Statement[] = [
      {
        query: `UPDATE ${this.c.table(T.applicationsById)} SET status = ?, updated_at = ?, closed_reason = ? WHERE id = ?`,
        params: [status, at, closedReason, id],
      },
    ];
    if (app.status !== status) {
      statements.push(
        {
          query: `DELETE FROM ${this.c.table(T.applicationsByStatus)} WHERE status = ? AND month = ? AND created_at = ? AND id = ?`,
          params: [app.status, month, app.createdAt, id],
        },
        {
          query: `INSERT INTO ${this.c.table(T.applicationsByStatus)} (status, month, created_at, id) VALUES (?, ?, ?, ?)`,
          params: [status, month, app.createdAt, id],
        },
        {
          query: `INSERT INTO ${this.c.table(T.applicationStatusMonths)} (status, month) VALUES (?, ?)`,
          params: [status, month],
        },
      );
    }
    await this.c.loggedBatch(statements);
    if (app.status === 'pending' && status !== 'pending') {
      await this.c.lwt(
        `DELETE FROM ${this.c.table(T.pendingApplicationByDomain)} WHERE domain = ? IF application_id = ?`,
        [app.domain, id],
      );
    }
  }

  async replaceCertificate(id: string, certificatePem: string, certFingerprint: string, at: Date): Promise<void> {
    const app = await this.get(id);
    if (app === null) return;
    await this.c.write(`UPDATE ${this.c.table(T.applicationsById)} SET body = ?, updated_at = ? WHERE id = ?`, [
      applicationToJson({ ...app, certificatePem, certFingerprint }),
      at,
      id,
    ]);
  }
}

class CassandraCheckRuns implements CheckRunRepository {
  constructor(private readonly c: CassandraContext) {}

  async add(run: CheckRun): Promise<void> {
    await this.c.write(
      `INSERT INTO ${this.c.table(T.checkRunsByApplication)} (application_id, finished_at, id, body) VALUES (?, ?, ?, ?)`,
      [
        run.applicationId,
        run.finishedAt,
        run.id,
        JSON.stringify({ ...run, startedAt: run.startedAt.getTime(), finishedAt: run.finishedAt.getTime() }),
      ],
    );
  }

  async listByApplication(applicationId: string, limit: number): Promise<CheckRun[]> {
    if (!isUuid(applicationId)) return [];
    const rows = await this.c.rows(
      `SELECT body FROM ${this.c.table(T.checkRunsByApplication)} WHERE application_id = ? LIMIT ?`,
      [applicationId, limit],
    );
    return rows.map((r) => {
      const json = JSON.parse(r.get('body') as string) as CheckRun & { startedAt: number; finishedAt: number };
      return { ...json, startedAt: new Date(json.startedAt), finishedAt: new Date(json.finishedAt) };
    });
  }
}

class CassandraAuditors implements AuditorRepository {
  constructor(private readonly c: CassandraContext) {}

  async create(a: Auditor): Promise<CreateAuditorOutcome> {
    const claim = await this.c.lwt(
      `INSERT INTO ${this.c.table(T.auditorsByName)} (name, auditor_id, claimed_at) VALUES (?, ?, ?) IF NOT EXISTS`,
      [a.name, a.id, new Date()],
    );
    if (!claim.applied && String(claim.row?.get('auditor_id')) !== a.id) return 'name_taken';
    await this.c.write(
      `INSERT INTO ${this.c.table(T.auditorsById)} (id, name, password_hash, disabled, created_at) VALUES (?, ?, ?, ?, ?)`,
      [a.id, a.name, a.passwordHash, a.disabled, a.createdAt],
    );
    return 'created';
  }

  private of(r: Row | null): Auditor | null {
    return r
      ? {
          id: String(r.get('id')),
          name: r.get('name') as string,
          passwordHash: r.get('password_hash') as string,
          disabled: r.get('disabled') === true,
          createdAt: d(r.get('created_at')),
        }
      : null;
  }

  async get(id: string): Promise<Auditor | null> {
    if (!isUuid(id)) return null;
    return this.of(await this.c.one(`SELECT * FROM ${this.c.table(T.auditorsById)} WHERE id = ?`, [id]));
  }

  async getByName(name: string): Promise<Auditor | null> {
    const r = await this.c.one(`SELECT auditor_id FROM ${this.c.table(T.auditorsByName)} WHERE name = ?`, [name]);
    return r ? this.get(String(r.get('auditor_id'))) : null;
  }

  async list(): Promise<Auditor[]> {
    // Auditors are a handful of association members: one small table, read whole.
    const rows = await this.c.rows(`SELECT * FROM ${this.c.table(T.auditorsById)}`, []);
    return rows.map((r) => this.of(r)!).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async createSession(s: AuditorSession): Promise<void> {
    await this.c.loggedBatch([
      {
        query: `INSERT INTO ${this.c.table(T.auditorSessionsByToken)} (token_hash, id, auditor_id, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)`,
        params: [s.tokenHash, s.id, s.auditorId, s.createdAt, s.expiresAt, s.revokedAt],
      },
      {
        query: `INSERT INTO ${this.c.table(T.auditorSessionsById)} (id, token_hash) VALUES (?, ?)`,
        params: [s.id, s.tokenHash],
      },
    ]);
  }

  async getSessionByTokenHash(tokenHash: string): Promise<AuditorSession | null> {
    const r = await this.c.one(`SELECT * FROM ${this.c.table(T.auditorSessionsByToken)} WHERE token_hash = ?`, [
      tokenHash,
    ]);
    return r
      ? {
          id: String(r.get('id')),
          auditorId: String(r.get('auditor_id')),
          tokenHash,
          createdAt: d(r.get('created_at')),
          expiresAt: d(r.get('expires_at')),
          revokedAt: dateOrNull(r.get('revoked_at')),
        }
      : null;
  }

  async revokeSession(id: string, at: Date): Promise<void> {
    const r = await this.c.one(`SELECT token_hash FROM ${this.c.table(T.auditorSessionsById)} WHERE id = ?`, [id]);
    if (r === null) return;
    const session = await this.getSessionByTokenHash(r.get('token_hash') as string);
    if (session === null || session.revokedAt !== null) return;
    await this.c.write(`UPDATE ${this.c.table(T.auditorSessionsByToken)} SET revoked_at = ? WHERE token_hash = ?`, [
      at,
      session.tokenHash,
    ]);
  }
}

const voteOf = (r: Row): Vote => ({
  applicationId: String(r.get('application_id')),
  auditorId: String(r.get('auditor_id')),
  auditorName: r.get('auditor_name') as string,
  vote: r.get('vote') as Vote['vote'],
  reason: textOrNull(r.get('reason')),
  castAt: d(r.get('cast_at')),
});

class CassandraVotes implements VoteRepository {
  constructor(private readonly c: CassandraContext) {}

  private async one(applicationId: string, auditorId: string): Promise<Vote | null> {
    const r = await this.c.one(
      `SELECT * FROM ${this.c.table(T.votesByApplication)} WHERE application_id = ? AND auditor_id = ?`,
      [applicationId, auditorId],
    );
    return r ? voteOf(r) : null;
  }

  async put(v: Vote): Promise<Vote | null> {
    const previous = await this.one(v.applicationId, v.auditorId);
    await this.c.write(
      `INSERT INTO ${this.c.table(T.votesByApplication)} (application_id, auditor_id, auditor_name, vote, reason, cast_at) VALUES (?, ?, ?, ?, ?, ?)`,
      [v.applicationId, v.auditorId, v.auditorName, v.vote, v.reason, v.castAt],
    );
    return previous;
  }

  async delete(applicationId: string, auditorId: string): Promise<Vote | null> {
    const previous = await this.one(applicationId, auditorId);
    if (previous !== null)
      await this.c.write(
        `DELETE FROM ${this.c.table(T.votesByApplication)} WHERE application_id = ? AND auditor_id = ?`,
        [applicationId, auditorId],
      );
    return previous;
  }

  async listByApplication(applicationId: string): Promise<Vote[]> {
    const rows = await this.c.rows(`SELECT * FROM ${this.c.table(T.votesByApplication)} WHERE application_id = ?`, [
      applicationId,
    ]);
    return rows
      .map(voteOf)
      .sort((a, b) => a.castAt.getTime() - b.castAt.getTime() || (a.auditorName < b.auditorName ? -1 : 1));
  }
}

const eventBody = (e: AuditEvent) => JSON.stringify({ ...e, at: e.at.getTime() });
const eventOf = (r: Row): AuditEvent => {
  const json = JSON.parse(r.get('body') as string) as AuditEvent & { at: number };
  return { ...json, at: new Date(json.at) };
};

class CassandraAuditEvents implements AuditEventRepository {
  constructor(private readonly c: CassandraContext) {}

  async append(e: AuditEvent): Promise<void> {
    const month = monthBucket(e.at);
    await this.c.loggedBatch([
      {
        query: `INSERT INTO ${this.c.table(T.auditEventsByDomain)} (domain, at, id, body) VALUES (?, ?, ?, ?)`,
        params: [e.domain, e.at, e.id, eventBody(e)],
      },
      {
        query: `INSERT INTO ${this.c.table(T.auditEventsByMonth)} (month, at, id, body) VALUES (?, ?, ?, ?)`,
        params: [month, e.at, e.id, eventBody(e)],
      },
      { query: `INSERT INTO ${this.c.table(T.auditEventMonths)} (one, month) VALUES (?, ?)`, params: [ONE, month] },
    ]);
  }

  async list(options: { limit: number; before?: Date }): Promise<AuditEvent[]> {
    const months = (await this.c.rows(`SELECT month FROM ${this.c.table(T.auditEventMonths)} WHERE one = ?`, [ONE]))
      .map((r) => r.get('month') as number)
      .filter((m) => options.before === undefined || m <= monthBucket(options.before))
      .sort((a, b) => b - a);
    const out: AuditEvent[] = [];
    for (const month of months) {
      const rows = options.before
        ? await this.c.rows(
            `SELECT body FROM ${this.c.table(T.auditEventsByMonth)} WHERE month = ? AND at < ? LIMIT ?`,
            [month, options.before, options.limit - out.length],
          )
        : await this.c.rows(`SELECT body FROM ${this.c.table(T.auditEventsByMonth)} WHERE month = ? LIMIT ?`, [
            month,
            options.limit - out.length,
          ]);
      out.push(...rows.map(eventOf));
      if (out.length >= options.limit) break;
    }
    return out;
  }

  async listByDomain(domain: string): Promise<AuditEvent[]> {
    return (
      await this.c.rows(`SELECT body FROM ${this.c.table(T.auditEventsByDomain)} WHERE domain = ?`, [domain])
    ).map(eventOf);
  }
}

const labelBody = (l: LabelRecord) =>
  JSON.stringify({
    ...l,
    issuedAt: l.issuedAt.getTime(),
    expiresAt: l.expiresAt.getTime(),
    revokedAt: l.revokedAt?.getTime() ?? null,
  });
const labelOf = (text: string): LabelRecord => {
  const json = JSON.parse(text) as LabelRecord & { issuedAt: number; expiresAt: number; revokedAt: number | null };
  return {
    ...json,
    issuedAt: new Date(json.issuedAt),
    expiresAt: new Date(json.expiresAt),
    revokedAt: json.revokedAt === null ? null : new Date(json.revokedAt),
  };
};

class CassandraLabels implements LabelRepository {
  constructor(private readonly c: CassandraContext) {}

  private statements(l: LabelRecord): Statement[] {
    return [
      {
        query: `INSERT INTO ${this.c.table(T.labelsById)} (id, domain, issued_at, body) VALUES (?, ?, ?, ?)`,
        params: [l.id, l.domain, l.issuedAt, labelBody(l)],
      },
      {
        query: `INSERT INTO ${this.c.table(T.labelsByDomain)} (domain, issued_at, id, body) VALUES (?, ?, ?, ?)`,
        params: [l.domain, l.issuedAt, l.id, labelBody(l)],
      },
    ];
  }

  async add(l: LabelRecord): Promise<void> {
    await this.c.loggedBatch(this.statements(l));
  }

  async get(id: string): Promise<LabelRecord | null> {
    const r = await this.c.one(`SELECT body FROM ${this.c.table(T.labelsById)} WHERE id = ?`, [id]);
    return r ? labelOf(r.get('body') as string) : null;
  }

  async listByDomain(domain: string): Promise<LabelRecord[]> {
    return (await this.c.rows(`SELECT body FROM ${this.c.table(T.labelsByDomain)} WHERE domain = ?`, [domain])).map(
      (r) => labelOf(r.get('body') as string),
    );
  }

  async markRevoked(id: string, at: Date, reason: string): Promise<void> {
    const label = await this.get(id);
    if (label === null || label.revokedAt !== null) return;
    await this.c.loggedBatch(this.statements({ ...label, revokedAt: at, revocationReason: reason }));
  }
}

class CassandraMembers implements MemberRepository {
  constructor(private readonly c: CassandraContext) {}

  async get(domain: string): Promise<Member | null> {
    const r = await this.c.one(`SELECT body FROM ${this.c.table(T.membersByBucket)} WHERE bucket = ? AND domain = ?`, [
      memberBucket(domain),
      domain,
    ]);
    return r ? memberFromJson(r.get('body') as string) : null;
  }

  async put(m: Member): Promise<void> {
    await this.c.write(
      `INSERT INTO ${this.c.table(T.membersByBucket)} (bucket, domain, status, body) VALUES (?, ?, ?, ?)`,
      [memberBucket(m.domain), m.domain, m.status, memberToJson(m)],
    );
  }

  async list(): Promise<Member[]> {
    const buckets = await Promise.all(
      Array.from({ length: MEMBER_BUCKETS }, (_v, bucket) =>
        this.c.rows(`SELECT body FROM ${this.c.table(T.membersByBucket)} WHERE bucket = ?`, [bucket]),
      ),
    );
    return buckets
      .flat()
      .map((r) => memberFromJson(r.get('body') as string))
      .sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
  }

  async getMany(domains: readonly string[]): Promise<Member[]> {
    const found = await Promise.all([...new Set(domains)].sort().map((domain) => this.get(domain)));
    return found.filter((m): m is Member => m !== null);
  }
}

class CassandraTransparencyLog implements TransparencyLogRepository {
  constructor(private readonly c: CassandraContext) {}

  async append(entries: readonly StoredLogEntry[], expectedSize: number): Promise<boolean> {
    if ((await this.size()) !== expectedSize) return false;
    let index = expectedSize;
    for (const [i, e] of entries.entries()) {
      for (;;) {
        // Each index belongs to the first writer that claims it.
        const won = await this.c.lwt(
          `INSERT INTO ${this.c.table(T.logEntries)} (chunk, idx, leaf_hash, entry) VALUES (?, ?, ?, ?) IF NOT EXISTS`,
          [Math.floor(index / LOG_CHUNK), index, Buffer.from(e.leafHash), e.entry],
        );
        if (won.applied) break;
        // The first index lost: nothing of ours is in the log. A later one lost: keep appending after the other writer.
        if (i === 0) return false;
        index = await this.size();
      }
      index++;
    }
    await this.c.write(`INSERT INTO ${this.c.table(T.logHead)} (one, size) VALUES (?, ?)`, [ONE, index]);
    return true;
  }

  /** The head row is a hint; the entries themselves decide (a writer may have died before moving the hint). */
  async size(): Promise<number> {
    const head = await this.c.one(`SELECT size FROM ${this.c.table(T.logHead)} WHERE one = ?`, [ONE]);
    let size = head ? toNumber(head.get('size')) : 0;
    for (;;) {
      const rows = await this.c.rows(`SELECT idx FROM ${this.c.table(T.logEntries)} WHERE chunk = ? AND idx >= ?`, [
        Math.floor(size / LOG_CHUNK),
        size,
      ]);
      let advanced = false;
      for (const r of rows) {
        if (toNumber(r.get('idx')) !== size) break;
        size++;
        advanced = true;
      }
      if (!advanced || size % LOG_CHUNK !== 0) return size;
    }
  }

  async range(start: number, end: number): Promise<StoredLogEntry[]> {
    const out: StoredLogEntry[] = [];
    for (let chunk = Math.floor(start / LOG_CHUNK); chunk * LOG_CHUNK < end; chunk++) {
      const rows = await this.c.rows(
        `SELECT idx, leaf_hash, entry FROM ${this.c.table(T.logEntries)} WHERE chunk = ? AND idx >= ? AND idx < ?`,
        [chunk, start, end],
      );
      for (const r of rows)
        out.push({
          index: toNumber(r.get('idx')),
          leafHash: new Uint8Array(r.get('leaf_hash') as Buffer),
          entry: r.get('entry') as string,
        });
    }
    return out;
  }

  async leafHashesFrom(start: number): Promise<Uint8Array[]> {
    const size = await this.size();
    const out: Uint8Array[] = [];
    for (let chunk = Math.floor(start / LOG_CHUNK); chunk * LOG_CHUNK < size; chunk++) {
      const rows = await this.c.rows(
        `SELECT idx, leaf_hash FROM ${this.c.table(T.logEntries)} WHERE chunk = ? AND idx >= ? AND idx < ?`,
        [chunk, start, size],
      );
      for (const r of rows) out.push(new Uint8Array(r.get('leaf_hash') as Buffer));
    }
    return out;
  }

  async putCheckpoint(cp: StoredCheckpoint): Promise<void> {
    await this.c.write(`INSERT INTO ${this.c.table(T.logCheckpoints)} (one, tree_size, jws, ts) VALUES (?, ?, ?, ?)`, [
      ONE,
      cp.treeSize,
      cp.jws,
      cp.timestamp,
    ]);
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const r = await this.c.one(
      `SELECT tree_size, jws, ts FROM ${this.c.table(T.logCheckpoints)} WHERE one = ? LIMIT 1`,
      [ONE],
    );
    return r
      ? { treeSize: toNumber(r.get('tree_size')), jws: r.get('jws') as string, timestamp: toNumber(r.get('ts')) }
      : null;
  }
}

class CassandraFeed implements FeedRepository {
  constructor(private readonly c: CassandraContext) {}

  async publish(p: FeedPublication): Promise<boolean> {
    const id = randomUUID();
    const chunks = Math.max(1, Math.ceil(p.envelope.byteLength / ENVELOPE_CHUNK_BYTES));
    for (let i = 0; i < chunks; i++) {
      const data = Buffer.from(p.envelope.subarray(i * ENVELOPE_CHUNK_BYTES, (i + 1) * ENVELOPE_CHUNK_BYTES));
      await this.c.write(
        `INSERT INTO ${this.c.table(T.feedEnvelopeChunks)} (publication_id, chunk, data) VALUES (?, ?, ?)`,
        [id, i, data],
      );
    }
    await this.c.write(
      `INSERT INTO ${this.c.table(T.feedPublications)} (id, serial, issued_at, digest, checkpoint, chunks) VALUES (?, ?, ?, ?, ?, ?)`,
      [id, p.serial, p.issuedAt, p.digest, p.checkpointJws, chunks],
    );
    const won =
      p.serial === 1
        ? await this.c.lwt(
            `INSERT INTO ${this.c.table(T.feedLatest)} (one, serial, publication_id) VALUES (?, ?, ?) IF NOT EXISTS`,
            [ONE, 1, id],
          )
        : await this.c.lwt(
            `UPDATE ${this.c.table(T.feedLatest)} SET serial = ?, publication_id = ? WHERE one = ? IF serial = ?`,
            [p.serial, id, ONE, p.serial - 1],
          );
    if (!won.applied) return false;
    const block = Math.floor(p.serial / FEED_CHANGE_BLOCK);
    for (const domain of new Set(p.changedDomains)) {
      await this.c.write(`INSERT INTO ${this.c.table(T.feedChanges)} (block, serial, domain) VALUES (?, ?, ?)`, [
        block,
        p.serial,
        domain,
      ]);
    }
    return true;
  }

  async latest(): Promise<FeedPublication | null> {
    const head = await this.c.one(`SELECT serial, publication_id FROM ${this.c.table(T.feedLatest)} WHERE one = ?`, [
      ONE,
    ]);
    if (head === null) return null;
    const id = String(head.get('publication_id'));
    const serial = toNumber(head.get('serial'));
    const pub = await this.c.one(`SELECT * FROM ${this.c.table(T.feedPublications)} WHERE id = ?`, [id]);
    if (pub === null) return null;
    const rows = await this.c.rows(
      `SELECT chunk, data FROM ${this.c.table(T.feedEnvelopeChunks)} WHERE publication_id = ?`,
      [id],
    );
    const envelope = new Uint8Array(
      Buffer.concat(
        rows
          .sort((a, b) => (a.get('chunk') as number) - (b.get('chunk') as number))
          .map((r) => r.get('data') as Buffer),
      ),
    );
    const changes = await this.c.rows(
      `SELECT domain FROM ${this.c.table(T.feedChanges)} WHERE block = ? AND serial = ?`,
      [Math.floor(serial / FEED_CHANGE_BLOCK), serial],
    );
    return {
      serial,
      issuedAt: toNumber(pub.get('issued_at')),
      envelope,
      digest: pub.get('digest') as string,
      checkpointJws: pub.get('checkpoint') as string,
      changedDomains: changes.map((r) => r.get('domain') as string).sort(),
    };
  }

  async changedSince(serial: number): Promise<string[]> {
    const head = await this.c.one(`SELECT serial FROM ${this.c.table(T.feedLatest)} WHERE one = ?`, [ONE]);
    const latest = head ? toNumber(head.get('serial')) : 0;
    const domains = new Set<string>();
    for (
      let block = Math.floor((serial + 1) / FEED_CHANGE_BLOCK);
      block <= Math.floor(latest / FEED_CHANGE_BLOCK);
      block++
    ) {
      const rows = await this.c.rows(
        `SELECT domain FROM ${this.c.table(T.feedChanges)} WHERE block = ? AND serial > ?`,
        [block, serial],
      );
      for (const r of rows) domains.add(r.get('domain') as string);
    }
    return [...domains].sort();
  }
}

class CassandraRegistryKeys implements RegistryKeyRepository {
  constructor(private readonly c: CassandraContext) {}

  async add(k: RegistryKeyRecord): Promise<void> {
    await this.c.write(
      `INSERT INTO ${this.c.table(T.registryKeys)} (one, kid, public_jwk, private_sealed, not_before, not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [ONE, k.kid, JSON.stringify(k.publicJwk), k.privateSealed, k.notBefore, k.notAfter, k.createdAt],
    );
  }

  async list(): Promise<RegistryKeyRecord[]> {
    const rows = await this.c.rows(`SELECT * FROM ${this.c.table(T.registryKeys)} WHERE one = ?`, [ONE]);
    return rows
      .map((r) => ({
        kid: r.get('kid') as string,
        publicJwk: JSON.parse(r.get('public_jwk') as string) as RegistryKeyRecord['publicJwk'],
        privateSealed: r.get('private_sealed') as string,
        notBefore: toNumber(r.get('not_before')),
        notAfter: toNumber(r.get('not_after')),
        createdAt: d(r.get('created_at')),
      }))
      .sort((a, b) => a.notBefore - b.notBefore || (a.kid < b.kid ? -1 : 1));
  }

  async setNotAfter(kid: string, notAfter: number): Promise<void> {
    await this.c.write(`UPDATE ${this.c.table(T.registryKeys)} SET not_after = ? WHERE one = ? AND kid = ?`, [
      notAfter,
      ONE,
      kid,
    ]);
  }

  async addStatement(st: KeySetStatementRecord): Promise<boolean> {
    const r = await this.c.lwt(
      `INSERT INTO ${this.c.table(T.registryKeyStatements)} (one, sequence, jws, created_at) VALUES (?, ?, ?, ?) IF NOT EXISTS`,
      [ONE, st.sequence, st.jws, st.createdAt],
    );
    return r.applied;
  }

  async statements(): Promise<KeySetStatementRecord[]> {
    const rows = await this.c.rows(`SELECT * FROM ${this.c.table(T.registryKeyStatements)} WHERE one = ?`, [ONE]);
    return rows
      .map((r) => ({
        sequence: toNumber(r.get('sequence')),
        jws: r.get('jws') as string,
        createdAt: d(r.get('created_at')),
      }))
      .sort((a, b) => a.sequence - b.sequence);
  }
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

export class CassandraRegistryStorage implements RegistryStorage {
  readonly engine = 'cassandra' as const;
  readonly client: Client;
  readonly context: CassandraContext;
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

  private constructor(
    client: Client,
    private readonly options: CassandraOptions,
  ) {
    this.client = client;
    this.context = new CassandraContext(client, options.keyspace, options.consistency);
    this.applications = new CassandraApplications(this.context);
    this.checkRuns = new CassandraCheckRuns(this.context);
    this.auditors = new CassandraAuditors(this.context);
    this.votes = new CassandraVotes(this.context);
    this.auditEvents = new CassandraAuditEvents(this.context);
    this.labels = new CassandraLabels(this.context);
    this.members = new CassandraMembers(this.context);
    this.log = new CassandraTransparencyLog(this.context);
    this.feed = new CassandraFeed(this.context);
    this.keys = new CassandraRegistryKeys(this.context);
  }

  static async connect(options: CassandraOptions): Promise<CassandraRegistryStorage> {
    return new CassandraRegistryStorage(await connectCassandra(options), options);
  }

  /** Creates the keyspace when missing and applies pending migrations under a cluster-wide lock. */
  async migrate(): Promise<number> {
    return migrateKeyspace(this.client, this.context, this.options, {
      component: 'registry',
      migrations: REGISTRY_CASSANDRA_MIGRATIONS,
    });
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.context.one('SELECT release_version FROM system.local', [])) !== null;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }
}
