/**
 * Checks of the instance's Cassandra schema and of its own helpers (the generic ones are checked in
 * platform/src/cassandra/cassandra.schema.test.ts); no server needed (the adapter itself is exercised by tests/conformance/storage.cassandra.test.ts on a real Cassandra node in every npm test).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'vitest';
import { bootstrapStatements } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import {
  CASSANDRA_MIGRATIONS,
  CASSANDRA_SCHEMA_VERSION,
  EXPIRED_SESSION_RETENTION_SECONDS,
  MIN_SESSION_TTL_SECONDS,
  piFromUdt,
  piToUdt,
  sessionTtlSeconds,
  TABLES,
} from './cassandra.schema.ts';

const KS = 'caliopen_unit';
const allStatements = [...bootstrapStatements(KS), ...CASSANDRA_MIGRATIONS.flatMap((m) => m.statements(KS))];

interface TableDef {
  name: string;
  partitionKey: string[];
  cql: string;
}

const splitColumns = (s: string) =>
  s
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');

/** Name and partition key of every CREATE TABLE, read from the CQL text. */
function tables(): TableDef[] {
  const out: TableDef[] = [];
  for (const cql of allStatements) {
    const head = /^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+) \(/.exec(cql);
    if (!head) continue;
    assert.equal(head[1], KS, 'tables are created in the configured keyspace');
    const composite = /PRIMARY KEY \(\(([^)]*)\)/.exec(cql);
    const simple = /PRIMARY KEY \(([^()]*)\)/.exec(cql);
    const inline = /(\w+)\s+\w+\s+PRIMARY KEY\s*[,)]/.exec(cql);
    const partitionKey = composite
      ? splitColumns(composite[1]!)
      : simple
        ? [splitColumns(simple[1]!)[0]!]
        : inline
          ? [inline[1]!]
          : [];
    assert.ok(partitionKey.length > 0, `no primary key found in ${head[2]}`);
    out.push({ name: head[2]!, partitionKey, cql });
  }
  return out;
}

/**
 * Tables that are not one user's data, and why. Every other table must be partitioned by account_id, so that no
 * per-user query crosses owners and no partition holds several users' data.
 */
const INSTANCE_LEVEL: Record<string, string> = {
  [TABLES.schemaMigrations]: 'schema ledger',
  [TABLES.schemaLock]: 'migration lock',
  [TABLES.accountsByUsername]: 'a username is looked up before any account is known (login)',
  [TABLES.accountDirectory]: "the instance's list of accounts (admin)",
  [TABLES.sessionsByTokenHash]: 'a bearer token is looked up before its account is known',
  [TABLES.sessionsByExpiry]: 'instance maintenance: purge by expiry day',
  [TABLES.sessionExpiryDays]: 'instance maintenance: the days to purge',
  [TABLES.federationReplay]: 'a federation envelope is claimed before its recipient is known (replay, SPEC §9)',
  [TABLES.federationPrekeys]: "this instance's prekeys (SPEC §7), no user's",
  [TABLES.noticeStandingChanges]: "changes of this instance's standing, told to every user",
  [TABLES.accountDeletions]: 'the deletions waiting for their grace period, listed whole for the administrators',
};

/** The adapter sources: the schema and every *.cassandra.ts file of the instance. */
function adapterSources(): { file: string; text: string }[] {
  const src = fileURLToPath(new URL('..', import.meta.url));
  const files: string[] = [];
  for (const dir of readdirSync(src, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const f of readdirSync(join(src, dir.name))) {
      if (f.endsWith('.cassandra.ts') || f === 'cassandra.schema.ts') files.push(join(src, dir.name, f));
    }
  }
  return files.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
}

describe('Cassandra schema', () => {
  test('versions are strictly increasing from 1 and the schema version is the last one', () => {
    const versions = CASSANDRA_MIGRATIONS.map((m) => m.version);
    assert.equal(versions[0], 1);
    for (let i = 1; i < versions.length; i++)
      assert.ok(versions[i]! > versions[i - 1]!, `version ${versions[i]} after ${versions[i - 1]}`);
    assert.equal(CASSANDRA_SCHEMA_VERSION, versions.at(-1));
    for (const m of CASSANDRA_MIGRATIONS) assert.ok(m.name.length > 0 && m.statements(KS).length > 0);
  });

  test('no ALLOW FILTERING in the schema nor in any Cassandra adapter', () => {
    for (const cql of allStatements) assert.doesNotMatch(cql, /allow\s+filtering/i);
    const sources = adapterSources();
    assert.ok(sources.length >= 8, `found the adapter sources (${sources.map((s) => s.file).join(', ')})`);
    for (const { file, text } of sources) {
      // This test file names the phrase; the adapter files must not.
      assert.doesNotMatch(text, /allow\s+filtering/i, file);
    }
  });

  test('repositories only run statements through the context, which prepares every one', () => {
    for (const { file, text } of adapterSources()) {
      if (!file.endsWith('.repository.cassandra.ts')) continue;
      assert.doesNotMatch(text, /\.client\b/, `${file} reaches for the driver directly`);
      assert.doesNotMatch(text, /from 'cassandra-driver'/, `${file} imports the driver`);
    }
    const storage = adapterSources().find((s) => s.file.endsWith('storage.cassandra.ts'))!.text;
    assert.doesNotMatch(storage, /client\.(execute|batch)\(/, 'the store runs statements through the context only');
    // The context and the migrator (the platform's) run every statement: every execute/batch but the DDL one
    // (schema statements cannot be bound) carries prepare: true.
    const platform = ['cassandra.context.ts', 'cassandra.migrator.ts']
      .map((f) => readFileSync(new URL(`../../../platform/src/cassandra/${f}`, import.meta.url), 'utf8'))
      .join('\n');
    const executes = platform.match(/client\.(execute|batch)\(/g) ?? [];
    const prepared = platform.match(/prepare: true,/g) ?? [];
    assert.ok(executes.length >= 7, 'found the statements of the context');
    assert.equal(prepared.length, executes.length - 1);
  });

  test('every statement is idempotent DDL in the configured keyspace', () => {
    for (const cql of allStatements) {
      assert.match(cql, /^CREATE (TABLE|TYPE) IF NOT EXISTS caliopen_unit\./, cql.slice(0, 80));
    }
  });

  test('per-user tables are partitioned by account_id; the others are listed with a reason', () => {
    const defs = tables();
    const created = new Set(defs.map((t) => t.name));
    assert.deepEqual(
      [...created].sort(),
      Object.values(TABLES).sort(),
      'every table in TABLES is created, and only those',
    );
    for (const t of defs) {
      if (INSTANCE_LEVEL[t.name]) continue;
      assert.ok(
        t.partitionKey.includes('account_id'),
        `${t.name} partition key (${t.partitionKey.join(', ')}) lacks account_id`,
      );
    }
    const key = (name: string) => defs.find((t) => t.name === name)!.partitionKey;
    // The unbounded streams are bounded by their partition keys: one message, one conversation-month, one month.
    assert.deepEqual(key(TABLES.messagesById), ['account_id', 'message_id']);
    assert.deepEqual(key(TABLES.messagesByConversation), ['account_id', 'conversation_id', 'month']);
    assert.deepEqual(key(TABLES.conversationsByActivity), ['account_id', 'month']);
    assert.deepEqual(key(TABLES.messagesByDedupe), ['account_id', 'external_id', 'content_hash']);
    assert.deepEqual(key(TABLES.contactByIdentity), ['account_id', 'protocol', 'address']);
    assert.deepEqual(key(TABLES.conversationByKey), ['account_id', 'conversation_key']);
  });

  test('listings are clustered newest first; collections are frozen', () => {
    const cql = (name: string) => tables().find((t) => t.name === name)!.cql;
    assert.match(cql(TABLES.messagesByConversation), /CLUSTERING ORDER BY \(received_at DESC, message_id DESC\)/);
    assert.match(
      cql(TABLES.conversationsByActivity),
      /CLUSTERING ORDER BY \(last_message_at DESC, conversation_id DESC\)/,
    );
    for (const s of allStatements) {
      const unfrozen = s.replaceAll(/frozen<(list|set|map)</g, '').match(/\b(list|set|map)</g);
      assert.equal(unfrozen, null, `non-frozen collection in: ${s.slice(0, 80)}`);
    }
  });
});

describe('sessions TTL', () => {
  const now = new Date('2026-11-22T00:00:00.000Z');

  test('a live session lives until its expiry plus the retention', () => {
    const expiresAt = new Date(now.getTime() + 30 * 24 * 3600 * 1000);
    assert.equal(sessionTtlSeconds(expiresAt, now), 30 * 24 * 3600 + EXPIRED_SESSION_RETENTION_SECONDS);
    assert.equal(
      sessionTtlSeconds(new Date(now.getTime() + 1500), now),
      2 + EXPIRED_SESSION_RETENTION_SECONDS,
      'rounded up',
    );
  });

  test('an already expired session still lives a day, so that a purge finds it', () => {
    assert.equal(sessionTtlSeconds(new Date('2026-01-02T00:00:00.000Z'), now), MIN_SESSION_TTL_SECONDS);
  });

  test('TTLs stay within what Cassandra accepts (expiry before 2038-01-19)', () => {
    const ttl = sessionTtlSeconds(new Date('2100-01-01T00:00:00.000Z'), now);
    assert.ok(ttl > 0);
    assert.ok(now.getTime() + ttl * 1000 < Date.UTC(2038, 0, 19, 3, 14, 7));
    assert.equal(
      sessionTtlSeconds(new Date('2040-01-01T00:00:00.000Z'), new Date('2038-01-18T00:00:00.000Z')),
      0,
      'no TTL left: none',
    );
  });
});

describe('column codecs', () => {
  test('the stored_pi type round-trips', () => {
    const pi = { score: 72.5, level: 'high', modelVersion: 'pi-1' };
    assert.deepEqual(piToUdt(pi), { score: 72.5, level: 'high', model_version: 'pi-1' });
    assert.deepEqual(piFromUdt(piToUdt(pi)), pi);
    assert.equal(piToUdt(null), null);
    assert.equal(piFromUdt(null), null);
  });
});
