import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { test } from 'vitest';

/**
 * The root package.json `engines.node` is honest (issue #16 point 12): every package the lockfile installs, runtime
 * or development, declares a Node range that the oldest Node the project says it supports satisfies. A dependency that
 * needs a newer Node is pinned to a version that does not (package.json `overrides`, or the workspace's own pin), or
 * `engines` says so.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));

test('every installed package accepts the oldest Node the root engines field allows', () => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  const range = manifest.engines?.node;
  assert.ok(range && semver.validRange(range), 'package.json declares engines.node');
  const oldest = semver.minVersion(range)!.version;
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; link?: boolean; engines?: { node?: string } | string[] }>;
  };
  const refused: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.link || Array.isArray(entry.engines)) continue;
    const wanted = entry.engines?.node;
    if (wanted && semver.validRange(wanted) && !semver.satisfies(oldest, wanted))
      refused.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version} wants node ${wanted}`);
  }
  assert.deepEqual(refused, [], `engines says node ${range} (oldest ${oldest}), but:\n${refused.join('\n')}`);
});
