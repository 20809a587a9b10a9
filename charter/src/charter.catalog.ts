import { loadCharterVersions } from './charter.versions.ts';
import type { CharterVersion } from './charter.versions.ts';

/** The charter versions this package publishes, loaded and verified once, when the package is first imported. */
const VERSIONS: readonly CharterVersion[] = Object.freeze(loadCharterVersions());

/** All published versions, oldest first. */
export function charterVersions(): CharterVersion[] {
  return [...VERSIONS];
}

export function charterVersion(version: string): CharterVersion | null {
  if (typeof version !== 'string') return null;
  return VERSIONS.find((v) => v.version === version) ?? null;
}

/** The newest published version. */
export function currentCharter(): CharterVersion {
  return VERSIONS[VERSIONS.length - 1]!;
}
