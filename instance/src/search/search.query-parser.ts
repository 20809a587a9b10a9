import { AppError } from '../shared/errors.ts';
import type { SearchQuery } from './search.port.ts';

/**
 * The search box language, and the one place that defines how query text is understood, so that every search
 * adapter reads `SearchQuery.text` the same way.
 *
 *   from:alice to:bob subject:"hello world" after:2024-01-01 before:2024-02-01 protocol:email pi>=50 tag:work
 *   free words "a phrase"
 *
 * - Filters are `key:value` or `key:"quoted value"`; keys are case-insensitive. `pi` takes `pi>=N`, `pi>N`, `pi:N`
 *   or `pi=N` (all lower bounds: the port only has a minimum PI).
 * - Dates are `YYYY-MM-DD` (midnight UTC) or an ISO 8601 date-time with a zone. `after:` is inclusive and
 *   `before:` exclusive, so `after:2024-01-01 before:2024-02-01` is exactly January.
 * - Anything else is free text: bare words and "quoted phrases". An unknown `key:` (`http://x`, `10:30`, `is:unread`)
 *   is an ordinary word. A filter key with an empty value (`from:` while the user is still typing) is ignored.
 * - Bad input that a user can fix (an impossible date, a PI outside 0..100, the same filter twice, a control
 *   character such as NUL) throws a
 *   `SearchQueryError` naming the token; nothing else is ever thrown, whatever the input.
 */

/** A search query the user can fix; carries the offending token. Maps to the `search_query_invalid` API error. */
export class SearchQueryError extends AppError {
  readonly token: string;

  constructor(token: string, reason: string) {
    super('search_query_invalid', `Invalid search term ${JSON.stringify(token)}: ${reason}`, { token, reason });
    this.name = 'SearchQueryError';
    this.token = token;
  }
}

/** More free words or phrases than this is an abuse of the search box (each one costs a posting-list walk). */
export const SEARCH_MAX_TERMS = 64;
export const SEARCH_DEFAULT_LIMIT = 50;
export const SEARCH_MAX_LIMIT = 1000;

type FilterKey = 'from' | 'to' | 'subject' | 'after' | 'before' | 'protocol' | 'tag' | 'pi';
const FILTER_KEYS: ReadonlySet<string> = new Set<FilterKey>([
  'from',
  'to',
  'subject',
  'after',
  'before',
  'protocol',
  'tag',
  'pi',
]);

/** A lexical unit of the query string: a bare run of non-space characters, or a quoted phrase. */
type Lexeme =
  | { kind: 'word'; raw: string; text: string }
  | { kind: 'phrase'; raw: string; text: string }
  | { kind: 'filter'; raw: string; key: FilterKey; op: string; value: string };

const SPACE = /\s/u;
/** C0 controls other than tab, line feed and carriage return (which count as spaces), and DEL. */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/u;
/** `key:` / `pi>=` forms that may be followed directly by a quoted value. */
const FILTER_HEAD = /^([A-Za-z]+)(:|>=|>|=)$/;
const FILTER_WORD = /^([A-Za-z]+)(:|>=|>|=)(.*)$/s;
const PI_UPPER_BOUND = /^pi(<=|<|!=)/i;

/**
 * Splits the input into words, phrases and filters. Never throws: an unterminated quote runs to the end of the
 * input, a quote inside a bare word ends the word and opens a phrase.
 */
function lex(input: string): Lexeme[] {
  const out: Lexeme[] = [];
  const n = input.length;
  let i = 0;
  const readQuoted = (start: number): { text: string; end: number } => {
    const close = input.indexOf('"', start + 1);
    return close < 0
      ? { text: input.slice(start + 1), end: n }
      : { text: input.slice(start + 1, close), end: close + 1 };
  };
  while (i < n) {
    if (SPACE.test(input[i]!)) {
      i++;
      continue;
    }
    if (input[i] === '"') {
      const q = readQuoted(i);
      out.push({ kind: 'phrase', raw: input.slice(i, q.end), text: q.text });
      i = q.end;
      continue;
    }
    let j = i;
    while (j < n && input[j] !== '"' && !SPACE.test(input[j]!)) j++;
    const bare = input.slice(i, j);
    const head = FILTER_HEAD.exec(bare);
    if (head && input[j] === '"' && FILTER_KEYS.has(head[1]!.toLowerCase())) {
      const q = readQuoted(j);
      out.push({
        kind: 'filter',
        raw: input.slice(i, q.end),
        key: head[1]!.toLowerCase() as FilterKey,
        op: head[2]!,
        value: q.text,
      });
      i = q.end;
      continue;
    }
    const m = FILTER_WORD.exec(bare);
    if (m && FILTER_KEYS.has(m[1]!.toLowerCase()) && (m[2] === ':' || m[1]!.toLowerCase() === 'pi')) {
      out.push({ kind: 'filter', raw: bare, key: m[1]!.toLowerCase() as FilterKey, op: m[2]!, value: m[3]! });
    } else {
      out.push({ kind: 'word', raw: bare, text: bare });
    }
    i = j;
  }
  return out;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

function utcDay(y: number, m: number, d: number): Date {
  const t = new Date(Date.UTC(2000, m - 1, d));
  t.setUTCFullYear(y); // Date.UTC maps years 0..99 to 1900..1999
  return t;
}

function isRealDay(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  const t = utcDay(y, m, d);
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

function parseDate(value: string, token: string): Date {
  const day = DAY.exec(value);
  if (day) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])];
    if (!isRealDay(y, m, d)) throw new SearchQueryError(token, `${value} is not a calendar date.`);
    return utcDay(y, m, d);
  }
  const dt = DATE_TIME.exec(value);
  if (dt) {
    const [y, m, d, hh, mm, ss, zh, zm] = dt.slice(1).map((s) => (s === undefined ? 0 : Number(s)));
    const t = new Date(value);
    if (
      !isRealDay(y!, m!, d!) ||
      hh! > 23 ||
      mm! > 59 ||
      ss! > 59 ||
      zh! > 23 ||
      zm! > 59 ||
      Number.isNaN(t.getTime())
    ) {
      throw new SearchQueryError(token, `${value} is not a valid date-time.`);
    }
    return t;
  }
  throw new SearchQueryError(
    token,
    'expected a date as YYYY-MM-DD, or an ISO 8601 date-time with a zone (2024-01-31T18:00Z).',
  );
}

function parsePi(op: string, value: string, token: string): number {
  if (!/^\d{1,3}$/.test(value)) throw new SearchQueryError(token, 'the PI is a whole number from 0 to 100 (pi>=50).');
  const n = Number(value);
  const min = op === '>' ? n + 1 : n;
  if (n > 100 || min > 100) throw new SearchQueryError(token, 'the PI is a whole number from 0 to 100 (pi>=50).');
  return min;
}

/** Writes a free-text item back: bare words stay bare (they hold no quote or space), phrases get their quotes. */
function freeItem(l: { kind: 'word' | 'phrase'; text: string }): string {
  return l.kind === 'phrase' ? `"${l.text}"` : l.text;
}

/** Parses a search-box string into a SearchQuery (paging is not part of the language). */
export function parseSearchQuery(input: string): SearchQuery {
  const control = CONTROL.exec(input);
  if (control) {
    const at = control.index;
    const token = input.slice(Math.max(0, at - 10), at + 11);
    throw new SearchQueryError(
      token,
      'it contains a control character (such as NUL or ESC), which no mail text holds.',
    );
  }
  const query: SearchQuery = {};
  const seen = new Map<FilterKey, string>();
  const free: string[] = [];
  for (const l of lex(input)) {
    if (l.kind !== 'filter') {
      if (PI_UPPER_BOUND.test(l.raw)) {
        throw new SearchQueryError(l.raw, 'only a lower bound on the PI can be searched (pi>=50).');
      }
      if (l.kind === 'phrase' && l.text.trim() === '') continue;
      free.push(freeItem(l));
      continue;
    }
    const value = l.value.trim();
    if (value === '') continue;
    const earlier = seen.get(l.key);
    if (earlier !== undefined) {
      throw new SearchQueryError(
        l.raw,
        `${l.key} is already given (${JSON.stringify(earlier)}); a filter can appear only once.`,
      );
    }
    seen.set(l.key, l.raw);
    switch (l.key) {
      case 'from':
      case 'to':
      case 'subject':
      case 'protocol':
      case 'tag':
        query[l.key] = value;
        break;
      case 'after':
      case 'before':
        query[l.key] = parseDate(value, l.raw);
        break;
      case 'pi':
        query.minPi = parsePi(l.op, value, l.raw);
        break;
    }
  }
  if (query.after && query.before && query.after.getTime() >= query.before.getTime()) {
    throw new SearchQueryError(
      seen.get('before')!,
      `the date range is empty: it must end after ${seen.get('after')!}.`,
    );
  }
  if (free.length > SEARCH_MAX_TERMS) {
    throw new SearchQueryError(free[SEARCH_MAX_TERMS]!, `a search takes at most ${SEARCH_MAX_TERMS} words or phrases.`);
  }
  if (free.length > 0) query.text = free.join(' ');
  return query;
}

/** Writes a SearchQuery back in the search-box language (what a UI shows after normalising a query). */
export function formatSearchQuery(q: SearchQuery): string {
  const parts: string[] = [];
  const value = (v: string): string => (/[\s"]/u.test(v) || v === '' ? `"${v.replaceAll('"', '')}"` : v);
  if (q.from !== undefined) parts.push(`from:${value(q.from)}`);
  if (q.to !== undefined) parts.push(`to:${value(q.to)}`);
  if (q.subject !== undefined) parts.push(`subject:${value(q.subject)}`);
  if (q.after !== undefined) parts.push(`after:${q.after.toISOString()}`);
  if (q.before !== undefined) parts.push(`before:${q.before.toISOString()}`);
  if (q.protocol !== undefined) parts.push(`protocol:${value(q.protocol)}`);
  if (q.minPi !== undefined) parts.push(`pi>=${q.minPi}`);
  if (q.tag !== undefined) parts.push(`tag:${value(q.tag)}`);
  if (q.text !== undefined && q.text !== '') parts.push(q.text);
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------------------------
// Shared by the adapters: how `SearchQuery.text` and the keyword filters are read, whatever the engine.
// ---------------------------------------------------------------------------------------------------------------

const TOKEN_CHAR = /[\p{L}\p{N}]/u;

/** true when `s` holds at least one letter or digit, i.e. something a full-text engine indexes. */
export function hasSearchableToken(s: string): boolean {
  return TOKEN_CHAR.test(s);
}

/**
 * The terms of `SearchQuery.text`, each to be matched as a phrase (a single word is a one-word phrase): bare words
 * and "quoted phrases", NFC-normalised. Items without a letter or digit (`-`, `*`, `(`) are dropped: they are noise
 * to a full-text engine, and an empty phrase would match nothing. The engines receive these as literal phrases, so
 * nothing here can become engine syntax. Throws SearchQueryError past SEARCH_MAX_TERMS.
 */
export function freeTextTerms(text: string | undefined): string[] {
  if (text === undefined) return [];
  const terms: string[] = [];
  for (const l of lex(text)) {
    const t = (l.kind === 'filter' ? l.raw : l.text).normalize('NFC').trim();
    if (hasSearchableToken(t)) terms.push(t);
  }
  if (terms.length > SEARCH_MAX_TERMS) {
    throw new SearchQueryError(
      terms[SEARCH_MAX_TERMS]!,
      `a search takes at most ${SEARCH_MAX_TERMS} words or phrases.`,
    );
  }
  return terms;
}

/** Tags and protocols are keywords compared without case (and in NFC), on both the indexing and the query side. */
export function normalizeKeyword(s: string): string {
  return s.normalize('NFC').trim().toLowerCase();
}

/** limit in 0..SEARCH_MAX_LIMIT (0 asks for the total only), offset >= 0; anything else falls back to the default. */
export function searchPage(q: SearchQuery): { limit: number; offset: number } {
  const limit =
    Number.isInteger(q.limit) && q.limit! >= 0 ? Math.min(q.limit!, SEARCH_MAX_LIMIT) : SEARCH_DEFAULT_LIMIT;
  const offset = Number.isInteger(q.offset) && q.offset! >= 0 ? q.offset! : 0;
  return { limit, offset };
}
