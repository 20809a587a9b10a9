import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'vitest';
import Database from 'better-sqlite3';
import { tempDir } from '../../../tests/support/tmp.ts';
import { searchConformance } from './search.conformance.ts';
import type { SearchDocument } from './search.port.ts';
import { openSqliteSearchIndex, planSearch } from './search.sqlite.ts';

searchConformance('sqlite (in memory)', async () => {
  const index = openSqliteSearchIndex(':memory:');
  return { index, cleanup: () => index.close() };
});

searchConformance('sqlite (file)', async () => {
  const tmp = tempDir('caliopen-search-');
  const index = openSqliteSearchIndex(join(tmp.dir, 'search.db'));
  return {
    index,
    cleanup: async () => {
      await index.close();
      tmp.cleanup();
    },
  };
});

const sample = (accountId: string, messageId: string, body: string): SearchDocument => ({
  accountId,
  messageId,
  conversationId: `c-${messageId}`,
  date: new Date('2024-03-03T03:03:03Z'),
  protocol: 'email',
  from: ['a@example.com'],
  to: ['b@example.com'],
  subject: 'hello',
  body,
  tags: ['t'],
  pi: 42,
});

test('sqlite search: the index survives a close and a reopen', async () => {
  const tmp = tempDir('caliopen-search-');
  try {
    const path = join(tmp.dir, 'search.db');
    const first = openSqliteSearchIndex(path);
    await first.init();
    await first.index([sample('acct-1', 'm1', 'persistent pangolin')]);
    await first.close();
    const second = openSqliteSearchIndex(path);
    await second.init();
    const r = await second.search('acct-1', { text: 'pangolin' });
    assert.deepEqual(
      r.hits.map((h) => h.messageId),
      ['m1'],
    );
    await second.close();
  } finally {
    tmp.cleanup();
  }
});

test('sqlite search: the text itself is not stored in the search file (contentless FTS5)', async () => {
  const tmp = tempDir('caliopen-search-');
  try {
    const path = join(tmp.dir, 'search.db');
    const index = openSqliteSearchIndex(path);
    await index.init();
    await index.index([sample('acct-1', 'm1', 'the secret phrase is correcthorsebatterystaple')]);
    await index.close();
    const db = new Database(path, { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    assert.ok(!tables.some((t) => t.name === 'search_fts_content'), 'no FTS5 content table');
    db.close();
  } finally {
    tmp.cleanup();
  }
});

test("sqlite search: removeAccount leaves no term of the account in the index's segments; others still found", async () => {
  const tmp = tempDir('caliopen-search-');
  try {
    const path = join(tmp.dir, 'search.db');
    const index = openSqliteSearchIndex(path);
    await index.init();
    await index.index([sample('acct-gone', 'm1', 'quagga wombat'), sample('acct-kept', 'm2', 'narwhal')]);
    await index.index([sample('acct-gone', 'm3', 'okapi')]);
    await index.removeAccount('acct-gone');
    assert.equal((await index.search('acct-gone', { text: 'quagga' })).total, 0);
    assert.deepEqual(
      (await index.search('acct-kept', { text: 'narwhal' })).hits.map((h) => h.messageId),
      ['m2'],
    );
    await index.close();
    const db = new Database(path, { readonly: true });
    try {
      const blocks = db.prepare('SELECT block FROM search_fts_data').all() as { block: Buffer | null }[];
      const all = Buffer.concat(blocks.map((b) => b.block ?? Buffer.alloc(0))).toString('latin1');
      for (const term of ['quagga', 'wombat', 'okapi']) assert.ok(!all.includes(term), `${term} is still indexed`);
      assert.ok(all.includes('narwhal'));
    } finally {
      db.close();
    }
  } finally {
    tmp.cleanup();
  }
});

test('sqlite search: every query shape is index-driven (no scan, no sort where the index gives the order)', async () => {
  const tmp = tempDir('caliopen-search-');
  try {
    const path = join(tmp.dir, 'search.db');
    const index = openSqliteSearchIndex(path);
    await index.init();
    await index.close();
    const db = new Database(path, { readonly: true });
    const base = { acct: 1n, lo: 1n << 32n, hi: (2n << 32n) - 1n, match: '"x"', limit: 10, offset: 0 };
    const explain = (sql: string, params: Record<string, unknown>): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail).join('\n');
    const check = (
      label: string,
      filters: Record<string, unknown>,
      fullText: boolean,
      ranked: boolean,
      expect: RegExp[],
      sorts: boolean,
    ): void => {
      const params = { ...base, ...filters };
      const plan = planSearch(params, fullText, ranked);
      for (const [kind, sql] of [
        ['count', plan.count],
        ['page', plan.page],
      ] as const) {
        const detail = explain(sql, { ...params });
        assert.doesNotMatch(
          detail,
          /^SCAN (d|search_doc|search_tag|t)\b/m,
          `${label} ${kind} scans a table:\n${detail}`,
        );
        if (kind !== 'page') continue; // counts may pick any covering index; they only must not scan
        for (const e of expect) assert.match(detail, e, `${label}:\n${detail}`);
        if (!sorts) assert.doesNotMatch(detail, /TEMP B-TREE/, `${label} sorts:\n${detail}`);
      }
    };
    check('listing', {}, false, false, [/INDEX search_doc_by_date \(account_no=\?\)/], false);
    check(
      'date range',
      { after: 0, before: 1 },
      false,
      false,
      [/INDEX search_doc_by_date \(account_no=\? AND date_ms>\? AND date_ms<\?\)/],
      false,
    );
    check(
      'protocol',
      { protocol: 'sms' },
      false,
      false,
      [/INDEX search_doc_by_protocol \(account_no=\? AND protocol=\?\)/],
      false,
    );
    check('minimum PI', { minPi: 50 }, false, false, [/search_doc/], true);
    check(
      'tag',
      { tag: 'work', after: 0 },
      false,
      false,
      [/SEARCH t USING PRIMARY KEY \(account_no=\? AND tag=\? AND date_ms>\?\)/],
      false,
    );
    check('words', {}, true, true, [/SCAN search_fts VIRTUAL TABLE INDEX 0:M/], true);
    check(
      'words and filters',
      { tag: 'work', minPi: 10, protocol: 'email' },
      true,
      true,
      [/VIRTUAL TABLE INDEX 0:M/, /SEARCH d USING INTEGER PRIMARY KEY/, /search_tag_by_doc/],
      true,
    );
    db.close();
  } finally {
    tmp.cleanup();
  }
});
