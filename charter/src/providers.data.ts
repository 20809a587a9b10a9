import { join } from 'node:path';
import { isDomain, normalizeDomain } from '@caliopen/federation-protocol';
import { CharterError } from './errors.ts';
import { DATA_DIR, isRecord, readJsonFile } from './package.files.ts';

/**
 * The association's table of data-exploiting mail providers (`data/data-exploiting-providers.json`): providers whose
 * mail service is financed by their users' data (see the file's `criterion`), each with the mail domains and MX host
 * suffixes by which mail from them is recognised, and the published policy the classification rests on. The PI
 * engine scores mail from them near zero; charter clause C8 forbids handing users' mail to them. Loaded and
 * validated once, at import.
 */
export interface DataExploitingProvider {
  /** Stable identifier, e.g. `google`. */
  id: string;
  name: string;
  /** Mail domains and MX host suffixes, lowercase; subdomains match too. */
  domains: string[];
  /** URL or document the classification rests on. */
  source: string;
  /** Why the association classified it, in words, citing the source. */
  rationale: string;
}

export interface ProviderTable {
  version: string;
  providers: DataExploitingProvider[];
}

export const PROVIDERS_FILE = 'data-exploiting-providers.json';
const ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const DATA_VERSION = /^\d{4}\.\d{1,3}$/;
const KEYWORD = /^[a-z0-9][a-z0-9.-]{1,40}$/;
/** Domains longer than this are not worth looking up (and a hostile one would cost label splits). */
const MAX_DOMAIN = 253;

interface ParsedProviders {
  version: string;
  providers: readonly DataExploitingProvider[];
  byDomain: ReadonlyMap<string, DataExploitingProvider>;
  byKeyword: ReadonlyMap<string, DataExploitingProvider>;
}

function invalid(detail: string): CharterError {
  return new CharterError('charter_data_invalid', `${PROVIDERS_FILE}: ${detail}`);
}

function sentence(value: unknown, at: string, max = 1500): string {
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

function source(value: unknown, at: string): string {
  if (typeof value !== 'string' || value.length > 500) throw invalid(`${at} must be a URL or a document reference`);
  if (/^https?:/i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw invalid(`${at} is not a valid URL`);
    }
    if (url.protocol !== 'https:') throw invalid(`${at} must be an https URL`);
  } else if (value.trim().length < 10) {
    throw invalid(`${at} must be a URL or a document reference`);
  }
  return value;
}

function onlyKeys(obj: Record<string, unknown>, allowed: string[], at: string): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw invalid(`${at} has unknown field(s) ${extra.join(', ')}`);
}

/** Validates a provider table: unique ids, valid and unambiguous domains (never a bare TLD), a source for each. */
export function parseProviderTable(raw: unknown): ParsedProviders {
  if (!isRecord(raw)) throw invalid('not an object');
  onlyKeys(raw, ['version', 'updated', 'maintainer', 'criterion', 'matching', 'providers', 'considered'], 'the table');
  if (typeof raw.version !== 'string' || !DATA_VERSION.test(raw.version))
    throw invalid('version must look like 2026.1');
  if (typeof raw.updated !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(raw.updated))
    throw invalid('updated must be a YYYY-MM-DD date');
  sentence(raw.maintainer, 'maintainer');
  sentence(raw.criterion, 'criterion');
  sentence(raw.matching, 'matching');
  if (!Array.isArray(raw.providers) || raw.providers.length === 0) throw invalid('providers must be a non-empty list');

  const providers: DataExploitingProvider[] = [];
  const byDomain = new Map<string, DataExploitingProvider>();
  const byKeyword = new Map<string, DataExploitingProvider>();
  raw.providers.forEach((entry: unknown, i: number) => {
    const at = `providers[${i}]`;
    if (!isRecord(entry)) throw invalid(`${at} is not an object`);
    onlyKeys(entry, ['id', 'name', 'domains', 'keywords', 'source', 'rationale'], at);
    if (typeof entry.id !== 'string' || !ID.test(entry.id) || entry.id.length > 40)
      throw invalid(`${at}.id must be a lowercase slug`);
    if (providers.some((p) => p.id === entry.id)) throw invalid(`${at}.id ${entry.id} is used twice`);
    if (typeof entry.name !== 'string' || entry.name.trim().length === 0 || entry.name.length > 120)
      throw invalid(`${at}.name must be a name`);
    if (!Array.isArray(entry.domains) || entry.domains.length === 0)
      throw invalid(`${at}.domains must list at least one domain`);
    const domains = entry.domains.map((d: unknown, j: number) => {
      if (typeof d !== 'string' || d !== normalizeDomain(d) || !isDomain(d) || !d.includes('.')) {
        throw invalid(`${at}.domains[${j}] ${JSON.stringify(d)} must be a lowercase domain of at least two labels`);
      }
      return d;
    });
    const provider: DataExploitingProvider = {
      id: entry.id,
      name: entry.name,
      domains,
      source: source(entry.source, `${at}.source`),
      rationale: sentence(entry.rationale, `${at}.rationale`),
    };
    for (const d of domains) {
      const owner = byDomain.get(d);
      if (owner) throw invalid(`${at}.domains: ${d} is listed ${owner === provider ? 'twice' : `for ${owner.id} too`}`);
      byDomain.set(d, provider);
    }
    const keywords = entry.keywords === undefined ? [] : entry.keywords;
    if (!Array.isArray(keywords)) throw invalid(`${at}.keywords must be a list of lowercase brand words`);
    keywords.forEach((k: unknown, j: number) => {
      if (typeof k !== 'string' || !KEYWORD.test(k))
        throw invalid(`${at}.keywords[${j}] must be a lowercase brand word`);
      if (byKeyword.has(k)) throw invalid(`${at}.keywords: ${k} is used twice`);
      byKeyword.set(k, provider);
    });
    providers.push(provider);
  });
  // A listed domain under another listed domain of a different provider would make matching ambiguous.
  for (const [d, owner] of byDomain) {
    const labels = d.split('.');
    for (let i = 1; i < labels.length - 1; i++) {
      const parent = byDomain.get(labels.slice(i).join('.'));
      if (parent && parent !== owner)
        throw invalid(`${d} (${owner.id}) lies under ${labels.slice(i).join('.')} (${parent.id})`);
    }
  }
  if (raw.considered !== undefined) {
    if (!Array.isArray(raw.considered)) throw invalid('considered must be a list');
    raw.considered.forEach((entry: unknown, i: number) => {
      const at = `considered[${i}]`;
      if (!isRecord(entry)) throw invalid(`${at} is not an object`);
      onlyKeys(entry, ['name', 'decision', 'source', 'rationale'], at);
      if (typeof entry.name !== 'string' || entry.name.length === 0) throw invalid(`${at}.name must be a name`);
      if (entry.decision !== 'not listed') throw invalid(`${at}.decision must be "not listed"`);
      source(entry.source, `${at}.source`);
      sentence(entry.rationale, `${at}.rationale`);
    });
  }
  return {
    version: raw.version,
    providers: Object.freeze(providers.map((p) => Object.freeze(p))),
    byDomain,
    byKeyword,
  };
}

const TABLE = parseProviderTable(readJsonFile(join(DATA_DIR, PROVIDERS_FILE), invalid));

function copy(p: DataExploitingProvider): DataExploitingProvider {
  return { ...p, domains: [...p.domains] };
}

export function dataExploitingProviders(): ProviderTable {
  return { version: TABLE.version, providers: TABLE.providers.map(copy) };
}

/**
 * The provider a domain belongs to: a listed mail domain or MX suffix, or any subdomain of one
 * (`mail.gmail.com`, `alt1.gmail-smtp-in.l.google.com`). Case and a trailing dot are ignored; anything that is not
 * a domain name matches nothing. `notgmail.com` does not match `gmail.com`: matching is by whole labels.
 */
export function isDataExploitingDomain(domain: string): DataExploitingProvider | null {
  if (typeof domain !== 'string' || domain.length === 0 || domain.length > MAX_DOMAIN + 1) return null;
  const name = normalizeDomain(domain);
  if (!isDomain(name)) return null;
  const labels = name.split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const hit = TABLE.byDomain.get(labels.slice(i).join('.'));
    if (hit) return copy(hit);
  }
  return null;
}

/**
 * The data-exploiting provider a free-text service name refers to, if any: by a listed domain (or subdomain) among
 * its words, or by one of the provider's brand words (`Google`, `Outlook`, `GMX`). Used to read a declaration's
 * `spamHandling.thirdParty`.
 */
export function dataExploitingProviderNamed(text: string): DataExploitingProvider | null {
  if (typeof text !== 'string') return null;
  const words = text
    .toLowerCase()
    .slice(0, 1000)
    .split(/[^a-z0-9.-]+/)
    .filter(Boolean);
  for (const word of words) {
    const trimmed = word.replace(/^[.-]+|[.-]+$/g, '');
    const hit = TABLE.byKeyword.get(trimmed) ?? (trimmed.includes('.') ? isDataExploitingDomain(trimmed) : null);
    if (hit) return copy(hit);
  }
  return null;
}
