import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CharterError } from './errors.ts';
import { CHARTER_DIR, isRecord, readJsonFile } from './package.files.ts';

/**
 * The published versions of the charter. Each version's text is `charter/v<version>.md`; `charter/published.json`
 * lists the published versions, oldest first, with when each was published and the SHA-256 of its text as it was
 * published (written by `charter.publish.ts`, never by hand). The hash a caller gets is always computed here from the
 * text; the recorded one only guards against a published text being edited afterwards: loading refuses a text that
 * no longer matches it.
 */
export interface CharterVersion {
  /** `MAJOR.MINOR`, e.g. `1.0`. */
  version: string;
  /** The charter text, Markdown, exactly as published. */
  text: string;
  /** SHA-256 of the UTF-8 bytes of `text`, lowercase hex. */
  contentHash: string;
  /** ISO 8601 UTC timestamp. */
  publishedAt: string;
}

export const PUBLISHED_INDEX_FILE = 'published.json';
export const VERSION_PATTERN = /^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The file that holds a version's text, relative to the charter directory. */
export function charterFileName(version: string): string {
  return `v${version}.md`;
}

/** SHA-256 of the UTF-8 bytes of a text, lowercase hex. */
export function contentHashOf(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Orders `MAJOR.MINOR` versions numerically (1.10 after 1.9). */
export function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

export interface PublishedEntry {
  version: string;
  publishedAt: string;
  contentHash: string;
}

const invalidIndex = (detail: string) => new CharterError('charter_index_invalid', detail);

/** Validates the published-versions index document. */
export function parsePublishedIndex(raw: unknown, where = PUBLISHED_INDEX_FILE): PublishedEntry[] {
  if (!isRecord(raw) || !Array.isArray(raw.versions)) {
    throw invalidIndex(`${where}: expected { "versions": [...] }`);
  }
  const unknownKeys = Object.keys(raw).filter((k) => k !== 'versions');
  if (unknownKeys.length > 0) throw invalidIndex(`${where}: unknown field(s) ${unknownKeys.join(', ')}`);
  const entries: PublishedEntry[] = [];
  raw.versions.forEach((entry: unknown, i: number) => {
    const at = `${where}: versions[${i}]`;
    if (!isRecord(entry)) throw invalidIndex(`${at} is not an object`);
    const extra = Object.keys(entry).filter((k) => !['version', 'publishedAt', 'contentHash'].includes(k));
    if (extra.length > 0) throw invalidIndex(`${at} has unknown field(s) ${extra.join(', ')}`);
    const { version, publishedAt, contentHash } = entry;
    if (typeof version !== 'string' || !VERSION_PATTERN.test(version))
      throw invalidIndex(`${at}.version must be MAJOR.MINOR`);
    if (typeof publishedAt !== 'string' || !ISO_INSTANT.test(publishedAt) || Number.isNaN(Date.parse(publishedAt))) {
      throw invalidIndex(`${at}.publishedAt must be an ISO 8601 UTC instant`);
    }
    if (typeof contentHash !== 'string' || !SHA256_HEX.test(contentHash)) {
      throw invalidIndex(`${at}.contentHash must be a lowercase SHA-256 hex digest`);
    }
    const previous = entries.at(-1);
    if (previous && compareVersions(previous.version, version) >= 0) {
      throw invalidIndex(
        `${at}: version ${version} does not come after ${previous.version} (oldest first, no duplicates)`,
      );
    }
    if (previous && Date.parse(previous.publishedAt) > Date.parse(publishedAt)) {
      throw invalidIndex(`${at}: published before the version it follows`);
    }
    entries.push({ version, publishedAt, contentHash });
  });
  if (entries.length === 0) throw invalidIndex(`${where}: no published version`);
  return entries;
}

/** Reads a charter text strictly: valid UTF-8, LF line endings, no byte-order mark. */
export function readCharterText(dir: string, version: string): string {
  const path = join(dir, charterFileName(version));
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CharterError(
      'charter_text_changed',
      `charter ${version}: cannot read ${path}: ${(err as Error).message}`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new CharterError('charter_text_changed', `charter ${version}: ${path} is not valid UTF-8`);
  }
  if (text.startsWith('\uFEFF'))
    throw new CharterError('charter_text_changed', `charter ${version}: ${path} starts with a byte-order mark`);
  if (text.includes('\r')) {
    throw new CharterError(
      'charter_text_changed',
      `charter ${version}: ${path} has CR line endings; restore the LF original (git: the file is marked -text)`,
    );
  }
  return text;
}

/** Loads every published version from a charter directory and checks each text against its recorded hash. */
export function loadCharterVersions(dir: string = CHARTER_DIR): CharterVersion[] {
  const index = parsePublishedIndex(readJsonFile(join(dir, PUBLISHED_INDEX_FILE), invalidIndex));
  return index.map(({ version, publishedAt, contentHash: recorded }) => {
    const text = readCharterText(dir, version);
    const contentHash = contentHashOf(text);
    if (contentHash !== recorded) {
      throw new CharterError(
        'charter_text_changed',
        `charter ${version}: ${charterFileName(version)} hashes to ${contentHash}, but ${recorded} was published. ` +
          'A published version never changes: restore its text and publish the change as a new version.',
      );
    }
    return Object.freeze({ version, text, contentHash, publishedAt });
  });
}
