/**
 * The import graph of a package's source, folded onto its top-level folders (issue 11: "one structure that shows
 * itself"). Reads the static imports, re-exports and dynamic `import()` of every non-test `.ts` file under a `src/`
 * folder (TypeScript's own pre-processor, so comments and strings are not mistaken for imports), keeps the relative
 * ones, and folds `src/<folder>/...` onto `<folder>`. Then: strongly connected components (Tarjan), the cycles they
 * hold, and the number of edges that run "back up" against the best layering found (Eades–Lin–Smyth ordering).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** Files the graph is made of: sources, not tests (`*.test.ts`) nor declarations. */
export function isSourceFile(path: string): boolean {
  return path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.endsWith('.d.ts');
}

/** Every source file under `root`, as paths relative to it with `/` separators, sorted. */
export function listSourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (isSourceFile(entry.name)) out.push(relative(root, full).split(sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

/** The module specifiers a file's text imports: `import`, `import type`, `export ... from`, `import()`. */
export function importSpecifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** One import between two files of the same source root (paths relative to it). */
export interface FileEdge {
  from: string;
  to: string;
}

/** The relative imports between the source files under `root` (imports leaving the root are dropped). */
export function readFileEdges(root: string): FileEdge[] {
  const files = new Set(listSourceFiles(root));
  const edges: FileEdge[] = [];
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const spec of importSpecifiers(text)) {
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(file), spec))
        .split(sep)
        .join('/');
      if (target.startsWith('..')) continue;
      edges.push({ from: file, to: target });
    }
  }
  return edges;
}

/** The top-level folder a file belongs to (`(root)` for files directly under the source root). */
export function folderOf(file: string): string {
  const i = file.indexOf('/');
  return i < 0 ? '(root)' : file.slice(0, i);
}

/** A directed graph on named nodes; `edges.get(a)` holds the nodes `a` imports. */
export type Graph = Map<string, Set<string>>;

export function graphFromPairs(pairs: Iterable<readonly [string, string]>, nodes: Iterable<string> = []): Graph {
  const g: Graph = new Map();
  for (const n of nodes) if (!g.has(n)) g.set(n, new Set());
  for (const [a, b] of pairs) {
    if (!g.has(a)) g.set(a, new Set());
    if (!g.has(b)) g.set(b, new Set());
    if (a !== b) g.get(a)?.add(b);
  }
  return g;
}

/**
 * Whether a file is left out by a list of exclusions: an entry ending in `/` names a folder, any other entry a
 * file (both relative to the source root).
 */
export function isExcluded(file: string, exclusions: readonly string[]): boolean {
  return exclusions.some((e) => (e.endsWith('/') ? file.startsWith(e) : file === e));
}

/** The folder-to-folder graph of file edges, leaving out every import from or to an excluded file. */
export function folderGraph(files: readonly string[], edges: readonly FileEdge[], exclusions: readonly string[] = []) {
  const kept = files.filter((f) => !isExcluded(f, exclusions));
  const pairs = edges
    .filter((e) => !isExcluded(e.from, exclusions) && !isExcluded(e.to, exclusions))
    .map((e) => [folderOf(e.from), folderOf(e.to)] as const);
  return graphFromPairs(
    pairs,
    kept.map((f) => folderOf(f)),
  );
}

export function edgeCount(g: Graph): number {
  let n = 0;
  for (const targets of g.values()) n += targets.size;
  return n;
}

/** Strongly connected components (Tarjan), each sorted, largest first. */
export function stronglyConnectedComponents(g: Graph): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, indices.get(w) as number));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      out.push(component.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!indices.has(v)) visit(v);
  return out.sort((a, b) => b.length - a.length || (a[0] as string).localeCompare(b[0] as string));
}

/** The components that hold a cycle (more than one node: self-imports of a folder are not edges here). */
export function cyclicComponents(g: Graph): string[][] {
  return stronglyConnectedComponents(g).filter((c) => c.length > 1);
}

/** One shortest cycle through each cyclic component's first node, to name in a failure message. */
export function exampleCycles(g: Graph): string[][] {
  return cyclicComponents(g).map((component) => {
    const members = new Set(component);
    const start = component[0] as string;
    const previous = new Map<string, string>();
    const queue = [start];
    const seen = new Set([start]);
    while (queue.length > 0) {
      const v = queue.shift() as string;
      for (const w of g.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          const path = [v];
          while (path[0] !== start) path.unshift(previous.get(path[0] as string) as string);
          return [...path, start];
        }
        if (!seen.has(w)) {
          seen.add(w);
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    return component;
  });
}

/**
 * A layering of the nodes (Eades–Lin–Smyth greedy heuristic for the feedback arc set): an order in which as few
 * edges as it can find point from a node to one placed before it, i.e. from a lower floor "back up" to a higher one.
 * Returned top first: the importers before what they import.
 */
export function layering(g: Graph): string[] {
  const remaining = new Set(g.keys());
  const outDeg = (v: string) => [...(g.get(v) ?? [])].filter((w) => remaining.has(w)).length;
  const inDeg = (v: string) => [...remaining].filter((u) => g.get(u)?.has(v)).length;
  const head: string[] = [];
  const tail: string[] = [];
  while (remaining.size > 0) {
    let changed = true;
    while (changed) {
      changed = false;
      for (const v of [...remaining].sort()) {
        if (outDeg(v) === 0) {
          tail.unshift(v);
          remaining.delete(v);
          changed = true;
        } else if (inDeg(v) === 0) {
          head.push(v);
          remaining.delete(v);
          changed = true;
        }
      }
    }
    if (remaining.size === 0) break;
    const best = [...remaining].sort().reduce((a, b) => (outDeg(b) - inDeg(b) > outDeg(a) - inDeg(a) ? b : a));
    head.push(best);
    remaining.delete(best);
  }
  return [...head, ...tail];
}

/** The edges that point against the layering: an importer placed below what it imports. */
export function backEdges(g: Graph, order: readonly string[] = layering(g)): [string, string][] {
  const rank = new Map(order.map((v, i) => [v, i]));
  const out: [string, string][] = [];
  for (const [a, targets] of g) {
    for (const b of targets) if ((rank.get(a) as number) > (rank.get(b) as number)) out.push([a, b]);
  }
  return out.sort((x, y) => x[0].localeCompare(y[0]) || x[1].localeCompare(y[1]));
}

/** The figures printed by the architecture test: folders, edges, back edges, component sizes. */
export function figures(g: Graph) {
  const sccs = stronglyConnectedComponents(g);
  return {
    folders: g.size,
    edges: edgeCount(g),
    backEdges: backEdges(g).length,
    largestComponent: sccs[0]?.length ?? 0,
    cyclicComponentSizes: sccs.filter((c) => c.length > 1).map((c) => c.length),
  };
}
