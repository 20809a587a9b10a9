/**
 * Issue 11, "one structure that shows itself": the top-level folders of instance/src and registry/src import each
 * other without cycles, so that they can be read as floors. See ./import-graph.ts for how the graph is read.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import {
  backEdges,
  cyclicComponents,
  exampleCycles,
  figures,
  folderGraph,
  graphFromPairs,
  listSourceFiles,
  readFileEdges,
} from './import-graph.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What the no-cycle assertion leaves out, for now, and why: an entry ending in `/` is a folder, any other a file,
 * relative to the source root. Every import from or to it is dropped from the graph. The list can only shrink: the
 * test fails when an entry is no longer needed to keep the graph acyclic, so remove it then.
 * Empty since the composition root, the delivery worker and the platform package landed (issue 11): no folder of
 * either package is in an import cycle. Keep it empty.
 */
const EXCLUSIONS: Record<string, readonly { path: string; why: string }[]> = {
  'instance/src': [],
  'registry/src': [],
};

function graphOf(srcRoot: string, exclusions: readonly string[] = []) {
  const root = `${repo}${srcRoot}`;
  return folderGraph(listSourceFiles(root), readFileEdges(root), exclusions);
}

describe('the import graph of the domain folders', () => {
  for (const srcRoot of ['instance/src', 'registry/src']) {
    it(`${srcRoot}: figures`, () => {
      const g = graphOf(srcRoot);
      console.log(`${srcRoot}, every file:`, JSON.stringify(figures(g)));
      for (const cycle of exampleCycles(g)) console.log(`  cycle: ${cycle.join(' -> ')}`);
      const excluded = (EXCLUSIONS[srcRoot] ?? []).map((e) => e.path);
      if (excluded.length > 0)
        console.log(
          `${srcRoot}, leaving out ${excluded.join(', ')}:`,
          JSON.stringify(figures(graphOf(srcRoot, excluded))),
        );
    });
  }

  for (const [srcRoot, exclusions] of Object.entries(EXCLUSIONS)) {
    const paths = exclusions.map((e) => e.path);

    it(`${srcRoot}: no import cycle among the folders (leaving out ${paths.join(', ') || 'nothing'})`, () => {
      const g = graphOf(srcRoot, paths);
      const cycles = exampleCycles(g).map((c) => c.join(' -> '));
      assert.deepEqual(cycles, [], `import cycles among the folders of ${srcRoot}`);
    });

    for (const path of paths) {
      it(`${srcRoot}: leaving out ${path} is still needed`, () => {
        const g = graphOf(
          srcRoot,
          paths.filter((p) => p !== path),
        );
        assert.notDeepEqual(
          cyclicComponents(g),
          [],
          `${srcRoot}/${path} no longer closes a cycle: remove it from EXCLUSIONS in tests/architecture/domain-folders.test.ts`,
        );
      });
    }
  }

  it('finds the cycle of a synthetic graph, and none once the back edge is gone', () => {
    const layered = graphFromPairs([
      ['routes', 'service'],
      ['service', 'entity'],
      ['routes', 'entity'],
    ]);
    assert.deepEqual(cyclicComponents(layered), []);
    assert.deepEqual(backEdges(layered), []);
    const tangled = graphFromPairs([
      ['routes', 'service'],
      ['service', 'entity'],
      ['entity', 'routes'],
      ['leaf', 'leaf'],
    ]);
    assert.deepEqual(cyclicComponents(tangled), [['entity', 'routes', 'service']]);
    assert.equal(backEdges(tangled).length, 1);
    assert.deepEqual(exampleCycles(tangled), [['entity', 'routes', 'service', 'entity']]);
  });

  it('leaves out excluded files and folders, which is how an exclusion hides a cycle', () => {
    const files = ['a/x.ts', 'b/y.ts', 'c/z.ts', 'c/w.ts'];
    const edges = [
      { from: 'a/x.ts', to: 'b/y.ts' },
      { from: 'b/y.ts', to: 'c/z.ts' },
      { from: 'c/w.ts', to: 'a/x.ts' },
    ];
    assert.deepEqual(cyclicComponents(folderGraph(files, edges)), [['a', 'b', 'c']]);
    assert.deepEqual(cyclicComponents(folderGraph(files, edges, ['c/w.ts'])), []);
    assert.deepEqual(cyclicComponents(folderGraph(files, edges, ['b/'])), []);
    assert.deepEqual(cyclicComponents(folderGraph(files, edges, ['c/z'])), [['a', 'b', 'c']]);
  });
});
