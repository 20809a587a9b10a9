import type { Migration } from '@caliopen/platform/sqlite/sqlite.connection.ts';

/**
 * Schema of the registry's embedded store (`<dataDir>/registry.db`). Append new migrations; never edit a released one.
 * Times are integer milliseconds since the epoch (UTC) unless the column says `_s` (NumericDate seconds, as on the
 * wire); JSON columns hold objects the domain owns.
 */
export const REGISTRY_SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'applications, checks, auditors, votes, audit events, labels, members, log, feed, keys',
    sql: `
      CREATE TABLE applications (
        id                   TEXT PRIMARY KEY,
        domain               TEXT NOT NULL,
        status               TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'closed')),
        nonce                TEXT NOT NULL UNIQUE,
        applicant_token_hash TEXT NOT NULL UNIQUE,
        created_at           INTEGER NOT NULL,
        updated_at           INTEGER NOT NULL,
        closed_reason        TEXT,
        body_json            TEXT NOT NULL
      ) STRICT;
      -- At most one pending application per domain.
      CREATE UNIQUE INDEX applications_one_pending ON applications (domain) WHERE status = 'pending';
      CREATE INDEX applications_by_status ON applications (status, created_at DESC, id);
      CREATE INDEX applications_by_domain ON applications (domain, created_at);

      CREATE TABLE check_runs (
        id             TEXT PRIMARY KEY,
        application_id TEXT NOT NULL REFERENCES applications(id),
        domain         TEXT NOT NULL,
        trigger        TEXT NOT NULL,
        started_at     INTEGER NOT NULL,
        finished_at    INTEGER NOT NULL,
        mandatory_ok   INTEGER NOT NULL,
        results_json   TEXT NOT NULL
      ) STRICT;
      CREATE INDEX check_runs_by_application ON check_runs (application_id, finished_at DESC);

      CREATE TABLE auditors (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE auditor_sessions (
        id         TEXT PRIMARY KEY,
        auditor_id TEXT NOT NULL REFERENCES auditors(id),
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;

      CREATE TABLE votes (
        application_id TEXT NOT NULL REFERENCES applications(id),
        auditor_id     TEXT NOT NULL REFERENCES auditors(id),
        auditor_name   TEXT NOT NULL,
        vote           TEXT NOT NULL CHECK (vote IN ('approve', 'object', 'abstain')),
        reason         TEXT,
        cast_at        INTEGER NOT NULL,
        PRIMARY KEY (application_id, auditor_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE audit_events (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        id             TEXT NOT NULL UNIQUE,
        at             INTEGER NOT NULL,
        auditor_id     TEXT,
        auditor_name   TEXT,
        action         TEXT NOT NULL,
        domain         TEXT NOT NULL,
        application_id TEXT,
        detail_json    TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_events_by_time ON audit_events (at DESC, seq DESC);
      CREATE INDEX audit_events_by_domain ON audit_events (domain, at, seq);

      CREATE TABLE labels (
        id                TEXT PRIMARY KEY,
        domain            TEXT NOT NULL,
        application_id    TEXT NOT NULL,
        kind              TEXT NOT NULL CHECK (kind IN ('issued', 'renewed')),
        jws               TEXT NOT NULL,
        issued_at         INTEGER NOT NULL,
        expires_at        INTEGER NOT NULL,
        pi_score          INTEGER NOT NULL,
        revoked_at        INTEGER,
        revocation_reason TEXT
      ) STRICT;
      CREATE INDEX labels_by_domain ON labels (domain, issued_at DESC);

      CREATE TABLE members (
        domain      TEXT PRIMARY KEY,
        status      TEXT NOT NULL CHECK (status IN ('labelled', 'suspended', 'revoked')),
        updated_at  INTEGER NOT NULL,
        member_json TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE log_entries (
        idx        INTEGER PRIMARY KEY,
        leaf_hash  BLOB NOT NULL,
        entry      TEXT NOT NULL
      ) STRICT;

      CREATE TABLE log_checkpoints (
        tree_size INTEGER PRIMARY KEY,
        jws       TEXT NOT NULL,
        timestamp INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE feed_publications (
        serial      INTEGER PRIMARY KEY,
        issued_at_s INTEGER NOT NULL,
        digest      TEXT NOT NULL,
        checkpoint  TEXT NOT NULL
      ) STRICT;
      -- Only the latest envelope is kept: deltas are built from the changes below.
      CREATE TABLE feed_latest (
        one      INTEGER PRIMARY KEY CHECK (one = 1),
        serial   INTEGER NOT NULL,
        envelope BLOB NOT NULL
      ) STRICT;
      CREATE TABLE feed_changes (
        serial INTEGER NOT NULL,
        domain TEXT NOT NULL,
        PRIMARY KEY (serial, domain)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE registry_keys (
        kid            TEXT PRIMARY KEY,
        public_jwk     TEXT NOT NULL,
        private_sealed TEXT NOT NULL,
        not_before_s   INTEGER NOT NULL,
        not_after_s    INTEGER NOT NULL,
        created_at     INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'registry key rotation statements',
    sql: `
      CREATE TABLE registry_key_statements (
        sequence   INTEGER PRIMARY KEY CHECK (sequence >= 1),
        jws        TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
];
