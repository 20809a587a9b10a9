import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'vitest';

/*
 * The command tree is what `caliopen --help` loads, and what cli/scripts/bundle.mjs bundles: it must import nothing
 * that runs but commander and itself (docs/adr/0011-cli-package-and-fast-start.md). A value import of an
 * implementation here would load the instance or the registry at every start; types are erased.
 */
const here = new URL('./', import.meta.url);
const TREE = readdirSync(here).filter(
  (f) => f.endsWith('.commands.ts') || ['main.ts', 'federation.command.ts', 'lazy-import.ts'].includes(f),
);
/** federation.plan.ts gives the federation's help its port table: pure data over Node built-ins. */
const ALLOWED = new Set(['commander', 'tsx/esm/api', './federation.plan.ts', ...TREE.map((f) => `./${f}`)]);

/** The modules a source file loads when it is imported: static imports that are not `import type`. */
function valueImports(source: string): string[] {
  return [...source.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
}

test('the command tree imports nothing that runs but commander', () => {
  assert.ok(TREE.length >= 8, `found ${TREE.join(', ')}`);
  for (const file of TREE) {
    for (const specifier of valueImports(readFileSync(new URL(file, here), 'utf8')))
      assert.ok(ALLOWED.has(specifier), `${file} imports ${specifier}: import it in the action, when it runs`);
  }
  for (const specifier of valueImports(readFileSync(new URL('federation.plan.ts', here), 'utf8')))
    assert.match(specifier, /^node:/, `federation.plan.ts imports ${specifier}`);
});
