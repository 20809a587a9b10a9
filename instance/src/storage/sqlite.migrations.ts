import type { Migration } from '@caliopen/platform/sqlite/sqlite.connection.ts';

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
  {
    version: 3,
    name: 'Privacy Index of accounts and devices',
    sql: `
      -- The stored PI summary ({ score, level, modelVersion }) of the element; NULL until first computed.
      ALTER TABLE accounts ADD COLUMN pi_json TEXT;
      ALTER TABLE devices ADD COLUMN pi_json TEXT;
    `,
  },
  {
    version: 4,
    name: "correspondents' OpenPGP public keys (trust on first use)",
    sql: `
      -- Keys of correspondents, per account and address (see keys/public-key.entity.ts). public_key holds the
      -- transferable public key as validated (binary packets, never private material).
      CREATE TABLE correspondent_keys (
        account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        address        TEXT NOT NULL,
        fingerprint    TEXT NOT NULL,
        version        INTEGER NOT NULL,
        algorithm      TEXT NOT NULL,
        public_key     BLOB NOT NULL,
        source         TEXT NOT NULL CHECK (source IN ('autocrypt', 'attached', 'wkd', 'dns', 'dnssec', 'federation')),
        status         TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'conflict', 'rejected')),
        key_created_at INTEGER NOT NULL,
        key_expires_at INTEGER,
        verified_at    INTEGER,
        first_seen_at  INTEGER NOT NULL,
        last_seen_at   INTEGER NOT NULL,
        PRIMARY KEY (account_id, address, fingerprint)
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'importance: discussions by importance, and the correspondence ledger (sent Message-IDs, addresses written to)',
    sql: `
      -- GET /api/v1/discussions?sort=importance: importance desc, then last activity desc (keyset paging).
      CREATE INDEX conversations_by_importance ON conversations (account_id, importance DESC, last_message_at DESC, id DESC);

      -- The Message-IDs of the account's own outbound messages (a reply to one of them is important) and the
      -- addresses it has written to (a known sender). Existence only.
      CREATE TABLE sent_message_ids (
        account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        external_id TEXT NOT NULL,
        PRIMARY KEY (account_id, external_id)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE written_addresses (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        protocol   TEXT NOT NULL,
        address    TEXT NOT NULL,
        PRIMARY KEY (account_id, protocol, address)
      ) STRICT, WITHOUT ROWID;

      -- Filled from the outbound messages already stored.
      INSERT OR IGNORE INTO sent_message_ids (account_id, external_id)
        SELECT account_id, external_id FROM messages WHERE direction = 'outbound' AND external_id IS NOT NULL;
      INSERT OR IGNORE INTO written_addresses (account_id, protocol, address)
        SELECT m.account_id, coalesce(json_extract(p.value, '$.protocol'), 'email'), json_extract(p.value, '$.address')
        FROM messages m, json_each(m.to_json) p
        WHERE m.direction = 'outbound' AND coalesce(json_extract(p.value, '$.address'), '') <> ''
        UNION
        SELECT m.account_id, coalesce(json_extract(p.value, '$.protocol'), 'email'), json_extract(p.value, '$.address')
        FROM messages m, json_each(m.cc_json) p
        WHERE m.direction = 'outbound' AND coalesce(json_extract(p.value, '$.address'), '') <> '';
    `,
  },
  {
    version: 6,
    name: "the account's own OpenPGP keys, and its server-held private key (wrapped, sealed)",
    sql: `
      -- The account's own keys (see keys/account-key.entity.ts). public_key: the transferable public key (binary);
      -- revocation: the armoured revocation certificate (public). private_sealed and kek_json are set only when the
      -- private key is held by the server (server mode): the key wrapped under a key derived from the user's password
      -- (argon2id parameters and salt in kek_json), then sealed with the instance master key.
      CREATE TABLE account_keys (
        account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        fingerprint    TEXT NOT NULL,
        version        INTEGER NOT NULL,
        algorithm      TEXT NOT NULL,
        public_key     BLOB NOT NULL,
        status         TEXT NOT NULL CHECK (status IN ('active', 'retired', 'revoked')),
        key_created_at INTEGER NOT NULL,
        key_expires_at INTEGER,
        revocation     TEXT,
        private_sealed TEXT,
        kek_json       TEXT,
        added_at       INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        PRIMARY KEY (account_id, fingerprint)
      ) STRICT;
    `,
  },
  {
    version: 7,
    name: "key alerts: an account's unresolved trust-on-first-use conflicts, newest first",
    sql: `
      -- GET /api/v1/keys/alerts: the keys in conflict of one account, in the listing order, without reading its other
      -- keys (a partial index: only conflicts are in it, and they are few).
      CREATE INDEX correspondent_keys_conflicts ON correspondent_keys (account_id, first_seen_at DESC, address DESC, fingerprint DESC)
        WHERE status = 'conflict';
    `,
  },
  {
    version: 8,
    name: 'encrypted mail waiting for the account key to be unlocked (late decryption)',
    sql: `
      -- MessageRepository.listPendingDecryption: a partial index, holding only the messages whose facts say
      -- openpgp.pendingDecryption (encrypted to the account while its server-held key was locked). Reading them costs
      -- what is pending, not the mailbox; a message leaves the index when its facts are rewritten without the marker.
      CREATE INDEX messages_pending_decryption ON messages (account_id, received_at, id)
        WHERE json_extract(facts_json, '$.openpgp.pendingDecryption') = 1;
    `,
  },
  {
    version: 9,
    name: 'federation replay record and trust-sharing preferences, shared by every process of the instance',
    sql: `
      -- The inbox's replay record (federation/replay.repository.sqlite.ts): one row per accepted envelope
      -- ('<sender instance> <envelope id>') until its expiry plus tolerance, with the receipt issued for it.
      CREATE TABLE federation_replay (
        key     TEXT PRIMARY KEY,
        until   INTEGER NOT NULL,
        receipt TEXT
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX federation_replay_until ON federation_replay (until);
      -- Whether a user lets labelled peers read their account PI; no row = not shared.
      CREATE TABLE trust_sharing (
        account_id TEXT PRIMARY KEY,
        share      INTEGER NOT NULL CHECK (share IN (0, 1)),
        updated_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 10,
    name: 'federation prekeys and user notices, shared by every process of the instance',
    sql: `
      -- This instance's prekeys (federation/prekey.repository.sqlite.ts), one per rotation slot (the window's start):
      -- the public claims and signed form as published, the private half sealed by the master key (NULL once deleted).
      CREATE TABLE federation_prekeys (
        not_before     INTEGER PRIMARY KEY,
        kid            TEXT NOT NULL UNIQUE,
        prekey         TEXT NOT NULL,
        jws            TEXT NOT NULL,
        private_sealed TEXT
      ) STRICT;
      -- The users' notices (notices/notice.repository.sqlite.ts): addresses and status lines, never content.
      CREATE TABLE notice_delivery_failures (
        id         TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        at         INTEGER NOT NULL,
        recipients TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX notice_delivery_failures_account ON notice_delivery_failures (account_id, at);
      CREATE TABLE notice_standing_changes (
        id     TEXT PRIMARY KEY,
        at     INTEGER NOT NULL,
        change TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX notice_standing_changes_at ON notice_standing_changes (at);
      CREATE TABLE notice_dismissals (
        account_id TEXT NOT NULL,
        notice_id  TEXT NOT NULL,
        at         INTEGER NOT NULL,
        PRIMARY KEY (account_id, notice_id)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 11,
    name: 'linked XMPP accounts (a second protocol in the same person-conversations)',
    sql: `
      -- xmpp/xmpp-account.repository.sqlite.ts: one row per XMPP account a user linked; the password sealed for this
      -- link only; archive_cursor: the server archive (XEP-0313) id caught up to. One link per JID per account.
      CREATE TABLE xmpp_accounts (
        id                TEXT PRIMARY KEY,
        account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        jid               TEXT NOT NULL,
        host              TEXT,
        port              INTEGER,
        label             TEXT NOT NULL,
        credential_sealed TEXT NOT NULL,
        archive_cursor    TEXT,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        UNIQUE (account_id, jid)
      ) STRICT;
      CREATE INDEX xmpp_accounts_by_account ON xmpp_accounts (account_id, created_at, id);
    `,
  },
  {
    version: 12,
    name: 'app passwords (one per mail app of an account, hashed) and send-as relays of imported addresses',
    sql: `
      -- Passwords the instance makes for mail apps (SMTP submission, IMAP), shown once, stored as argon2id hashes;
      -- read per account (at most a few dozen), oldest first.
      CREATE TABLE app_passwords (
        id           TEXT NOT NULL,
        account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        label        TEXT NOT NULL,
        hash         TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER,
        PRIMARY KEY (account_id, id)
      ) STRICT, WITHOUT ROWID;
      -- Send as an imported address: the provider's submission server and sealed credentials, one per remote identity.
      CREATE TABLE send_as_relays (
        account_id        TEXT NOT NULL,
        identity_id       TEXT NOT NULL REFERENCES remote_identities(id) ON DELETE CASCADE,
        address           TEXT NOT NULL,
        host              TEXT NOT NULL,
        port              INTEGER NOT NULL,
        tls               TEXT NOT NULL CHECK (tls IN ('implicit', 'starttls')),
        username          TEXT NOT NULL,
        credential_sealed TEXT NOT NULL,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        PRIMARY KEY (account_id, identity_id)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 13,
    name: 'pending account deletions (self-service deletion with a grace period)',
    sql: `
      -- One row per account whose user asked for its deletion, until the purge (which removes it with the account)
      -- or a cancellation. Times: when asked, when the purge runs.
      CREATE TABLE account_deletions (
        account_id   TEXT PRIMARY KEY,
        requested_at INTEGER NOT NULL,
        due_at       INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 14,
    name: "correspondents' keys known only by their fingerprint (source 'signature'): a signature by another key than the pinned one",
    sql: `
      -- SQLite cannot change a CHECK constraint: the table is rebuilt with 'signature' among the sources (a key alert
      -- raised by a signature whose key we do not hold: public_key is then empty). Its index is made again.
      CREATE TABLE correspondent_keys_v15 (
        account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        address        TEXT NOT NULL,
        fingerprint    TEXT NOT NULL,
        version        INTEGER NOT NULL,
        algorithm      TEXT NOT NULL,
        public_key     BLOB NOT NULL,
        source         TEXT NOT NULL
          CHECK (source IN ('signature', 'autocrypt', 'attached', 'wkd', 'dns', 'dnssec', 'federation')),
        status         TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'conflict', 'rejected')),
        key_created_at INTEGER NOT NULL,
        key_expires_at INTEGER,
        verified_at    INTEGER,
        first_seen_at  INTEGER NOT NULL,
        last_seen_at   INTEGER NOT NULL,
        PRIMARY KEY (account_id, address, fingerprint)
      ) STRICT;
      INSERT INTO correspondent_keys_v15 SELECT * FROM correspondent_keys;
      DROP TABLE correspondent_keys;
      ALTER TABLE correspondent_keys_v15 RENAME TO correspondent_keys;
      CREATE INDEX correspondent_keys_conflicts ON correspondent_keys (account_id, first_seen_at DESC, address DESC, fingerprint DESC)
        WHERE status = 'conflict';
    `,
  },
];
