import { type CqlMigration, MIGRATION_TABLES } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import type { StoredPi } from '../mail/message.entity.ts';

/**
 * The Cassandra schema of the instance store, and the helpers only it needs (session TTLs, the stored_pi type); the
 * generic ones (the migration ledger, keyspace, time buckets and their walk, claims, column decoding) are in
 * @caliopen/platform/cassandra/cassandra.schema.ts. Nothing here talks to a server: storage.cassandra.ts runs the
 * migrations and the repositories (`*.repository.cassandra.ts`) run the queries.
 *
 * Design rules (see instance/docs/cassandra.md):
 * - one table per query; per-user data is partitioned by `account_id` (alone, or with a conversation / a month),
 *   so no partition grows without bound and every query names a whole partition key (no filtering scans);
 * - listing tables (`*_by_activity`, `*_by_conversation`, `contacts_by_name`) hold keys only; rows are read from
 *   the table that owns them and a listing row that no longer matches its owner is skipped (and repaired), so a
 *   race between two writers can never show a wrong row;
 * - lightweight transactions (LWT) only where a value must be unique: `accounts_by_username`,
 *   `contact_by_identity`, `conversation_by_key`, `messages_by_dedupe`, plus the quota compare-and-set on
 *   `account_usage` and the migration lock. A column written by LWT is never written without one (mixing both on
 *   one cell breaks linearisability: Paxos and client timestamps do not order each other);
 * - collections are frozen (a non-frozen collection write first deletes the old one: one tombstone per write).
 */

/** Names of the schema's tables, so that the repositories and the migrations spell them once. */
export const TABLES = {
  ...MIGRATION_TABLES,
  accountsById: 'accounts_by_id',
  accountUsage: 'account_usage',
  accountsByUsername: 'accounts_by_username',
  accountDirectory: 'account_directory',
  devicesByAccount: 'devices_by_account',
  sessionsByTokenHash: 'sessions_by_token_hash',
  sessionsByAccount: 'sessions_by_account',
  sessionsByExpiry: 'sessions_by_expiry',
  sessionExpiryDays: 'session_expiry_days',
  contactsByAccount: 'contacts_by_account',
  contactsByName: 'contacts_by_name',
  contactByIdentity: 'contact_by_identity',
  conversationsByAccount: 'conversations_by_account',
  conversationByKey: 'conversation_by_key',
  conversationsByActivity: 'conversations_by_activity',
  conversationActivityMonths: 'conversation_activity_months',
  accountPi: 'account_pi',
  devicePi: 'device_pi',
  messagesById: 'messages_by_id',
  messagesByConversation: 'messages_by_conversation',
  messageMonths: 'message_months',
  messagesByDedupe: 'messages_by_dedupe',
  messageCounts: 'message_counts',
  messagesPendingDecryption: 'messages_pending_decryption',
  remoteIdentitiesByAccount: 'remote_identities_by_account',
  imapFolderStates: 'imap_folder_states',
  correspondentKeys: 'correspondent_keys',
  conversationsByImportance: 'conversations_by_importance',
  sentMessageIds: 'sent_message_ids',
  writtenAddresses: 'written_addresses',
  accountKeys: 'account_keys',
  correspondentKeyConflicts: 'correspondent_key_conflicts',
  federationReplay: 'federation_replay',
  trustSharing: 'trust_sharing',
  federationPrekeys: 'federation_prekeys',
  noticeDeliveryFailures: 'notice_delivery_failures',
  noticeStandingChanges: 'notice_standing_changes',
  noticeDismissals: 'notice_dismissals',
  xmppAccountsByAccount: 'xmpp_accounts_by_account',
  appPasswords: 'app_passwords',
  sendAsRelays: 'send_as_relays',
  accountDeletions: 'account_deletions',
} as const;

/** Append new versions; never edit a released one. */
export const CASSANDRA_MIGRATIONS: readonly CqlMigration[] = [
  {
    version: 1,
    name: 'accounts, devices, sessions, contacts, conversations, messages',
    statements: (ks) => [
      `CREATE TYPE IF NOT EXISTS ${ks}.stored_pi (score double, level text, model_version text)`,
      `CREATE TYPE IF NOT EXISTS ${ks}.contact_identity (protocol text, address text, label text)`,
      `CREATE TYPE IF NOT EXISTS ${ks}.participant (protocol text, address text, name text, contact_id text)`,
      `CREATE TYPE IF NOT EXISTS ${ks}.conversation_participant (contact_id text, address text, name text)`,

      // --- accounts -------------------------------------------------------------------------------------------
      // get(id); the quota usage lives in account_usage (LWT-only), the username reservation in accounts_by_username.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.accountsById} (
         account_id          text PRIMARY KEY,
         username            text,
         display_name        text,
         role                text,
         password_hash       text,
         totp_secret_sealed  text,
         totp_pending_sealed text,
         totp_last_step      bigint,
         quota_bytes         bigint,
         disabled            boolean,
         created_at          timestamp,
         updated_at          timestamp
       )`,
      // addUsage: compare-and-set `UPDATE ... IF used_bytes = ?`. A counter cannot refuse an increment that would
      // cross the quota, and a read-then-write lets two deliveries both squeeze under it. `last_op` identifies the
      // last applied change, so that a CAS whose answer was lost (timeout) can tell whether it was applied.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.accountUsage} (
         account_id text PRIMARY KEY,
         used_bytes bigint,
         last_op    text
       )`,
      // Username uniqueness: `INSERT ... IF NOT EXISTS` (LWT). A plain write would let two sign-ups for one name
      // both succeed, each on a different replica.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.accountsByUsername} (
         username   text PRIMARY KEY,
         account_id text,
         claimed_at timestamp
       )`,
      // list (by username, keyset paging) and count. One partition for the whole instance: rows are tiny (~80 bytes)
      // and an instance holds hundreds to tens of thousands of accounts (a few MB at most), read only by the admin
      // listing. Bucketing would only add a walk over buckets for no gain at that size.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.accountDirectory} (
         directory  text,
         username   text,
         account_id text,
         PRIMARY KEY ((directory), username)
       ) WITH CLUSTERING ORDER BY (username ASC)`,

      // --- devices --------------------------------------------------------------------------------------------
      // An account has a handful of devices: the whole partition is read and ordered by last_seen_at in memory.
      // last_seen_at is written with USING TIMESTAMP = the seen time, so the latest sighting wins whatever the order
      // in which two touches arrive ("touch never goes back in time") without a read or an LWT.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.devicesByAccount} (
         account_id      text,
         device_id       text,
         name            text,
         device_type     text,
         os              text,
         os_version      text,
         browser         text,
         browser_version text,
         user_agent      text,
         first_seen_at   timestamp,
         last_seen_at    timestamp,
         revoked_at      timestamp,
         PRIMARY KEY ((account_id), device_id)
       )`,

      // --- sessions -------------------------------------------------------------------------------------------
      // Every session row carries a TTL (expiry + a short retention), so sessions vanish even if nothing purges.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.sessionsByTokenHash} (
         token_hash text PRIMARY KEY,
         session_id text,
         account_id text,
         device_id  text,
         created_at timestamp,
         expires_at timestamp,
         revoked_at timestamp
       )`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.sessionsByAccount} (
         account_id text,
         session_id text,
         token_hash text,
         device_id  text,
         created_at timestamp,
         expires_at timestamp,
         revoked_at timestamp,
         PRIMARY KEY ((account_id), session_id)
       )`,
      // purgeExpired: instance-level maintenance index, one partition per expiry day (bounded by the sessions that
      // expire that day), listed by session_expiry_days.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.sessionsByExpiry} (
         expiry_day int,
         expires_at timestamp,
         session_id text,
         account_id text,
         token_hash text,
         PRIMARY KEY ((expiry_day), expires_at, session_id)
       )`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.sessionExpiryDays} (
         scope      text,
         expiry_day int,
         PRIMARY KEY ((scope), expiry_day)
       ) WITH CLUSTERING ORDER BY (expiry_day ASC)`,

      // --- contacts -------------------------------------------------------------------------------------------
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.contactsByAccount} (
         account_id   text,
         contact_id   text,
         display_name text,
         identities   frozen<list<frozen<contact_identity>>>,
         notes        text,
         automatic    boolean,
         pi           frozen<stored_pi>,
         created_at   timestamp,
         updated_at   timestamp,
         PRIMARY KEY ((account_id), contact_id)
       )`,
      // list: keys in (display_name, id) order; the rows are read from contacts_by_account in one IN query.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.contactsByName} (
         account_id   text,
         display_name text,
         contact_id   text,
         PRIMARY KEY ((account_id), display_name, contact_id)
       ) WITH CLUSTERING ORDER BY (display_name ASC, contact_id ASC)`,
      // findByIdentity, and ownership: an identity resolves to one contact. Claimed by LWT, because two inbound
      // messages from a new address are processed in parallel and would otherwise create two contacts that both
      // hold it.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.contactByIdentity} (
         account_id text,
         protocol   text,
         address    text,
         contact_id text,
         claimed_at timestamp,
         PRIMARY KEY ((account_id, protocol, address))
       )`,

      // --- conversations --------------------------------------------------------------------------------------
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.conversationsByAccount} (
         account_id       text,
         conversation_id  text,
         kind             text,
         conversation_key text,
         title            text,
         participants     frozen<list<frozen<conversation_participant>>>,
         last_message_at  timestamp,
         message_count    int,
         unread_count     int,
         pi               frozen<stored_pi>,
         importance       int,
         created_at       timestamp,
         PRIMARY KEY ((account_id), conversation_id)
       )`,
      // getOrCreate: the participant-set key is unique per account (LWT IF NOT EXISTS), else two messages of a new
      // correspondent arriving together would open two conversations.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.conversationByKey} (
         account_id       text,
         conversation_key text,
         conversation_id  text,
         claimed_at       timestamp,
         PRIMARY KEY ((account_id, conversation_key))
       )`,
      // list by activity: one partition per account and month of last activity; update moves the key row.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.conversationsByActivity} (
         account_id      text,
         month           int,
         last_message_at timestamp,
         conversation_id text,
         PRIMARY KEY ((account_id, month), last_message_at, conversation_id)
       ) WITH CLUSTERING ORDER BY (last_message_at DESC, conversation_id DESC)`,
      // The months that may hold activity rows of an account, newest first: the walk visits only these.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.conversationActivityMonths} (
         account_id text,
         month      int,
         PRIMARY KEY ((account_id), month)
       ) WITH CLUSTERING ORDER BY (month DESC)`,

      // --- messages -------------------------------------------------------------------------------------------
      // One partition per message: an account's mail is unbounded, a message is not.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.messagesById} (
         account_id       text,
         message_id       text,
         conversation_id  text,
         protocol         text,
         direction        text,
         external_id      text,
         content_hash     text,
         from_participant frozen<participant>,
         to_participants  frozen<list<frozen<participant>>>,
         cc_participants  frozen<list<frozen<participant>>>,
         subject          text,
         snippet          text,
         sent_at          timestamp,
         received_at      timestamp,
         size_bytes       bigint,
         raw_ref          text,
         thread_key       text,
         tags             frozen<list<text>>,
         read             boolean,
         archived         boolean,
         deleted_at       timestamp,
         pi               frozen<stored_pi>,
         importance       int,
         facts_json       text,
         PRIMARY KEY ((account_id, message_id))
       )`,
      // listByConversation: keys newest first, one partition per conversation and month of reception.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.messagesByConversation} (
         account_id      text,
         conversation_id text,
         month           int,
         received_at     timestamp,
         message_id      text,
         PRIMARY KEY ((account_id, conversation_id, month), received_at, message_id)
       ) WITH CLUSTERING ORDER BY (received_at DESC, message_id DESC)`,
      // The months in which a conversation received messages, newest first (a few hundred rows at most).
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.messageMonths} (
         account_id      text,
         conversation_id text,
         month           int,
         PRIMARY KEY ((account_id, conversation_id), month)
       ) WITH CLUSTERING ORDER BY (month DESC)`,
      // Idempotent import: (external id or '', content hash) is claimed by LWT before the message is written, so a
      // retried or doubly delivered message is stored once even when both copies arrive at the same moment.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.messagesByDedupe} (
         account_id   text,
         external_id  text,
         content_hash text,
         message_id   text,
         claimed_at   timestamp,
         PRIMARY KEY ((account_id, external_id, content_hash))
       )`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.messageCounts} (
         account_id text PRIMARY KEY,
         messages   counter
       )`,
    ],
  },
  {
    version: 2,
    name: 'remote identities (IMAP import) and their per-folder sync state',
    statements: (ks) => [
      // An account has a handful of remote identities: the whole partition is read and sorted in memory. The password
      // is sealed (SecretBox, purpose remote-identity:<id>); sync_json is the latest import's status and progress.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.remoteIdentitiesByAccount} (
         account_id        text,
         identity_id       text,
         kind              text,
         label             text,
         host              text,
         port              int,
         tls               text,
         username          text,
         credential_sealed text,
         sync_json         text,
         created_at        timestamp,
         updated_at        timestamp,
         PRIMARY KEY ((account_id), identity_id)
       )`,
      // One partition per identity, one row per remote folder (bounded by the remote mailbox's folder count).
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.imapFolderStates} (
         account_id   text,
         identity_id  text,
         folder_path  text,
         uid_validity text,
         last_uid     bigint,
         updated_at   timestamp,
         PRIMARY KEY ((account_id, identity_id), folder_path)
       )`,
    ],
  },
  {
    version: 3,
    name: "correspondents' OpenPGP public keys (trust on first use)",
    statements: (ks) => [
      // One partition per account and address: the keys of one address are a handful of rows (the pinned one, the
      // ones it replaced, conflicts), read whole. public_key holds the validated transferable public key.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.correspondentKeys} (
         account_id     text,
         address        text,
         fingerprint    text,
         version        int,
         algorithm      text,
         public_key     blob,
         source         text,
         status         text,
         key_created_at timestamp,
         key_expires_at timestamp,
         verified_at    timestamp,
         first_seen_at  timestamp,
         last_seen_at   timestamp,
         PRIMARY KEY ((account_id, address), fingerprint)
       )`,
    ],
  },
  {
    version: 4,
    name: 'importance: discussions by importance, and the correspondence ledger (sent Message-IDs, addresses written to)',
    statements: (ks) => [
      // list by importance: keys of the conversations whose importance is not normal (0), one partition per
      // account, level and month of last activity (the months are those of conversation_activity_months). Normal
      // conversations, the great majority and all of those written before this version, are listed from
      // conversations_by_activity (keeping those whose importance is 0), so no backfill is needed.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.conversationsByImportance} (
         account_id      text,
         importance      int,
         month           int,
         last_message_at timestamp,
         conversation_id text,
         PRIMARY KEY ((account_id, importance, month), last_message_at, conversation_id)
       ) WITH CLUSTERING ORDER BY (last_message_at DESC, conversation_id DESC)`,
      // The Message-IDs of the account's own outbound messages (a reply to one is important), one tiny partition each.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.sentMessageIds} (
         account_id  text,
         external_id text,
         PRIMARY KEY ((account_id, external_id))
       )`,
      // The addresses the account has written to (a known sender), one tiny partition each.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.writtenAddresses} (
         account_id text,
         protocol   text,
         address    text,
         PRIMARY KEY ((account_id, protocol, address))
       )`,
    ],
  },
  {
    version: 5,
    name: 'Privacy Index of accounts and devices',
    statements: (ks) => [
      // Tables of their own rather than ALTER TABLE ... ADD (not idempotent on Cassandra 4.0): one row per account
      // and one partition of device rows per account, read next to the devices.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.accountPi} (
         account_id text PRIMARY KEY,
         pi         frozen<stored_pi>
       )`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.devicePi} (
         account_id text,
         device_id  text,
         pi         frozen<stored_pi>,
         PRIMARY KEY ((account_id), device_id)
       )`,
    ],
  },
  {
    version: 6,
    name: "the account's own OpenPGP keys, and its server-held private key (wrapped, sealed)",
    statements: (ks) => [
      // One partition per account, one row per key (a handful over an account's life), read whole. private_sealed
      // and kek_json are set only for a server-held private key (wrapped under a password-derived key, then sealed).
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.accountKeys} (
         account_id     text,
         fingerprint    text,
         version        int,
         algorithm      text,
         public_key     blob,
         status         text,
         key_created_at timestamp,
         key_expires_at timestamp,
         revocation     text,
         private_sealed text,
         kek_json       text,
         added_at       timestamp,
         updated_at     timestamp,
         PRIMARY KEY ((account_id), fingerprint)
       )`,
    ],
  },
  {
    version: 7,
    name: "key alerts: an account's unresolved trust-on-first-use conflicts, newest first",
    statements: (ks) => [
      // The index of correspondent_keys rows whose status is 'conflict' (GET /api/v1/keys/alerts): one partition per
      // account, in the listing order, written in the same logged batch as the key row. Only unresolved conflicts
      // are in it (a handful), and a row leaves when its key is verified, rejected or deleted.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.correspondentKeyConflicts} (
         account_id    text,
         first_seen_at timestamp,
         address       text,
         fingerprint   text,
         PRIMARY KEY ((account_id), first_seen_at, address, fingerprint)
       ) WITH CLUSTERING ORDER BY (first_seen_at DESC, address DESC, fingerprint DESC)`,
    ],
  },
  {
    version: 8,
    name: 'encrypted mail waiting for the account key to be unlocked (late decryption)',
    statements: (ks) => [
      // MessageRepository.listPendingDecryption: the keys of messages whose facts say openpgp.pendingDecryption
      // (encrypted to the account while its server-held key was locked), one partition per account, oldest first.
      // Written in the same logged batch as the message; a key leaves when the message is decrypted, given up on, or
      // purged. Only what waits is in it (usually a handful, at most the mail of one locked period).
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.messagesPendingDecryption} (
         account_id  text,
         received_at timestamp,
         message_id  text,
         PRIMARY KEY ((account_id), received_at, message_id)
       ) WITH CLUSTERING ORDER BY (received_at ASC, message_id ASC)`,
    ],
  },
  {
    version: 9,
    name: 'federation replay record and trust-sharing preferences, shared by every process of the instance',
    statements: (ks) => [
      // The inbox's replay record (federation/replay.repository.cassandra.ts): one partition per accepted envelope
      // ('<sender instance> <envelope id>'), claimed by INSERT ... IF NOT EXISTS USING TTL (until - now), so the
      // entries vanish when the envelope could no longer be accepted; every write to it is an LWT.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.federationReplay} (
         key     text PRIMARY KEY,
         until   bigint,
         receipt text
       )`,
      // Whether a user lets labelled peers read their account PI; no row = not shared.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.trustSharing} (
         account_id text PRIMARY KEY,
         share      boolean,
         updated_at timestamp
       )`,
    ],
  },
  {
    version: 10,
    name: 'federation prekeys and user notices, shared by every process of the instance',
    statements: (ks) => [
      // This instance's prekeys (federation/prekey.repository.cassandra.ts): one small partition, clustered by slot
      // (the window's start); a slot is claimed by INSERT ... IF NOT EXISTS, so two processes rotating at once store
      // one successor. Every write to it is an LWT.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.federationPrekeys} (
         bucket         text,
         not_before     bigint,
         kid            text,
         prekey         text,
         jws            text,
         private_sealed text,
         PRIMARY KEY ((bucket), not_before)
       )`,
      // The users' notices (notices/notice.repository.cassandra.ts): delivery failures per account, newest first
      // (the oldest beyond the cap are deleted on insert); changes of this instance's standing in one partition,
      // newest first; which notice each account dismissed.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.noticeDeliveryFailures} (
         account_id text,
         at         timestamp,
         id         text,
         message_id text,
         recipients text,
         PRIMARY KEY ((account_id), at, id)
       ) WITH CLUSTERING ORDER BY (at DESC, id DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.noticeStandingChanges} (
         bucket text,
         at     timestamp,
         id     text,
         change text,
         status text,
         reason text,
         PRIMARY KEY ((bucket), at, id)
       ) WITH CLUSTERING ORDER BY (at DESC, id DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.noticeDismissals} (
         account_id text,
         notice_id  text,
         at         timestamp,
         PRIMARY KEY ((account_id), notice_id)
       )`,
    ],
  },
  {
    version: 11,
    name: 'linked XMPP accounts (a second protocol in the same person-conversations)',
    statements: (ks) => [
      // xmpp/xmpp-account.repository.cassandra.ts: one partition per account, one row per linked XMPP account.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.xmppAccountsByAccount} (
         account_id        text,
         link_id           text,
         jid               text,
         host              text,
         port              int,
         label             text,
         credential_sealed text,
         archive_cursor    text,
         created_at        timestamp,
         updated_at        timestamp,
         PRIMARY KEY ((account_id), link_id)
       )`,
    ],
  },
  {
    version: 12,
    name: 'app passwords (one per mail app of an account, hashed) and send-as relays of imported addresses',
    statements: (ks) => [
      // Passwords the instance makes for mail apps, stored as argon2id hashes; read per account, a few dozen at most.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.appPasswords} (
         account_id   text,
         id           text,
         label        text,
         hash         text,
         created_at   timestamp,
         last_used_at timestamp,
         PRIMARY KEY ((account_id), id)
       )`,
      // Send as an imported address: the provider's submission server and sealed credentials, per remote identity.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.sendAsRelays} (
         account_id        text,
         identity_id       text,
         address           text,
         host              text,
         port              int,
         tls               text,
         username          text,
         credential_sealed text,
         created_at        timestamp,
         updated_at        timestamp,
         PRIMARY KEY ((account_id), identity_id)
       )`,
    ],
  },
  {
    version: 13,
    name: 'pending account deletions (self-service deletion with a grace period)',
    statements: (ks) => [
      // The deletions waiting for their grace period (account-deletion/account-deletion.repository.cassandra.ts): one
      // partition for the instance (a handful of rows, read whole by the administrators' view), written by LWT only.
      `CREATE TABLE IF NOT EXISTS ${ks}.${TABLES.accountDeletions} (
         scope        text,
         account_id   text,
         requested_at timestamp,
         due_at       timestamp,
         PRIMARY KEY ((scope), account_id)
       )`,
    ],
  },
];

/** The schema version this code expects. */
export const CASSANDRA_SCHEMA_VERSION = Math.max(...CASSANDRA_MIGRATIONS.map((m) => m.version));

// --- TTLs ------------------------------------------------------------------------------------------------

/** How long an expired session is still found (so the API can say "expired" rather than "unknown"). */
export const EXPIRED_SESSION_RETENTION_SECONDS = 7 * 24 * 3600;
/** A session created already expired still lives this long, so that a purge can find and count it. */
export const MIN_SESSION_TTL_SECONDS = 24 * 3600;
/** Cassandra's largest TTL (20 years). */
export const MAX_TTL_SECONDS = 630_720_000;
/**
 * Cassandra 4 (and 5 in its default compatibility mode) stores expiry times as 32-bit seconds and refuses a TTL
 * that ends after 2038-01-19T03:14:07Z; one day of margin.
 */
const LAST_EXPIRY_MS = Date.UTC(2038, 0, 18, 3, 14, 7);

/**
 * TTL of the rows of a session: until its expiry plus the retention, at least a day, at most what the server
 * accepts. 0 (no TTL) only when no accepted TTL is left; purgeExpired still removes those rows.
 */
export function sessionTtlSeconds(expiresAt: Date, now: Date): number {
  const wanted = Math.ceil((expiresAt.getTime() - now.getTime()) / 1000) + EXPIRED_SESSION_RETENTION_SECONDS;
  const cap = Math.min(MAX_TTL_SECONDS, Math.floor((LAST_EXPIRY_MS - now.getTime()) / 1000));
  if (cap < MIN_SESSION_TTL_SECONDS) return 0;
  return Math.min(cap, Math.max(MIN_SESSION_TTL_SECONDS, wanted));
}

/** The stored_pi user-defined type (Cassandra names its fields in snake_case). */
interface StoredPiUdt {
  score: number;
  level: string;
  model_version: string;
}

export const piToUdt = (pi: StoredPi | null): StoredPiUdt | null =>
  pi === null ? null : { score: pi.score, level: pi.level, model_version: pi.modelVersion };

export function piFromUdt(v: unknown): StoredPi | null {
  if (v === null || v === undefined) return null;
  const u = v as StoredPiUdt;
  return { score: u.score, level: u.level, modelVersion: u.model_version };
}
