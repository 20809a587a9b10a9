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

function graphOf(srcRoot: string, exclusions: readonly string[] = []) {
  const root = `${repo}${srcRoot}`;
  return folderGraph(listSourceFiles(root), readFileEdges(root), exclusions);
}

describe('the import graph of the domain folders', () => {
  for (const srcRoot of ['instance/src', 'registry/src']) {
    it(`${srcRoot}: figures`, () => {
      const g = graphOf(srcRoot);
      console.log(`${srcRoot}:`, JSON.stringify(figures(g)));
      for (const cycle of exampleCycles(g)) console.log(`  cycle: ${cycle.join(' -> ')}`);
    });
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
});
