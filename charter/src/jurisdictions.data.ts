import { join } from 'node:path';
import { CharterError } from './errors.ts';
import { DATA_DIR, isRecord, readJsonFile } from './package.files.ts';

/**
 * The association's jurisdiction table (`data/jurisdictions.json`): for every ISO 3166-1 alpha-2 country, a score
 * 0–100 of how well its law protects correspondence from the state and third parties, and the rationale. Countries
 * the association assessed carry their own score and a rationale citing the laws and rulings it rests on; territories
 * under another country's law carry that country's assessment; the others carry the table's default, which says they
 * were not assessed. Loaded and validated once, at import: a malformed table stops the process that loads it.
 */
export interface Jurisdiction {
  /** ISO 3166-1 alpha-2, uppercase. */
  code: string;
  name: string;
  /** 0–100: how well its law protects correspondence from the state and third parties. */
  score: number;
  rationale: string;
}

export interface JurisdictionTable {
  version: string;
  entries: Jurisdiction[];
}

export const JURISDICTIONS_FILE = 'jurisdictions.json';
const CODE = /^[A-Z]{2}$/;
const DATA_VERSION = /^\d{4}\.\d{1,3}$/;
const MAX_RATIONALE = 1200;

interface ParsedTable {
  version: string;
  entries: readonly Jurisdiction[];
  byCode: ReadonlyMap<string, Jurisdiction>;
  /** Codes the association assessed, directly or as a territory under an assessed country's law. */
  assessed: ReadonlySet<string>;
  fallback: { score: number; rationale: string };
}

function invalid(detail: string): CharterError {
  return new CharterError('charter_data_invalid', `${JURISDICTIONS_FILE}: ${detail}`);
}

function score(value: unknown, at: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 100)
    throw invalid(`${at} must be an integer from 0 to 100`);
  return value as number;
}

function text(value: unknown, at: string, max = MAX_RATIONALE): string {
  if (
    typeof value !== 'string' ||
    value.trim().length < 20 ||
    value.length > max ||
    /[\u0000-\u001f\u007f]/.test(value)
  ) {
    throw invalid(`${at} must be a sentence of 20 to ${max} printable characters`);
  }
  return value;
}

function onlyKeys(obj: Record<string, unknown>, allowed: string[], at: string): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw invalid(`${at} has unknown field(s) ${extra.join(', ')}`);
}

/** Validates a jurisdiction table document and resolves every country to its entry. */
export function parseJurisdictionTable(raw: unknown): ParsedTable {
  if (!isRecord(raw)) throw invalid('not an object');
  onlyKeys(
    raw,
    [
      'version',
      'updated',
      'maintainer',
      'question',
      'scale',
      'default',
      'assessed',
      'territories',
      'countries',
      'countriesSource',
    ],
    'the table',
  );
  if (typeof raw.version !== 'string' || !DATA_VERSION.test(raw.version))
    throw invalid('version must look like 2026.1');
  if (typeof raw.updated !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(raw.updated))
    throw invalid('updated must be a YYYY-MM-DD date');
  text(raw.maintainer, 'maintainer');
  text(raw.question, 'question');
  if (!Array.isArray(raw.scale) || raw.scale.length === 0) throw invalid('scale must list the score bands');
  raw.scale.forEach((band: unknown, i: number) => {
    if (!isRecord(band)) throw invalid(`scale[${i}] is not an object`);
    onlyKeys(band, ['min', 'meaning'], `scale[${i}]`);
    score(band.min, `scale[${i}].min`);
    text(band.meaning, `scale[${i}].meaning`);
  });

  if (!isRecord(raw.countries)) throw invalid('countries must map ISO 3166-1 alpha-2 codes to names');
  const names = new Map<string, string>();
  for (const [code, name] of Object.entries(raw.countries)) {
    if (!CODE.test(code)) throw invalid(`countries: ${JSON.stringify(code)} is not an ISO 3166-1 alpha-2 code`);
    if (typeof name !== 'string' || name.length === 0 || name.length > 80)
      throw invalid(`countries.${code} must be a name`);
    names.set(code, name);
  }
  if (names.size < 249) throw invalid(`countries lists ${names.size} codes; ISO 3166-1 assigns 249`);
  text(raw.countriesSource, 'countriesSource');

  if (!isRecord(raw.default)) throw invalid('default must be { score, rationale }');
  onlyKeys(raw.default, ['score', 'rationale'], 'default');
  const fallback = {
    score: score(raw.default.score, 'default.score'),
    rationale: text(raw.default.rationale, 'default.rationale'),
  };

  const byCode = new Map<string, Jurisdiction>();
  const assessed = new Set<string>();
  const assessedList: unknown[] = Array.isArray(raw.assessed) ? raw.assessed : [];
  if (assessedList.length === 0) throw invalid('assessed must list the assessed countries');
  assessedList.forEach((entry: unknown, i: number) => {
    const at = `assessed[${i}]`;
    if (!isRecord(entry)) throw invalid(`${at} is not an object`);
    onlyKeys(entry, ['code', 'score', 'rationale'], at);
    const code = entry.code;
    if (typeof code !== 'string' || !names.has(code))
      throw invalid(`${at}.code ${JSON.stringify(code)} is not in countries`);
    if (byCode.has(code)) throw invalid(`${at}: ${code} is assessed twice`);
    byCode.set(code, {
      code,
      name: names.get(code)!,
      score: score(entry.score, `${at}.score`),
      rationale: text(entry.rationale, `${at}.rationale`),
    });
    assessed.add(code);
  });

  if (!Array.isArray(raw.territories)) throw invalid('territories must be a list (possibly empty)');
  raw.territories.forEach((entry: unknown, i: number) => {
    const at = `territories[${i}]`;
    if (!isRecord(entry)) throw invalid(`${at} is not an object`);
    onlyKeys(entry, ['code', 'lawOf', 'note'], at);
    const { code, lawOf } = entry;
    if (typeof code !== 'string' || !names.has(code))
      throw invalid(`${at}.code ${JSON.stringify(code)} is not in countries`);
    if (byCode.has(code)) throw invalid(`${at}: ${code} has an entry already`);
    const parent = typeof lawOf === 'string' && assessed.has(lawOf) ? byCode.get(lawOf)! : null;
    if (!parent || !assessedList.some((a) => isRecord(a) && a.code === lawOf)) {
      throw invalid(`${at}.lawOf must name a country of the assessed list`);
    }
    const note = text(entry.note, `${at}.note`, 200);
    assessed.add(code);
    byCode.set(code, {
      code,
      name: names.get(code)!,
      score: parent.score,
      rationale: `${note}: the law of ${parent.name} (${parent.code}) applies. ${parent.rationale}`,
    });
  });

  for (const [code, name] of names) {
    if (!byCode.has(code)) byCode.set(code, { code, name, score: fallback.score, rationale: fallback.rationale });
  }
  const entries = [...byCode.values()].sort((a, b) => (a.code < b.code ? -1 : 1)).map((e) => Object.freeze(e));
  return {
    version: raw.version,
    entries: Object.freeze(entries),
    byCode: new Map(entries.map((e) => [e.code, e])),
    assessed,
    fallback,
  };
}

const TABLE = parseJurisdictionTable(readJsonFile(join(DATA_DIR, JURISDICTIONS_FILE), invalid));

/** Every ISO 3166-1 alpha-2 code of the table, sorted: what a declaration's `jurisdiction` may be. */
export const JURISDICTION_CODES: readonly string[] = Object.freeze(TABLE.entries.map((e) => e.code));

/** The whole table: every country, assessed or defaulted, sorted by code. */
export function jurisdictions(): JurisdictionTable {
  return { version: TABLE.version, entries: TABLE.entries.map((e) => ({ ...e })) };
}

/** The entry for an ISO 3166-1 alpha-2 code (exact, uppercase), or null. */
export function jurisdiction(code: string): Jurisdiction | null {
  if (typeof code !== 'string') return null;
  const entry = TABLE.byCode.get(code);
  return entry ? { ...entry } : null;
}

/** Whether the association assessed this country (itself, or as a territory under an assessed country's law). */
export function isAssessedJurisdiction(code: string): boolean {
  return TABLE.assessed.has(code);
}

/** The score and rationale given to countries the association has not assessed. */
export function jurisdictionDefault(): { score: number; rationale: string } {
  return { ...TABLE.fallback };
}
