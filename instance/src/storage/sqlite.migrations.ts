import type { Migration } from './sqlite.connection.ts';

/**
 * Schema of the embedded store. Append new migrations; never edit a released one.
 * Times are integer milliseconds since the epoch (UTC); JSON columns hold arrays/objects the domain owns.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, devices, sessions, contacts, conversations, messages',
    sql: `
      CREATE TABLE accounts (
        id                  TEXT PRIMARY KEY,
        username            TEXT NOT NULL UNIQUE,
        display_name        TEXT NOT NULL,
        role                TEXT NOT NULL CHECK (role IN ('user', 'admin')),
        password_hash       TEXT NOT NULL,
        totp_secret_sealed  TEXT,
        totp_pending_sealed TEXT,
        totp_last_step      INTEGER NOT NULL DEFAULT 0,
        quota_bytes         INTEGER NOT NULL,
        used_bytes          INTEGER NOT NULL DEFAULT 0,
        disabled            INTEGER NOT NULL DEFAULT 0,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE devices (
        id              TEXT PRIMARY KEY,
        account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name            TEXT NOT NULL,
        type            TEXT NOT NULL,
        os              TEXT,
        os_version      TEXT,
        browser         TEXT,
        browser_version TEXT,
        user_agent      TEXT NOT NULL,
        first_seen_at   INTEGER NOT NULL,
        last_seen_at    INTEGER NOT NULL,
        revoked_at      INTEGER
      ) STRICT;
      CREATE INDEX devices_by_account ON devices (account_id, last_seen_at DESC);

      CREATE TABLE sessions (
        id          TEXT PRIMARY KEY,
        account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        device_id   TEXT NOT NULL,
        token_hash  TEXT NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        revoked_at  INTEGER
      ) STRICT;
      CREATE INDEX sessions_by_device ON sessions (account_id, device_id);
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);

      CREATE TABLE contacts (
        id            TEXT PRIMARY KEY,
        account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        display_name  TEXT NOT NULL,
        notes         TEXT NOT NULL DEFAULT '',
        automatic     INTEGER NOT NULL DEFAULT 0,
        pi_json       TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX contacts_by_name ON contacts (account_id, display_name, id);

      -- An identity (protocol, address) belongs to at most one contact of an account: the primary key says so.
      CREATE TABLE contact_identities (
        account_id  TEXT NOT NULL,
        protocol    TEXT NOT NULL,
        address     TEXT NOT NULL,
        contact_id  TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        label       TEXT,
        position    INTEGER NOT NULL,
        PRIMARY KEY (account_id, protocol, address)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX contact_identities_by_contact ON contact_identities (contact_id, position);

      CREATE TABLE conversations (
        id                TEXT PRIMARY KEY,
        account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        kind              TEXT NOT NULL CHECK (kind IN ('people', 'list')),
        key               TEXT NOT NULL,
        title             TEXT NOT NULL,
        participants_json TEXT NOT NULL,
        last_message_at   INTEGER NOT NULL,
        message_count     INTEGER NOT NULL DEFAULT 0,
        unread_count      INTEGER NOT NULL DEFAULT 0,
        pi_json           TEXT,
        importance        INTEGER NOT NULL DEFAULT 0,
        created_at        INTEGER NOT NULL,
        UNIQUE (account_id, key)
      ) STRICT;
      CREATE INDEX conversations_by_activity ON conversations (account_id, last_message_at DESC, id DESC);

      CREATE TABLE messages (
        id              TEXT PRIMARY KEY,
        account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        conversation_id TEXT NOT NULL,
        protocol        TEXT NOT NULL,
        direction       TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
        external_id     TEXT,
        content_hash    TEXT NOT NULL,
        from_json       TEXT NOT NULL,
        to_json         TEXT NOT NULL,
        cc_json         TEXT NOT NULL,
        subject         TEXT NOT NULL,
        snippet         TEXT NOT NULL,
        sent_at         INTEGER,
        received_at     INTEGER NOT NULL,
        size_bytes      INTEGER NOT NULL,
        raw_ref         TEXT,
        thread_key      TEXT,
        tags_json       TEXT NOT NULL,
        read            INTEGER NOT NULL DEFAULT 0,
        archived        INTEGER NOT NULL DEFAULT 0,
        deleted_at      INTEGER,
        pi_json         TEXT,
        importance      INTEGER NOT NULL DEFAULT 0,
        facts_json      TEXT NOT NULL
      ) STRICT;
      CREATE INDEX messages_by_conversation ON messages (account_id, conversation_id, received_at DESC, id DESC);
      CREATE UNIQUE INDEX messages_dedupe ON messages (account_id, coalesce(external_id, ''), content_hash);
    `,
  },
  {
    version: 2,
    name: 'remote identities (IMAP import) and their per-folder sync state',
    sql: `
      -- A mailbox the account holds elsewhere. The password is sealed (SecretBox, purpose remote-identity:<id>);
      -- sync_json is the latest import's status and progress.
      CREATE TABLE remote_identities (
        id                TEXT PRIMARY KEY,
        account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        kind              TEXT NOT NULL CHECK (kind IN ('imap')),
        label             TEXT NOT NULL,
        host              TEXT NOT NULL,
        port              INTEGER NOT NULL,
        tls               TEXT NOT NULL CHECK (tls IN ('implicit', 'starttls', 'none')),
        username          TEXT NOT NULL,
        credential_sealed TEXT NOT NULL,
        sync_json         TEXT NOT NULL,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX remote_identities_by_account ON remote_identities (account_id, created_at, id);

      -- Incremental sync: everything up to last_uid under uid_validity was imported.
      CREATE TABLE imap_folder_states (
        account_id   TEXT NOT NULL,
        identity_id  TEXT NOT NULL REFERENCES remote_identities(id) ON DELETE CASCADE,
        path         TEXT NOT NULL,
        uid_validity TEXT NOT NULL,
        last_uid     INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        PRIMARY KEY (identity_id, path)
      ) STRICT, WITHOUT ROWID;
    `,
  },
];
