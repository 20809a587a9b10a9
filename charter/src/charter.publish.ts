import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CharterError } from './errors.ts';
import {
  PUBLISHED_INDEX_FILE,
  VERSION_PATTERN,
  charterFileName,
  compareVersions,
  contentHashOf,
  parsePublishedIndex,
  readCharterText,
} from './charter.versions.ts';
import type { PublishedEntry } from './charter.versions.ts';
import { CHARTER_DIR } from './package.files.ts';

/**
 * Publishing a charter version: appends it to `charter/published.json` with the hash of its text, computed here.
 * After that the text is frozen (loading refuses a changed text). Run:
 *
 *   node --import tsx charter/src/charter.publish.ts 1.1
 *
 * then review the diff (the new `v1.1.md` and one new line in `published.json`) and commit both together.
 */
export interface PublishOptions {
  version: string;
  /** The charter directory; the package's own by default. */
  dir?: string;
  /** Publication instant; now by default. */
  now?: Date;
}

export function publishCharterVersion(options: PublishOptions): PublishedEntry {
  const dir = options.dir ?? CHARTER_DIR;
  const { version } = options;
  const refuse = (detail: string) => new CharterError('charter_publish_refused', `charter ${version}: ${detail}`);
  if (!VERSION_PATTERN.test(version)) throw refuse('a version is MAJOR.MINOR, e.g. 1.1');
  const indexPath = join(dir, PUBLISHED_INDEX_FILE);
  const existing: PublishedEntry[] = existsSync(indexPath)
    ? parsePublishedIndex(JSON.parse(readFileSync(indexPath, 'utf8')) as unknown, indexPath)
    : [];
  if (existing.some((e) => e.version === version)) throw refuse('already published; a published version never changes');
  const last = existing.at(-1);
  if (last && compareVersions(version, last.version) <= 0)
    throw refuse(`must come after the current version ${last.version}`);
  if (!existsSync(join(dir, charterFileName(version)))) throw refuse(`write ${charterFileName(version)} first`);
  const text = readCharterText(dir, version);
  if (text.trim().length === 0) throw refuse(`${charterFileName(version)} is empty`);
  const now = options.now ?? new Date();
  const publishedAt = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  if (last && Date.parse(last.publishedAt) > Date.parse(publishedAt))
    throw refuse(`cannot be published before ${last.version}`);
  const entry: PublishedEntry = { version, publishedAt, contentHash: contentHashOf(text) };
  const document = { versions: [...existing, entry] };
  // Validate what we are about to write with the same parser the loader uses, then replace the file atomically.
  parsePublishedIndex(document, indexPath);
  const body = `{\n "versions": [\n${document.versions.map((e) => `  ${JSON.stringify(e)}`).join(',\n')}\n ]\n}\n`;
  const temp = `${indexPath}.${process.pid}.tmp`;
  writeFileSync(temp, body);
  renameSync(temp, indexPath);
  return entry;
}

function main(argv: string[]): number {
  const version = argv[0];
  if (!version || argv.includes('--help') || argv.includes('-h')) {
    console.log('Usage: node --import tsx charter/src/charter.publish.ts <MAJOR.MINOR> [--dir <charter dir>]');
    console.log('Publishes charter/v<MAJOR.MINOR>.md: records its SHA-256 and the date in charter/published.json.');
    return version ? 0 : 2;
  }
  const dirFlag = argv.indexOf('--dir');
  const dir = dirFlag >= 0 && argv[dirFlag + 1] ? resolve(argv[dirFlag + 1]!) : CHARTER_DIR;
  try {
    const entry = publishCharterVersion({ version, dir });
    console.log(`Published charter ${entry.version} at ${entry.publishedAt}, sha256 ${entry.contentHash}.`);
    console.log('Commit the text and published.json together; the text is now frozen.');
    return 0;
  } catch (err) {
    if (err instanceof CharterError) {
      console.error(`${err.message}`);
      return 1;
    }
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
