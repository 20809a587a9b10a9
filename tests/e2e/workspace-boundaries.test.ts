import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'vitest';

/*
 * Which workspace may import which (docs/adr/0011-cli-package-and-fast-start.md): the CLI (`cli/`) sits above the
 * instance and the registry; the instance does not import the registry; neither imports the CLI.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? e.name === 'node_modules'
        ? []
        : sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** Every module specifier a file names: static imports and exports, `import type`, dynamic `import('...')`. */
function specifiers(source: string): string[] {
  return [...source.matchAll(/(?:from\s+|import\s*\(\s*|^import\s+)'([^']+)'/gm)].map((m) => m[1]!);
}

function offenders(workspace: string, forbidden: RegExp): string[] {
  return sources(join(ROOT, workspace)).flatMap((file) =>
    specifiers(readFileSync(file, 'utf8'))
      .filter((s) => forbidden.test(s))
      .map((s) => `${relative(ROOT, file)} imports ${s}`),
  );
}

test('the instance imports neither the registry nor the CLI', () => {
  assert.deepEqual(offenders('instance', /^@caliopen\/(registry|cli)(\/|$)/), []);
});

test('the registry does not import the CLI', () => {
  assert.deepEqual(offenders('registry', /^@caliopen\/cli(\/|$)/), []);
});
