import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../shared/errors.ts';
import type { SearchDocument, SearchHit, SearchQuery, SearchResult } from './search.port.ts';
import { freeTextTerms, hasSearchableToken, normalizeKeyword, searchPage } from './search.query-parser.ts';

/**
 * What the Lucene search servers share (search.elasticsearch.ts for Elasticsearch 8, search.opensearch.ts for
 * OpenSearch 2): index names, the mapping and analysis, the document ids, the indexed form of a message, and the
 * search request built from a SearchQuery. Both servers speak the same query DSL for everything used here, so one
 * builder serves both; only the clients (and the lifecycle: ILM on Elasticsearch, none on OpenSearch) differ.
 *
 * Analysis mirrors the SQLite FTS5 tokenizer (search.sqlite.ts): words are runs of letters and digits in any script,
 * lowercased, ASCII-folded (so "ecole" finds "école"), stemmed by Porter's English algorithm (as FTS5's `porter`
 * wrapper: "meetings" and "meet" find "meeting"; French words lose a few suffixes the same way on both sides). The
 * same conformance suite (search.conformance.ts) holds every engine to the same hits on the same corpus, and
 * compareHits() checks French and English probes hit for hit against FTS5. One known difference: asciifolding writes
 * the ligatures œ, æ and the ß as oe, ae, ss, which FTS5's unicode61 keeps, so "oeuvre" finds "œuvre" here only.
 */

export const PREFIX_RULE = 'use letters, digits, ".", "_" and "-", starting with a letter or digit.';

/** The prefix as it goes into names (lowercase, no trailing separator), or null when index names cannot hold it. */
export function namePrefix(raw: string): string | null {
  const p = raw.toLowerCase().replace(/[-_.]+$/, '');
  // Index names: lowercase, no leading `-`, `_` or `+`, none of `\/*?"<>| ,#:`.
  return /^[a-z0-9][a-z0-9._-]*$/.test(p) ? p : null;
}

const ANALYZER = 'caliopen_text';
const NORMALIZER = 'caliopen_keyword';
/** Field boosts for free text, as the SQLite bm25 weights: subject above addresses above body. */
const TEXT_FIELDS = ['subject^4', 'body', 'from^2', 'to^2'];
/** The servers' default index.max_result_window: from + size may not exceed it. */
export const MAX_RESULT_WINDOW = 10_000;

/** What the index stores per message; the text fields are indexed but left out of `_source`. */
export interface IndexedMessage {
  accountId: string;
  messageId: string;
  conversationId: string;
  date: string;
  protocol: string;
  pi: number;
  tags: string[];
  subject: string;
  body: string;
  from: string[];
  to: string[];
}

/** The fields a search reads back from `_source`. */
export type StoredFields = Pick<IndexedMessage, 'messageId' | 'conversationId' | 'date'>;

const keyword = { type: 'keyword' } as const;
const normalizedKeyword = { type: 'keyword', normalizer: NORMALIZER } as const;
const text = { type: 'text', analyzer: ANALYZER } as const;
const address = { ...text, fields: { raw: { type: 'keyword', normalizer: NORMALIZER, ignore_above: 512 } } } as const;

/**
 * The mapping: strict, routing required (every write and query carries routing = accountId), and the text kept out
 * of `_source` — the index is not a second readable copy of people's mail; it is rebuilt from the message store.
 */
export const MAPPINGS = {
  dynamic: 'strict',
  _routing: { required: true },
  _source: { excludes: ['subject', 'body', 'from', 'to'] },
  properties: {
    accountId: keyword,
    messageId: keyword,
    conversationId: keyword,
    date: { type: 'date', format: 'strict_date_optional_time||epoch_millis' },
    protocol: normalizedKeyword,
    pi: { type: 'integer' },
    tags: normalizedKeyword,
    subject: text,
    body: text,
    from: address,
    to: address,
  },
} as const;

/** The analysis settings (the pattern tokenizer, stemmer and asciifolding come from the common analysis module). */
export const ANALYSIS = {
  tokenizer: {
    // Letters and digits in any script make words; everything else separates them (like SQLite's unicode61).
    caliopen_words: { type: 'pattern', pattern: '[^\\p{L}\\p{N}]+' },
  },
  filter: {
    // Porter, as FTS5's `porter` tokenizer wrapper: the same algorithm gives the same stems, hence the same hits
    // (KStem, tried first, kept "meeting" and "confirmation" whole where FTS5 finds them by "meet" and "confirme").
    caliopen_porter: { type: 'stemmer', language: 'porter' },
  },
  analyzer: {
    [ANALYZER]: {
      type: 'custom',
      tokenizer: 'caliopen_words',
      filter: ['lowercase', 'asciifolding', 'caliopen_porter'],
    },
  },
  normalizer: {
    [NORMALIZER]: { type: 'custom', filter: ['lowercase'] },
  },
} as const;

/** The document id: unambiguous for any (accountId, messageId) pair, fixed length, within the 512-byte limit. */
export function documentId(accountId: string, messageId: string): string {
  return createHash('sha256')
    .update(JSON.stringify([accountId, messageId]))
    .digest('base64url');
}

export function toIndexed(d: SearchDocument): IndexedMessage {
  return {
    accountId: d.accountId,
    messageId: d.messageId,
    conversationId: d.conversationId,
    date: d.date.toISOString(),
    protocol: normalizeKeyword(d.protocol),
    pi: Math.round(d.pi),
    tags: [...new Set(d.tags.map(normalizeKeyword))],
    subject: d.subject.normalize('NFC'),
    body: d.body.normalize('NFC'),
    from: d.from.map((s) => s.normalize('NFC')),
    to: d.to.map((s) => s.normalize('NFC')),
  };
}

/** An error cause as both servers report it. */
export interface LuceneErrorCause {
  type: string;
  reason?: string | null;
}

/**
 * An error cause fit for logs: the servers quote a preview of the offending field's value in mapping errors, which
 * could be a piece of someone's mail, so that part is cut.
 */
export function describeCause(c: LuceneErrorCause | undefined): string {
  if (!c) return 'unknown error';
  const reason = (c.reason ?? '')
    .replace(/Preview of field's value:.*$/s, '')
    .slice(0, 200)
    .trim();
  return reason ? `${c.type}: ${reason}` : c.type;
}

/** The body of a search request (index and routing are added by the adapter). */
export interface LuceneSearchBody {
  query: Record<string, unknown>;
  sort: Array<string | Record<string, { order: 'asc' | 'desc' }>>;
  from: number;
  size: number;
  track_total_hits: true;
  _source: string[];
}

/**
 * The search request for a query within one account, or null when the query cannot match anything (a filter on
 * nothing searchable). Throws validation_failed beyond the result window. `freeText` tells whether hits are scored.
 */
export function buildSearchBody(
  accountId: string,
  query: SearchQuery,
): { body: LuceneSearchBody; freeText: boolean } | null {
  const { limit, offset } = searchPage(query);
  if (offset + limit > MAX_RESULT_WINDOW) {
    throw new AppError(
      'validation_failed',
      `Search results can be paged up to the ${MAX_RESULT_WINDOW}th; narrow the search.`,
    );
  }
  const terms = freeTextTerms(query.text);
  const filter: Record<string, unknown>[] = [{ term: { accountId } }];
  for (const [field, value] of [
    ['subject', query.subject],
    ['from', query.from],
    ['to', query.to],
  ] as const) {
    if (value === undefined) continue;
    const phrase = value.normalize('NFC');
    if (!hasSearchableToken(phrase)) return null; // a filter on nothing searchable matches nothing
    filter.push({ match_phrase: { [field]: { query: phrase } } });
  }
  if (query.after !== undefined || query.before !== undefined) {
    filter.push({
      range: {
        date: {
          ...(query.after !== undefined ? { gte: query.after.getTime() } : {}),
          ...(query.before !== undefined ? { lt: query.before.getTime() } : {}),
          format: 'epoch_millis',
        },
      },
    });
  }
  if (query.protocol !== undefined) filter.push({ term: { protocol: normalizeKeyword(query.protocol) } });
  if (query.minPi !== undefined) filter.push({ range: { pi: { gte: query.minPi } } });
  if (query.tag !== undefined) filter.push({ term: { tags: normalizeKeyword(query.tag) } });

  // Each free word or phrase must match as a phrase within one of the text fields (like an FTS5 phrase).
  const must = terms.map((t) => ({ multi_match: { query: t, type: 'phrase', fields: TEXT_FIELDS } }));
  const byDate: LuceneSearchBody['sort'] = [{ date: { order: 'desc' } }, { messageId: { order: 'desc' } }];
  return {
    freeText: terms.length > 0,
    body: {
      query: { bool: { filter, must } },
      sort: terms.length > 0 ? ['_score', ...byDate] : byDate,
      from: offset,
      size: limit,
      track_total_hits: true,
      _source: ['messageId', 'conversationId', 'date'],
    },
  };
}

/** The hits part of a search response, as both servers shape it. */
export interface LuceneHits {
  total?: number | { value: number } | null;
  hits: Array<{ _source?: StoredFields | null; _score?: number | string | null; sort?: unknown[] | null }>;
}

/** Turns a search response's hits into the port's result. */
export function searchResult(hits: LuceneHits, freeText: boolean): SearchResult {
  const total = typeof hits.total === 'number' ? hits.total : (hits.total?.value ?? 0);
  return {
    total,
    hits: hits.hits.map((h): SearchHit => {
      const s = h._source!;
      const score = !freeText ? 0 : typeof h._score === 'number' ? h._score : Number(h.sort?.[0] ?? h._score ?? 0);
      return { messageId: s.messageId, conversationId: s.conversationId, date: new Date(s.date), score };
    }),
  };
}

/** One bulk action line as both servers read it. */
export interface LuceneBulkOperation {
  index?: { _index: string; _id: string; routing: string; require_alias?: boolean };
  delete?: { _index: string; _id: string; routing: string };
}

/** One bulk action with its document (for index actions), kept together so that failed actions can be retried. */
export interface BulkAction {
  action: LuceneBulkOperation;
  source?: IndexedMessage;
}

/** One item of a bulk response, as both servers shape it. */
export interface LuceneBulkItem {
  _index: string;
  _id?: string | null;
  status: number;
  error?: LuceneErrorCause;
}

const BULK_RETRIES = 5;

/**
 * The bulk actions that upsert a batch through the write alias. A document written before a rollover sits in an
 * older index; writing it again through the alias would create a second copy in the new write index, so each upsert
 * also deletes the document by id from the alias's older indices, in the same request. `require_alias` keeps a
 * missing alias from auto-creating a concrete index of that name.
 */
export function upsertActions(alias: string, older: string[], docs: SearchDocument[]): BulkAction[] {
  const actions: BulkAction[] = [];
  for (const d of docs) {
    const _id = documentId(d.accountId, d.messageId);
    for (const index of older) actions.push({ action: { delete: { _index: index, _id, routing: d.accountId } } });
    actions.push({
      action: { index: { _index: alias, _id, routing: d.accountId, require_alias: true } },
      source: toIndexed(d),
    });
  }
  return actions;
}

/**
 * After an upsert: when a rollover happened during the request, the previous versions may sit in the index that was
 * the write index when it started; these deletes remove them.
 */
export function strayDeletes(
  actions: BulkAction[],
  results: LuceneBulkItem[],
  write: string | undefined,
): BulkAction[] {
  const strays: BulkAction[] = [];
  actions.forEach((a, n) => {
    const landed = results[n]?._index;
    if (a.action.index && write !== undefined && landed !== undefined && landed !== write) {
      strays.push({ action: { delete: { _index: write, _id: a.action.index._id, routing: a.action.index.routing } } });
    }
  });
  return strays;
}

/** The deletes of some messages of an account from every index of the alias. */
export function removeActions(indices: string[], accountId: string, messageIds: string[]): BulkAction[] {
  const actions: BulkAction[] = [];
  for (const messageId of messageIds) {
    const _id = documentId(accountId, messageId);
    for (const index of indices) actions.push({ action: { delete: { _index: index, _id, routing: accountId } } });
  }
  return actions;
}

/**
 * Sends bulk actions through `send` (the client's bulk call); retries the ones rejected for back-pressure (429) with
 * exponential backoff, and throws on any other failure. A delete that finds nothing (404) is not a failure. Resolves
 * each action's result, in order. `engine` names the server in error messages.
 */
export async function sendBulk(
  engine: string,
  actions: BulkAction[],
  send: (operations: Array<LuceneBulkOperation | IndexedMessage>) => Promise<Array<Record<string, LuceneBulkItem>>>,
): Promise<LuceneBulkItem[]> {
  const results: LuceneBulkItem[] = new Array(actions.length);
  let pending = actions.map((action, position) => ({ ...action, position }));
  for (let attempt = 0; pending.length > 0; attempt++) {
    const operations = pending.flatMap((a) => (a.source ? [a.action, a.source] : [a.action]));
    const items = await send(operations);
    const retry: typeof pending = [];
    const failures: string[] = [];
    items.forEach((item, n) => {
      const [kind, result] = Object.entries(item)[0] as [string, LuceneBulkItem];
      const sent = pending[n]!;
      results[sent.position] = result;
      if (!result.error) return;
      if (kind === 'delete' && result.status === 404) return;
      if (result.status === 429) retry.push(sent);
      else failures.push(`${kind} ${result._index}/${result._id ?? '?'}: ${describeCause(result.error)}`);
    });
    if (failures.length > 0) {
      throw new Error(
        `${engine} bulk request: ${failures.length} action(s) failed; first: ${failures.slice(0, 3).join('; ')}`,
      );
    }
    if (retry.length > 0 && attempt >= BULK_RETRIES) {
      throw new Error(
        `${engine} bulk request: ${retry.length} action(s) still rejected (429) after ${BULK_RETRIES} retries.`,
      );
    }
    pending = retry;
    if (pending.length > 0) await sleep(200 * 2 ** attempt);
  }
  return results;
}

/** The indices behind an alias (a get-alias answer): the write index, and the older ones (read-only but for deletes). */
export function splitAliasIndices(
  found: Record<string, { aliases: Record<string, { is_write_index?: boolean }> }>,
  alias: string,
): { write: string | undefined; older: string[] } {
  const names = Object.keys(found);
  const write =
    names.find((n) => found[n]!.aliases[alias]?.is_write_index === true) ?? (names.length === 1 ? names[0] : undefined);
  return { write, older: names.filter((n) => n !== write) };
}

/** What an adapter gives the shared index and remove loops: its alias's indices and one bulk request. */
export interface LuceneWriter {
  readonly alias: string;
  aliasIndices(): Promise<{ write: string | undefined; older: string[] }>;
  bulk(actions: BulkAction[]): Promise<LuceneBulkItem[]>;
}

/** Upserts `docs` in bulks of `size`, then deletes the copies older indices still hold (same for both servers). */
export async function indexDocuments(w: LuceneWriter, docs: SearchDocument[], size: number): Promise<void> {
  if (docs.length === 0) return;
  const { write, older } = await w.aliasIndices();
  for (let i = 0; i < docs.length; i += size) {
    const actions = upsertActions(w.alias, older, docs.slice(i, i + size));
    const strays = strayDeletes(actions, await w.bulk(actions), write);
    if (strays.length > 0) await w.bulk(strays);
  }
}

/** Deletes an account's messages from every index behind the alias, 1,000 actions a bulk. */
export async function removeDocuments(w: LuceneWriter, accountId: string, messageIds: string[]): Promise<void> {
  if (messageIds.length === 0) return;
  const { write, older } = await w.aliasIndices();
  const actions = removeActions(write === undefined ? older : [write, ...older], accountId, messageIds);
  for (let i = 0; i < actions.length; i += 1000) await w.bulk(actions.slice(i, i + 1000));
}
