/**
 * The search box language as the app shows it (the instance defines it: instance/src/search/search.query-parser.ts):
 * `key:value` or `key:"quoted value"` filters (from to subject after before protocol tag, and pi>=N), the rest free
 * words and "quoted phrases". Read the same way here, to show each filter as a removable chip and to highlight the
 * free words in the results; the instance alone decides what a query means.
 */
export const FILTER_KEYS = ['from', 'to', 'subject', 'after', 'before', 'protocol', 'tag', 'pi'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

export type QueryToken =
  | { kind: 'word' | 'phrase'; raw: string; text: string; start: number; end: number }
  | { kind: 'filter'; raw: string; key: FilterKey; op: string; value: string; start: number; end: number };

const SPACE = /\s/u;
const FILTER_HEAD = /^([A-Za-z]+)(:|>=|>|=)$/;
const FILTER_WORD = /^([A-Za-z]+)(:|>=|>|=)(.*)$/s;
const isKey = (k: string): k is FilterKey => (FILTER_KEYS as readonly string[]).includes(k);

/** Splits a query into words, phrases and filters, with their place in the text. Never throws. */
export function tokenizeQuery(input: string): QueryToken[] {
  const out: QueryToken[] = [];
  const n = input.length;
  let i = 0;
  const readQuoted = (start: number) => {
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
      out.push({ kind: 'phrase', raw: input.slice(i, q.end), text: q.text, start: i, end: q.end });
      i = q.end;
      continue;
    }
    let j = i;
    while (j < n && input[j] !== '"' && !SPACE.test(input[j]!)) j++;
    const bare = input.slice(i, j);
    const head = FILTER_HEAD.exec(bare);
    const headKey = head?.[1]?.toLowerCase() ?? '';
    if (head && input[j] === '"' && isKey(headKey) && (head[2] === ':' || headKey === 'pi')) {
      const q = readQuoted(j);
      out.push({
        kind: 'filter',
        raw: input.slice(i, q.end),
        key: headKey,
        op: head[2]!,
        value: q.text,
        start: i,
        end: q.end,
      });
      i = q.end;
      continue;
    }
    const m = FILTER_WORD.exec(bare);
    const key = m?.[1]?.toLowerCase() ?? '';
    if (m && isKey(key) && (m[2] === ':' || key === 'pi')) {
      out.push({ kind: 'filter', raw: bare, key, op: m[2]!, value: m[3]!, start: i, end: j });
    } else {
      out.push({ kind: 'word', raw: bare, text: bare, start: i, end: j });
    }
    i = j;
  }
  return out;
}

export interface Chip {
  key: FilterKey;
  op: string;
  value: string;
  raw: string;
  start: number;
  end: number;
}

/** The filters of a query, as chips (a filter still being typed, without a value, is not one). */
export function queryChips(input: string): Chip[] {
  return tokenizeQuery(input)
    .filter((t): t is Extract<QueryToken, { kind: 'filter' }> => t.kind === 'filter' && t.value.trim() !== '')
    .map(({ key, op, value, raw, start, end }) => ({ key, op, value, raw, start, end }));
}

/** The query without one chip (its text removed, spaces tidied). */
export function removeChip(input: string, chip: Pick<Chip, 'start' | 'end'>): string {
  return `${input.slice(0, chip.start)} ${input.slice(chip.end)}`.replace(/\s+/gu, ' ').trim();
}

const HAS_TOKEN = /[\p{L}\p{N}]/u;

/** The free words and phrases of a query: what the results highlight. */
export function freeTerms(input: string): string[] {
  return tokenizeQuery(input)
    .map((t) => (t.kind === 'filter' ? '' : t.text.trim()))
    .filter((t) => HAS_TOKEN.test(t));
}
