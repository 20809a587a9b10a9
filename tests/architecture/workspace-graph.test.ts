/**
 * The shape of the repository, checked on every run (issue 11, "one structure that shows itself"; ADR 0010):
 * (a) the workspaces import each other as a DAG;
 * (b) the two products, instance and registry, never import each other: what they share lives in `platform`, and
 *     only a `cli` workspace (the one `caliopen` entry) may depend on both;
 * (c) a composition root (`instance/src/app/`, `registry/src/app/`) is imported only by the composition sites:
 *     itself, its package entry, the CLI, the tests harness and test files (which start the products as an
 *     operator would);
 * (d) `platform` imports no other workspace.
 * The checker is tests/architecture/workspace-graph.ts; the last tests feed it a synthetic graph to prove it fails.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'vitest';
import {
  checkRules,
  collectImportEdges,
  findCycle,
  type GraphRules,
  type ImportEdge,
  importsOf,
  workspaceGraph,
} from './workspace-graph.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Test-only files of a product (unit tests, fixtures, conformance suites, test helpers) may use the `tests`
 * workspace's support code (loopback DNS, TLS and SMTP servers, temp dirs): a development dependency, not part of
 * the product's dependency graph, so their edges are left out of the DAG and of rule (d).
 */
const isTestOnly = (file: string) =>
  /\.(test|fixture|conformance)\.ts$/.test(file) || /\/src\/testing\//.test(file) || file.startsWith('tests/');

const compositionSites = (pkg: string) => [`${pkg}/src/app/`, `${pkg}/src/index.ts`, 'cli/', 'tests/'];

const RULES: GraphRules = {
  separated: [['instance', 'registry']],
  separationExemptPrefixes: ['cli/'],
  compositionRoots: [
    { root: 'instance/src/app/', allowedImporterPrefixes: compositionSites('instance') },
    { root: 'registry/src/app/', allowedImporterPrefixes: compositionSites('registry') },
  ],
};

const edges = collectImportEdges(ROOT);
const productEdges = edges.filter((e) => !isTestOnly(e.file));
const describeEdge = (e: ImportEdge) => `${e.file}: '${e.specifier}' (${e.fromWorkspace} -> ${e.toWorkspace})`;

describe('workspace graph', () => {
  test('the import reader sees the workspaces and their imports', () => {
    const graph = workspaceGraph(edges);
    for (const ws of ['platform', 'instance', 'registry', 'tests']) assert.ok(graph.has(ws), `${ws} is in the graph`);
    assert.ok(
      productEdges.some((e) => e.fromWorkspace === 'registry' && e.toWorkspace === 'platform'),
      'registry imports platform',
    );
  });

  test('(a) the workspaces form a DAG', () => {
    const cycle = findCycle(workspaceGraph(productEdges));
    assert.equal(cycle, null, `workspace cycle: ${cycle?.join(' -> ')}`);
  });

  test('(b) instance and registry never import each other (only a cli workspace may use both)', () => {
    const crossing = checkRules(productEdges.concat(edges.filter((e) => isTestOnly(e.file))), {
      ...RULES,
      compositionRoots: [],
    });
    assert.deepEqual(
      crossing.map((v) => describeEdge(v.edge)),
      [],
    );
  });

  test('(c) only composition sites import a composition root', () => {
    const found = [
      ...new Set(
        checkRules(productEdges, { ...RULES, separated: [] }).map(
          (v) => `${v.edge.file} -> ${v.edge.target ?? v.edge.specifier}`,
        ),
      ),
    ].sort();
    assert.deepEqual(
      found,
      [],
      'imports of a composition root outside the composition sites: pass the services needed',
    );
  });

  test('(d) platform imports no other workspace', () => {
    const out = productEdges.filter((e) => e.fromWorkspace === 'platform' && e.toWorkspace !== 'platform');
    assert.deepEqual(out.map(describeEdge), []);
  });
});

describe('the checker can fail', () => {
  const edge = (file: string, specifier: string, fromWorkspace: string, toWorkspace: string, target: string) => ({
    file,
    specifier,
    fromWorkspace,
    toWorkspace,
    target,
  });
  const synthetic: ImportEdge[] = [
    edge('a/src/x.ts', '@x/b/y.ts', 'a', 'b', 'b/src/y.ts'),
    edge('b/src/y.ts', '@x/c/z.ts', 'b', 'c', 'c/src/z.ts'),
    edge('c/src/z.ts', '@x/a/x.ts', 'c', 'a', 'a/src/x.ts'),
    edge('instance/src/mail.ts', '@caliopen/registry/feed.ts', 'instance', 'registry', 'registry/src/feed.ts'),
    edge('cli/src/main.ts', '@caliopen/registry/feed.ts', 'cli', 'registry', 'registry/src/feed.ts'),
    edge(
      'instance/src/mail.ts',
      '../app/instance.services.ts',
      'instance',
      'instance',
      'instance/src/app/instance.services.ts',
    ),
    edge(
      'cli/src/main.ts',
      '@caliopen/instance/app/instance.app.ts',
      'cli',
      'instance',
      'instance/src/app/instance.app.ts',
    ),
  ];

  test('reports a cycle', () => {
    assert.deepEqual(findCycle(workspaceGraph(synthetic)), ['a', 'b', 'c', 'a']);
    assert.equal(findCycle(workspaceGraph(synthetic.slice(1))), null, 'no cycle once an edge is cut');
  });

  test('reports a forbidden edge and a composition-root import, and lets the cli workspace through', () => {
    const rules: GraphRules = {
      separated: [['instance', 'registry']],
      separationExemptPrefixes: ['cli/'],
      compositionRoots: [{ root: 'instance/src/app/', allowedImporterPrefixes: ['instance/src/app/', 'cli/'] }],
    };
    assert.deepEqual(
      checkRules(synthetic, rules).map((v) => `${v.rule}: ${v.edge.file}`),
      [
        'instance must not import registry: instance/src/mail.ts',
        'only the composition sites may import instance/src/app/: instance/src/mail.ts',
      ],
    );
  });

  test('reads static, re-export, side-effect and dynamic imports, not look-alikes in comments or strings', () => {
    const text = [
      "import { a } from './a.ts';",
      "import type { B } from '@caliopen/b/b.ts';",
      "export { c } from '../c.ts';",
      "import 'reflect-metadata';",
      "const d = await import('@caliopen/d/d.ts');",
      "// import { e } from './e.ts';",
      'const s = "import { f } from \'./f.ts\'";',
    ].join('\n');
    assert.deepEqual(importsOf(text), [
      './a.ts',
      '@caliopen/b/b.ts',
      '../c.ts',
      'reflect-metadata',
      '@caliopen/d/d.ts',
    ]);
  });
});
