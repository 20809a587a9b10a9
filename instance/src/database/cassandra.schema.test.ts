/**
 * Checks of the Cassandra schema and of the pure helpers its key layout relies on; no server needed (the adapter
 * itself is exercised by tests/conformance/storage.cassandra.test.ts when CASSANDRA_CONTACT_POINTS is set).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'vitest';
import { types } from 'cassandra-driver';
import fc from 'fast-check';
import {
  assertKeyspaceName,
  bootstrapStatements,
  CASSANDRA_MIGRATIONS,
  CASSANDRA_SCHEMA_VERSION,
  CLAIM_GRACE_MS,
  claimAbandoned,
  collectNewestFirst,
  createKeyspaceCql,
  dayBucket,
  defaultReplication,
  EXPIRED_SESSION_RETENTION_SECONDS,
  MIN_SESSION_TTL_SECONDS,
  monthBucket,
  monthsToVisit,
  newerThan,
  piFromUdt,
  piToUdt,
  replicationCql,
  sessionTtlSeconds,
  TABLES,
  type TimeKey,
  toNumber,
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
    const executes = storage.match(/client\.(execute|batch)\(/g) ?? [];
    const prepared = storage.match(/prepare: true,/g) ?? [];
    // Every execute/batch but the DDL one (schema statements cannot be bound) carries prepare: true.
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

describe('keyspace', () => {
  test('names are plain lowercase identifiers (they are interpolated into CQL)', () => {
    assert.equal(assertKeyspaceName('caliopen_prod'), 'caliopen_prod');
    for (const bad of ['', 'Caliopen', '1abc', 'a-b', 'a;DROP KEYSPACE x', 'a'.repeat(49), 'ks.table']) {
      assert.throws(() => assertKeyspaceName(bad), /Invalid Cassandra keyspace name/, bad);
    }
  });

  test('replication is rendered and validated', () => {
    assert.equal(
      replicationCql({ class: 'SimpleStrategy', replicationFactor: 1 }),
      "{'class': 'SimpleStrategy', 'replication_factor': 1}",
    );
    assert.equal(
      replicationCql({ class: 'NetworkTopologyStrategy', dataCenters: { dc1: 3, "o'dc": 2 } }),
      "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'o''dc': 2}",
    );
    assert.throws(() => replicationCql({ class: 'SimpleStrategy', replicationFactor: 0 }), /replication factor/);
    assert.throws(
      () => replicationCql({ class: 'NetworkTopologyStrategy', dataCenters: { dc1: 1.5 } }),
      /replication factor/,
    );
    assert.throws(
      () => replicationCql({ class: 'NetworkTopologyStrategy', dataCenters: {} }),
      /at least one data center/,
    );
    assert.equal(
      createKeyspaceCql('caliopen', { class: 'SimpleStrategy', replicationFactor: 3 }),
      "CREATE KEYSPACE IF NOT EXISTS caliopen WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3} AND durable_writes = true",
    );
    assert.throws(() => createKeyspaceCql('Bad-Name', { class: 'SimpleStrategy', replicationFactor: 1 }));
  });

  test('default replication: three replicas in the local data center, fewer on a smaller cluster', () => {
    assert.deepEqual(defaultReplication('dc1', 1), { class: 'NetworkTopologyStrategy', dataCenters: { dc1: 1 } });
    assert.deepEqual(defaultReplication('dc1', 2), { class: 'NetworkTopologyStrategy', dataCenters: { dc1: 2 } });
    assert.deepEqual(defaultReplication('dc1', 12), { class: 'NetworkTopologyStrategy', dataCenters: { dc1: 3 } });
    assert.deepEqual(defaultReplication('dc1', 0), { class: 'NetworkTopologyStrategy', dataCenters: { dc1: 1 } });
  });
});

describe('time buckets', () => {
  test('month and day buckets are UTC', () => {
    assert.equal(monthBucket(new Date('2025-11-30T23:59:59.999Z')), 202511);
    assert.equal(monthBucket(new Date('2025-12-01T00:00:00.000Z')), 202512);
    assert.equal(
      monthBucket(new Date('2026-01-01T00:30:00+01:00')),
      202512,
      'local midnight in Paris is still December in UTC',
    );
    assert.equal(dayBucket(new Date('2026-01-02T00:00:00.000Z')), 20260102);
    assert.equal(dayBucket(new Date('2026-12-31T23:59:59.999Z')), 20261231);
  });

  test('bucket order is time order', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1990-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }),
        fc.date({ min: new Date('1990-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }),
        (a, b) => {
          if (a <= b) {
            assert.ok(monthBucket(a) <= monthBucket(b));
            assert.ok(dayBucket(a) <= dayBucket(b));
          }
        },
      ),
    );
  });

  test('the walk visits known months at or before the cursor, newest first, once each', () => {
    const months = [202601, 202511, 202603, 202601, 202512];
    assert.deepEqual(monthsToVisit(months), [202603, 202601, 202512, 202511]);
    assert.deepEqual(
      monthsToVisit(months, { at: new Date('2026-01-15T00:00:00.000Z'), id: 'x' }),
      [202601, 202512, 202511],
    );
    assert.deepEqual(monthsToVisit(months, { at: new Date('2025-01-15T00:00:00.000Z'), id: 'x' }), []);
    assert.deepEqual(monthsToVisit([]), []);
  });

  test('newerThan is (at desc, id desc)', () => {
    const t = new Date('2026-01-15T00:00:00.000Z');
    assert.equal(newerThan({ at: t, id: 'b' }, { at: t, id: 'a' }), true);
    assert.equal(newerThan({ at: t, id: 'a' }, { at: t, id: 'b' }), false);
    assert.equal(newerThan({ at: t, id: 'a' }, { at: t, id: 'a' }), false);
    assert.equal(newerThan({ at: new Date(t.getTime() + 1), id: 'a' }, { at: t, id: 'z' }), true);
  });
});

describe('collectNewestFirst (keyset paging over month buckets)', () => {
  interface Stored extends TimeKey {
    stale: boolean;
  }

  /** An in-memory stand-in for an index table: one "partition" per month, rows in (at desc, id desc) order. */
  function fakeIndex(rows: Stored[]) {
    const calls: { month: number; limit: number; returned: number }[] = [];
    const sorted = [...rows].sort((a, b) => (newerThan(a, b) ? -1 : 1));
    return {
      calls,
      fetch: async (month: number, before: TimeKey | undefined, limit: number): Promise<TimeKey[]> => {
        const page = sorted
          .filter((r) => monthBucket(r.at) === month && (before === undefined || newerThan(before, r)))
          .slice(0, limit)
          .map((r) => ({ at: r.at, id: r.id }));
        calls.push({ month, limit, returned: page.length });
        return page;
      },
      hydrate: async (keys: TimeKey[]) =>
        keys.map((k) => {
          const r = rows.find((x) => x.id === k.id)!;
          return r.stale ? null : { at: r.at, id: r.id };
        }),
    };
  }

  /** Pages like an API client does: until a page is shorter than the limit, resuming after the last item. */
  async function pageThrough(rows: Stored[], months: number[], limit: number) {
    const index = fakeIndex(rows);
    const seen: TimeKey[] = [];
    let before: TimeKey | undefined;
    for (let guard = 0; guard < 1000; guard++) {
      const page = await collectNewestFirst({ months, before, limit, fetch: index.fetch, hydrate: index.hydrate });
      assert.ok(page.length <= limit);
      seen.push(...page);
      if (page.length < limit) return { seen, calls: index.calls };
      before = page.at(-1);
    }
    throw new Error('paging did not end');
  }

  test('the conformance case: five messages over four months, pages of two', async () => {
    const rows: Stored[] = [
      { at: new Date('2025-11-30T23:59:59.999Z'), id: 'a1', stale: false },
      { at: new Date('2026-01-15T00:00:00.000Z'), id: 'b2', stale: false },
      { at: new Date('2025-12-01T00:00:00.000Z'), id: 'c3', stale: false },
      { at: new Date('2026-03-01T12:00:00.000Z'), id: 'd4', stale: false },
      { at: new Date('2026-01-15T00:00:00.000Z'), id: 'e5', stale: false },
    ];
    const { seen } = await pageThrough(
      rows,
      rows.map((r) => monthBucket(r.at)),
      2,
    );
    assert.deepEqual(
      seen.map((k) => k.id),
      ['d4', 'e5', 'b2', 'c3', 'a1'],
    );
  });

  test('stale keys are skipped and the page is still filled from older rows and months', async () => {
    const rows: Stored[] = [
      { at: new Date('2026-02-03T00:00:00.000Z'), id: 'x', stale: true },
      { at: new Date('2026-02-02T00:00:00.000Z'), id: 'y', stale: true },
      { at: new Date('2026-02-01T00:00:00.000Z'), id: 'z', stale: false },
      { at: new Date('2026-01-20T00:00:00.000Z'), id: 'w', stale: false },
    ];
    const index = fakeIndex(rows);
    const page = await collectNewestFirst({
      months: [202602, 202601, 202512],
      limit: 2,
      fetch: index.fetch,
      hydrate: index.hydrate,
    });
    assert.deepEqual(
      page.map((k) => k.id),
      ['z', 'w'],
    );
    assert.ok(
      index.calls.every((c) => c.limit <= 2),
      'no query reads more than the page size',
    );
    assert.ok(!index.calls.some((c) => c.month === 202512), 'stops as soon as the page is full');
  });

  test('limit 0 reads nothing', async () => {
    const index = fakeIndex([{ at: new Date(), id: 'a', stale: false }]);
    assert.deepEqual(
      await collectNewestFirst({
        months: [monthBucket(new Date())],
        limit: 0,
        fetch: index.fetch,
        hydrate: index.hydrate,
      }),
      [],
    );
    assert.equal(index.calls.length, 0);
  });

  test('property: paging returns every live item once, in (at desc, id desc) order, with bounded reads', async () => {
    const base = Date.UTC(2025, 9, 1);
    const day = 24 * 3600 * 1000;
    const row = fc.record({
      // Few distinct instants over ~6 months, so that ties on time (broken by id) and month edges are common.
      at: fc.integer({ min: 0, max: 40 }).map((n) => new Date(base + n * 4.5 * day - (n % 3 === 0 ? 1 : 0))),
      stale: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-f0-9]{1,6}$/), row), { selector: ([id]) => id, maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.integer({ min: 202401, max: 202612 }), { maxLength: 4 }),
        async (entries, limit, extraMonths) => {
          const rows: Stored[] = entries.map(([id, r]) => ({ id, ...r }));
          const months = [...rows.map((r) => monthBucket(r.at)), ...extraMonths];
          const { seen, calls } = await pageThrough(rows, months, limit);
          const expected = rows
            .filter((r) => !r.stale)
            .sort((a, b) => (newerThan(a, b) ? -1 : 1))
            .map((r) => r.id);
          assert.deepEqual(
            seen.map((k) => k.id),
            expected,
          );
          assert.ok(calls.every((c) => c.limit <= limit && c.returned <= c.limit));
        },
      ),
      { numRuns: 300 },
    );
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

describe('claims and column codecs', () => {
  test('a claim is abandoned only after the grace period', () => {
    const claimedAt = new Date('2026-01-01T00:00:00.000Z');
    assert.equal(claimAbandoned(claimedAt, new Date(claimedAt.getTime() + CLAIM_GRACE_MS - 1)), false);
    assert.equal(claimAbandoned(claimedAt, new Date(claimedAt.getTime() + CLAIM_GRACE_MS)), true);
    assert.equal(claimAbandoned(null, claimedAt), true);
  });

  test('64-bit columns decode to numbers', () => {
    assert.equal(toNumber(types.Long.fromNumber(5_000_000_000)), 5_000_000_000);
    assert.equal(toNumber(BigInt(42)), 42);
    assert.equal(toNumber(7), 7);
    assert.equal(toNumber(null), 0);
    assert.equal(toNumber(undefined, 3), 3);
    assert.throws(() => toNumber('12'), TypeError);
  });

  test('the stored_pi type round-trips', () => {
    const pi = { score: 72.5, level: 'high', modelVersion: 'pi-1' };
    assert.deepEqual(piToUdt(pi), { score: 72.5, level: 'high', model_version: 'pi-1' });
    assert.deepEqual(piFromUdt(piToUdt(pi)), pi);
    assert.equal(piToUdt(null), null);
    assert.equal(piFromUdt(null), null);
  });
});
