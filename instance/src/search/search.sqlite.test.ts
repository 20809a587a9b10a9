import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../../../tests/support/tmp.ts';
import { searchConformance } from './search.conformance.ts';
import type { SearchDocument } from './search.port.ts';
import { openSqliteSearchIndex } from './search.sqlite.ts';

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
    assert.deepEqual(r.hits.map((h) => h.messageId), ['m1']);
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

test('sqlite search: account scoping and filters are index-driven (no full scan)', async () => {
  const tmp = tempDir('caliopen-search-');
  try {
    const path = join(tmp.dir, 'search.db');
    const index = openSqliteSearchIndex(path);
    await index.init();
    await index.close();
    const db = new Database(path, { readonly: true });
    const plan = (sql: string, params: Record<string, unknown>): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail).join('\n');
    const listing = plan(
      'SELECT d.message_id FROM search_doc d WHERE d.account_no = @acct AND d.date_ms >= @after ORDER BY d.date_ms DESC, d.id DESC LIMIT 10',
      { acct: 1, after: 0 },
    );
    assert.match(listing, /USING (COVERING )?INDEX search_doc_by_date/);
    assert.doesNotMatch(listing, /TEMP B-TREE/);
    const tagged = plan(
      'SELECT d.message_id FROM search_doc d WHERE d.account_no = @acct AND d.id IN (SELECT doc_id FROM search_tag WHERE tag = @tag AND doc_id BETWEEN @lo AND @hi)',
      { acct: 1, tag: 'x', lo: 0, hi: 1 },
    );
    assert.doesNotMatch(tagged, /SCAN search_tag\b(?! USING)/);
    const text = plan(
      'SELECT d.message_id FROM search_fts CROSS JOIN search_doc d ON d.id = search_fts.rowid WHERE search_fts MATCH @m AND search_fts.rowid BETWEEN @lo AND @hi',
      { m: '"x"', lo: 0, hi: 1 },
    );
    assert.match(text, /VIRTUAL TABLE INDEX 0:M/);
    assert.match(text, /SEARCH d USING INTEGER PRIMARY KEY/);
    db.close();
  } finally {
    tmp.cleanup();
  }
});
