/**
 * Checks of the pure helpers every Caliopen Cassandra key layout relies on; no server needed (the adapters are
 * exercised by tests/conformance/*.cassandra.test.ts on a real Cassandra node in every npm test).
 */
import assert from 'node:assert/strict';
import { types } from 'cassandra-driver';
import fc from 'fast-check';
import { describe, test } from 'vitest';
import {
  assertKeyspaceName,
  bootstrapStatements,
  CLAIM_GRACE_MS,
  claimAbandoned,
  collectNewestFirst,
  createKeyspaceCql,
  dayBucket,
  defaultReplication,
  MIGRATION_TABLES,
  monthBucket,
  monthsToVisit,
  newerThan,
  replicationCql,
  type TimeKey,
  toNumber,
} from './cassandra.schema.ts';

describe('migration ledger', () => {
  test('the ledger and its lock are created idempotently in the given keyspace', () => {
    const statements = bootstrapStatements('caliopen_unit');
    assert.equal(statements.length, 2);
    assert.match(
      statements[0]!,
      new RegExp(`^CREATE TABLE IF NOT EXISTS caliopen_unit\\.${MIGRATION_TABLES.schemaMigrations} \\(`),
    );
    assert.match(
      statements[1]!,
      new RegExp(`^CREATE TABLE IF NOT EXISTS caliopen_unit\\.${MIGRATION_TABLES.schemaLock} \\(`),
    );
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
});
