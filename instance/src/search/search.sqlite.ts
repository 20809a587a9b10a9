import type Database from 'better-sqlite3';
import { migrateSqlite, openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { Migration, SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { WalCommits } from '@caliopen/platform/sqlite/sqlite.wal-sync.ts';
import type { SearchDocument, SearchHit, SearchIndex, SearchQuery, SearchResult } from './search.port.ts';
import { freeTextTerms, hasSearchableToken, normalizeKeyword, searchPage } from './search.query-parser.ts';

/**
 * The embedded search engine: SQLite FTS5, in its own database file (`<dataDir>/search.db`) so that the index can be
 * dropped and rebuilt from the message store without touching anything else.
 *
 * Design, for 100k+ messages per account on one hub:
 *
 * - Document ids carry the account. Every document's id is `(account_no << 32) | n`: the ids of one account form
 *   one contiguous range. That id is the rowid of both the structured table and the FTS5 table, so scoping a query
 *   to an account is a rowid range, which FTS5 and the b-trees seek to directly instead of walking the postings of
 *   every account: a word common to all accounts costs one account's share of its posting list, and account
 *   isolation holds by construction (no join can reach another account's range). 2^31 accounts of 2^32 documents.
 *
 * - Structured fields (dates, protocol, PI, tags) live in plain tables with indexes led by the account, so that
 *   listing newest first, date ranges, protocol, minimum PI and tag filters are index-driven, and full text is only
 *   consulted when the query has words or from/to/subject filters.
 *
 * - The FTS5 table is contentless with `contentless_delete=1` (SQLite >= 3.43). The text itself is not stored a
 *   second time (the message store has it, possibly encrypted: the search file holds only the inverted index),
 *   yet rows can still be deleted and replaced by rowid, which upsert and removal need. External-content tables would
 *   need a copy of the text to delete correctly; a regular FTS5 table would store it. We never need snippets or
 *   highlights from this engine, which are the only things a contentless table cannot give.
 *
 * - Tokenizer `porter unicode61 remove_diacritics 2`: unicode61 folds case and strips diacritics ("ecole" finds
 *   "école", including decomposed input), and the porter wrapper stems English ("meeting" finds "meetings",
 *   "invoice" finds "invoices"). French words are stemmed by the same English rules on both the indexing and query
 *   side, which strips a few common suffixes (plurals in -s mostly): it widens recall slightly and never loses a
 *   match of the exact word, which is what a mailbox search wants. Addresses are split at `@` and `.`, so
 *   `from:alice@example.com` is the phrase "alice example com" and `from:example` matches a domain.
 *
 * - User words never reach FTS5 syntax: each word or "phrase" becomes an FTS5 string literal (double quotes doubled),
 *   so `*`, `NEAR(`, `-`, `:`, `^`, parentheses and stray quotes are mere separators inside a phrase.
 *
 * - Ranking: bm25 with subject weighted above sender/recipients above body, then newest first. Without words the
 *   order is date descending from the (account_no, date_ms) index, with no sort step.
 */

const ACCOUNT_SHIFT = 32n;
const ACCOUNT_SPAN = 1n << ACCOUNT_SHIFT;
const MAX_ACCOUNT_NO = (1n << 31n) - 1n;
/** bm25 column weights, in FTS column order: subject, body, sender, recipients. */
const BM25 = 'bm25(search_fts, 4.0, 1.0, 2.0, 2.0)';

export const SEARCH_SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'fts5 index with account-ranged ids',
    sql: `
      CREATE TABLE search_account (
        account_no INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL UNIQUE
      );
      CREATE TABLE search_doc (
        id INTEGER PRIMARY KEY,
        account_no INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        date_ms INTEGER NOT NULL,
        protocol TEXT NOT NULL,
        pi INTEGER NOT NULL,
        UNIQUE (account_no, message_id)
      );
      CREATE INDEX search_doc_by_date ON search_doc (account_no, date_ms);
      CREATE INDEX search_doc_by_protocol ON search_doc (account_no, protocol, date_ms);
      CREATE INDEX search_doc_by_pi ON search_doc (account_no, pi, date_ms);
      CREATE TABLE search_tag (
        account_no INTEGER NOT NULL,
        tag TEXT NOT NULL,
        date_ms INTEGER NOT NULL,
        doc_id INTEGER NOT NULL REFERENCES search_doc (id) ON DELETE CASCADE,
        PRIMARY KEY (account_no, tag, date_ms, doc_id)
      ) WITHOUT ROWID;
      CREATE INDEX search_tag_by_doc ON search_tag (doc_id, tag);
      CREATE VIRTUAL TABLE search_fts USING fts5 (
        subject, body, sender, recipients,
        content = '', contentless_delete = 1,
        tokenize = 'porter unicode61 remove_diacritics 2'
      );
    `,
  },
];

/** An FTS5 string literal: whatever the user typed, FTS5 sees one phrase of the words in it. */
function ftsPhrase(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

/**
 * Text as indexed: NFC (so the engines agree on composed characters), several values one per line. (FTS5 has no
 * position gap between values, so a phrase may span two addresses: a harmless widening.)
 */
function ftsText(values: string | string[]): string {
  return (Array.isArray(values) ? values.join('\n') : values).normalize('NFC');
}

type Statement = Database.Statement<unknown[]>;

interface AccountRange {
  no: bigint;
  lo: bigint;
  hi: bigint;
}

function rangeOf(no: bigint): AccountRange {
  const lo = no << ACCOUNT_SHIFT;
  return { no, lo, hi: lo + ACCOUNT_SPAN - 1n };
}

interface HitRow {
  message_id: string;
  conversation_id: string;
  date_ms: number;
  relevance: number | null;
  /** Present when the page query also counts (planSearch's pageCounts). */
  total?: number;
}

/**
 * Chooses, from the filters present, the access path of a search and the SQL of its count and its page. Three
 * shapes, each led by an index so that nothing scans another account or sorts more than it must:
 * - words or from/to/subject: FTS5 drives (its postings, seeked to the account's rowid range), the structured
 *   filters are checked on each match by primary key; ordered by bm25 then date, or by date;
 * - a tag without words: the (account, tag, date) key drives, already in newest-first order;
 * - otherwise: the (account, date) index (or (account, protocol, date), (account, pi)) drives, newest first.
 * The count skips the join whenever the driving table alone can answer it. With full text, where matching is the
 * expensive part, the page query materialises the matches once and counts them too (`pageCounts`), instead of a
 * second match for the count. Exported for the query-plan test.
 */
export function planSearch(
  params: Record<string, unknown>,
  fullText: boolean,
  ranked: boolean,
): { count: string; page: string; pageCounts: boolean } {
  const has = (k: string): boolean => params[k] !== undefined;
  const columns = 'd.message_id, d.conversation_id, d.date_ms';
  const dates = (column: string): string[] => [
    ...(has('after') ? [`${column} >= @after`] : []),
    ...(has('before') ? [`${column} < @before`] : []),
  ];
  const protocolAndPi = [
    ...(has('protocol') ? ['d.protocol = @protocol'] : []),
    ...(has('minPi') ? ['d.pi >= @minPi'] : []),
  ];
  const and = (xs: string[]): string => xs.join(' AND ');
  const shape = (
    from: string,
    base: string[],
    filters: string[],
    countAlone: string,
    order: string,
    relevance = 'NULL',
  ) => ({
    // When only the driving table is filtered, count it alone (no join).
    count:
      filters.length > 0
        ? `SELECT count(*) AS n FROM ${from} WHERE ${and([...base, ...filters])}`
        : `SELECT count(*) AS n FROM ${countAlone} WHERE ${and(base)}`,
    page: `SELECT ${columns}, ${relevance} AS relevance FROM ${from} WHERE ${and([...base, ...filters])}
           ORDER BY ${order} LIMIT @limit OFFSET @offset`,
    pageCounts: false,
  });

  if (fullText) {
    // CROSS JOIN keeps FTS5 as the outer loop: it yields only this account's matching rowids.
    const from = 'search_fts CROSS JOIN search_doc d ON d.id = search_fts.rowid';
    const base = ['search_fts MATCH @match', 'search_fts.rowid BETWEEN @lo AND @hi'];
    const tag = has('tag') ? ['EXISTS (SELECT 1 FROM search_tag t WHERE t.doc_id = d.id AND t.tag = @tag)'] : [];
    const filters = [...dates('d.date_ms'), ...protocolAndPi, ...tag];
    const order = (table: string): string => `${ranked ? 'relevance, ' : ''}${table}date_ms DESC, ${table}id DESC`;
    const relevance = ranked ? BM25 : 'NULL';
    // Without structured filters FTS5 counts alone, cheaper than materialising the matches.
    if (filters.length === 0) return shape(from, base, filters, 'search_fts', order('d.'), relevance);
    const where = and([...base, ...filters]);
    return {
      count: `SELECT count(*) AS n FROM ${from} WHERE ${where}`,
      page: `WITH m AS MATERIALIZED (SELECT d.id, ${columns}, ${relevance} AS relevance FROM ${from} WHERE ${where})
             SELECT message_id, conversation_id, date_ms, relevance, (SELECT count(*) FROM m) AS total FROM m
             ORDER BY ${order('')} LIMIT @limit OFFSET @offset`,
      pageCounts: true,
    };
  }
  if (has('tag')) {
    return shape(
      'search_tag t CROSS JOIN search_doc d ON d.id = t.doc_id',
      ['t.account_no = @acct', 't.tag = @tag', ...dates('t.date_ms')],
      protocolAndPi,
      'search_tag t',
      't.date_ms DESC, t.doc_id DESC',
    );
  }
  return shape(
    'search_doc d',
    ['d.account_no = @acct', ...dates('d.date_ms'), ...protocolAndPi],
    [],
    'search_doc d',
    'd.date_ms DESC, d.id DESC',
  );
}

class SqliteSearchIndex implements SearchIndex {
  readonly engine = 'sqlite' as const;
  private readonly statements = new Map<string, Statement>();

  private readonly commits: WalCommits;

  constructor(
    private readonly db: SqliteDb,
    path: string,
  ) {
    this.commits = new WalCommits(db, path);
  }

  async init(): Promise<void> {
    migrateSqlite(this.db, SEARCH_SQLITE_MIGRATIONS, 'Search');
  }

  /** Statements are cached by SQL text: the search SQL varies only with which filters are present. */
  private stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private accountRange(accountId: string): AccountRange | undefined {
    const row = this.stmt('SELECT account_no FROM search_account WHERE account_id = ?')
      .safeIntegers(true)
      .get(accountId) as { account_no: bigint } | undefined;
    return row ? rangeOf(row.account_no) : undefined;
  }

  private ensureAccount(accountId: string): AccountRange {
    const existing = this.accountRange(accountId);
    if (existing) return existing;
    const { lastInsertRowid } = this.stmt('INSERT INTO search_account (account_id) VALUES (?)').run(accountId);
    const no = BigInt(lastInsertRowid);
    if (no > MAX_ACCOUNT_NO) throw new Error('Search index: account numbers are exhausted; rebuild the index.');
    return rangeOf(no);
  }

  /**
   * One IMMEDIATE transaction per call: the write lock is taken up front, so a second process writing the same file
   * waits (busy_timeout) instead of failing on a stale snapshot.
   */
  async index(docs: SearchDocument[]): Promise<void> {
    if (docs.length === 0) return;
    // The commit writes the log without waiting for the disk; the call resolves after the log's sync, off the event
    // loop (WalSync, ADR 0028): an index job completes only once its documents are durable.
    await this.commits.durably(() => this.writeDocs(docs));
  }

  private writeDocs(docs: SearchDocument[]): void {
    this.db
      .transaction(() => {
        const ranges = new Map<string, AccountRange>();
        const nextIds = new Map<string, bigint>();
        const findDoc = this.stmt('SELECT id FROM search_doc WHERE account_no = ? AND message_id = ?').safeIntegers(
          true,
        );
        const maxId = this.stmt('SELECT max(id) AS id FROM search_doc WHERE id BETWEEN ? AND ?').safeIntegers(true);
        const insertDoc = this.stmt(
          `INSERT INTO search_doc (id, account_no, message_id, conversation_id, date_ms, protocol, pi)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        );
        const updateDoc = this.stmt(
          'UPDATE search_doc SET conversation_id = ?, date_ms = ?, protocol = ?, pi = ? WHERE id = ?',
        );
        const deleteTags = this.stmt('DELETE FROM search_tag WHERE doc_id = ?');
        const insertTag = this.stmt(
          'INSERT OR IGNORE INTO search_tag (account_no, tag, date_ms, doc_id) VALUES (?, ?, ?, ?)',
        );
        const deleteFts = this.stmt('DELETE FROM search_fts WHERE rowid = ?');
        const insertFts = this.stmt(
          'INSERT INTO search_fts (rowid, subject, body, sender, recipients) VALUES (?, ?, ?, ?, ?)',
        );

        for (const doc of docs) {
          let range = ranges.get(doc.accountId);
          if (!range) {
            range = this.ensureAccount(doc.accountId);
            ranges.set(doc.accountId, range);
            const top = (maxId.get(range.lo, range.hi) as { id: bigint | null }).id;
            nextIds.set(doc.accountId, top === null ? range.lo : top + 1n);
          }
          const dateMs = doc.date.getTime();
          const protocol = normalizeKeyword(doc.protocol);
          const pi = Math.round(doc.pi);
          const existing = findDoc.get(range.no, doc.messageId) as { id: bigint } | undefined;
          let id: bigint;
          if (existing) {
            id = existing.id;
            updateDoc.run(doc.conversationId, dateMs, protocol, pi, id);
            deleteTags.run(id);
            deleteFts.run(id);
          } else {
            id = nextIds.get(doc.accountId)!;
            if (id > range.hi)
              throw new Error(`Search index: account ${doc.accountId} has exhausted its document ids.`);
            nextIds.set(doc.accountId, id + 1n);
            insertDoc.run(id, range.no, doc.messageId, doc.conversationId, dateMs, protocol, pi);
          }
          insertFts.run(id, ftsText(doc.subject), ftsText(doc.body), ftsText(doc.from), ftsText(doc.to));
          for (const tag of doc.tags) insertTag.run(range.no, normalizeKeyword(tag), dateMs, id);
        }
      })
      .immediate();
  }

  async remove(accountId: string, messageIds: string[]): Promise<void> {
    const range = this.accountRange(accountId);
    if (!range || messageIds.length === 0) return;
    this.db
      .transaction(() => {
        const findDoc = this.stmt('SELECT id FROM search_doc WHERE account_no = ? AND message_id = ?').safeIntegers(
          true,
        );
        const deleteFts = this.stmt('DELETE FROM search_fts WHERE rowid = ?');
        const deleteDoc = this.stmt('DELETE FROM search_doc WHERE id = ?'); // tags follow (ON DELETE CASCADE)
        for (const messageId of messageIds) {
          const row = findDoc.get(range.no, messageId) as { id: bigint } | undefined;
          if (!row) continue;
          deleteFts.run(row.id);
          deleteDoc.run(row.id);
        }
      })
      .immediate();
  }

  async removeAccount(accountId: string): Promise<void> {
    const range = this.accountRange(accountId);
    if (!range) return;
    // Deleted content is overwritten rather than left in free space, and the write-ahead log emptied at the end.
    this.db.pragma('secure_delete = ON');
    try {
      this.db
        .transaction(() => {
          this.stmt('DELETE FROM search_fts WHERE rowid BETWEEN ? AND ?').run(range.lo, range.hi);
          this.stmt('DELETE FROM search_tag WHERE account_no = ?').run(range.no);
          this.stmt('DELETE FROM search_doc WHERE account_no = ?').run(range.no);
          this.stmt('DELETE FROM search_account WHERE account_no = ?').run(range.no);
        })
        .immediate();
      // FTS5 deletes only mark the rows: their terms stay in the index's segments until a merge. Merging them all now
      // leaves no word of the deleted account in the file's tables (account deletion: nothing may remain).
      this.stmt("INSERT INTO search_fts (search_fts) VALUES ('optimize')").run();
    } finally {
      this.db.pragma('secure_delete = OFF');
    }
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async search(accountId: string, query: SearchQuery): Promise<SearchResult> {
    const { limit, offset } = searchPage(query);
    const terms = freeTextTerms(query.text);
    const empty: SearchResult = { total: 0, hits: [] };
    const range = this.accountRange(accountId);
    if (!range) return empty;

    // The FTS5 expression: free words as phrases (all must match), then column filters as phrases.
    const match: string[] = terms.map(ftsPhrase);
    for (const [column, value] of [
      ['subject', query.subject],
      ['sender', query.from],
      ['recipients', query.to],
    ] as const) {
      if (value === undefined) continue;
      const phrase = value.normalize('NFC');
      if (!hasSearchableToken(phrase)) return empty; // a filter on nothing searchable matches nothing
      match.push(`${column} : ${ftsPhrase(phrase)}`);
    }

    const params: Record<string, unknown> = { acct: range.no, lo: range.lo, hi: range.hi, match: match.join(' AND ') };
    if (query.after !== undefined) params.after = query.after.getTime();
    if (query.before !== undefined) params.before = query.before.getTime();
    if (query.protocol !== undefined) params.protocol = normalizeKeyword(query.protocol);
    if (query.minPi !== undefined) params.minPi = query.minPi;
    if (query.tag !== undefined) params.tag = normalizeKeyword(query.tag);
    const plan = planSearch(params, match.length > 0, terms.length > 0);
    const count = (): number => (this.stmt(plan.count).get(params) as { n: number }).n;

    let total: number;
    let rows: HitRow[] = [];
    if (plan.pageCounts) {
      // One pass over the matches gives the page and the total; an empty page says nothing of the total.
      if (limit > 0) rows = this.stmt(plan.page).all({ ...params, limit, offset }) as HitRow[];
      total = rows[0]?.total ?? (limit === 0 || offset > 0 ? count() : 0);
    } else {
      total = count();
      if (limit > 0 && offset < total) rows = this.stmt(plan.page).all({ ...params, limit, offset }) as HitRow[];
    }
    const hits: SearchHit[] = rows.map((r) => ({
      messageId: r.message_id,
      conversationId: r.conversation_id,
      date: new Date(r.date_ms),
      // bm25() is lower-is-better and negative; the port's score is higher-is-better.
      score: r.relevance === null ? 0 : -r.relevance,
    }));
    return { total, hits };
  }

  async refresh(): Promise<void> {
    // Committed writes are visible to the next query.
  }

  async close(): Promise<void> {
    this.statements.clear();
    if (this.db.open) this.db.close();
    await this.commits.close();
  }
}

/**
 * Opens the embedded search index in its own SQLite file (or ':memory:'). Call `init()` before use: it creates or
 * migrates the schema.
 */
export function openSqliteSearchIndex(path: string): SearchIndex {
  const db = openSqlite(path);
  // Posting lists of a 100k-message account are tens of MB: a 32 MiB page cache (grown only as used, default 2 MiB)
  // keeps the hot ones in process. Durability as with openSqlite's synchronous=FULL: a job that indexed a message and
  // was acknowledged must not lose it on a power cut; `index` gets it with a log sync off the event loop.
  db.pragma('cache_size = -32768');
  return new SqliteSearchIndex(db, path);
}
