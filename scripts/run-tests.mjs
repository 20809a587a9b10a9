#!/usr/bin/env node
// Runs every *.test.ts of the workspace with Node's own test runner (through tsx).
// Usage: node scripts/run-tests.mjs [path-fragment ...]  — only files whose path contains one of the fragments.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const roots = ['federation-protocol', 'charter', 'registry', 'instance', 'web', 'tests'];
const skipDirs = new Set(['node_modules', 'dist', '.data', 'bench']);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name)) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, full));
  }
  return out;
}

const filters = process.argv.slice(2);
const files = roots
  .flatMap((r) => walk(join(root, r), []))
  .filter((f) => filters.length === 0 || filters.some((frag) => f.includes(frag)))
  .sort();

if (files.length === 0) {
  console.error(`No test file matched ${filters.join(', ') || '(all)'}.`);
  process.exit(1);
}

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'test' } },
);
process.exit(result.status ?? 1);
