/**
 * The workspace graph of the repository, read from the source: every import (static `import … from`, `export … from`,
 * side-effect `import '…'`, dynamic `import('…')`) of every .ts/.mjs file of every npm workspace, mapped to the
 * workspace it lands in. Used by workspace-graph.test.ts (CI) and reusable by any script that wants the graph.
 *
 * Imports are read with TypeScript's own pre-processor (`ts.preProcessFile`), so comments and strings that merely
 * look like imports are not counted.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import ts from 'typescript';

export interface Workspace {
  /** The folder, relative to the root (also the name used in the graph): `instance`, `platform`, … */
  dir: string;
  /** The package name: `@caliopen/instance`, … */
  name: string;
}

export interface ImportEdge {
  /** Importing file, relative to the root, with `/` separators. */
  file: string;
  fromWorkspace: string;
  /** The specifier as written. */
  specifier: string;
  toWorkspace: string;
  /** The imported file, relative to the root, when it could be worked out (`instance/src/app/instance.app.ts`). */
  target: string | null;
}

const toPosix = (p: string) => p.split(sep).join('/');

/** The workspaces listed in the root package.json, with their package names. */
export function readWorkspaces(root: string): Workspace[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces?: string[] };
  return (pkg.workspaces ?? []).map((dir) => ({
    dir,
    name: (JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { name: string }).name,
  }));
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The specifiers a source text imports, in order. */
export function importsOf(text: string): string[] {
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/**
 * Every import of every workspace file that lands in a workspace (its own included). Imports of outside packages
 * (`node:*`, `fastify`, …) and of files outside any workspace are left out.
 */
export function collectImportEdges(
  root: string,
  workspaces: readonly Workspace[] = readWorkspaces(root),
): ImportEdge[] {
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  const dirs = new Set(workspaces.map((w) => w.dir));
  const edges: ImportEdge[] = [];
  for (const ws of workspaces) {
    for (const path of sourceFiles(join(root, ws.dir))) {
      const file = toPosix(relative(root, path));
      for (const specifier of importsOf(readFileSync(path, 'utf8'))) {
        let toWorkspace: string | null = null;
        let target: string | null = null;
        if (specifier.startsWith('.')) {
          target = toPosix(normalize(join(dirname(file), specifier)));
          const top = target.split('/')[0]!;
          if (dirs.has(top)) toWorkspace = top;
        } else {
          const m = /^(@[^/]+\/[^/]+|[^@/][^/]*)(?:\/(.*))?$/.exec(specifier);
          const w = m ? byName.get(m[1]!) : undefined;
          if (w) {
            toWorkspace = w.dir;
            // Every workspace exports "./*" as "./src/*" (and "." as ./src/index.ts where it has one).
            target = m![2] === undefined ? `${w.dir}/src/index.ts` : `${w.dir}/src/${m![2]}`;
          }
        }
        if (toWorkspace !== null) edges.push({ file, fromWorkspace: ws.dir, specifier, toWorkspace, target });
      }
    }
  }
  return edges;
}

/** Workspace → the workspaces it imports (self-imports left out). */
export function workspaceGraph(edges: readonly ImportEdge[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!graph.has(e.fromWorkspace)) graph.set(e.fromWorkspace, new Set());
    if (!graph.has(e.toWorkspace)) graph.set(e.toWorkspace, new Set());
    if (e.fromWorkspace !== e.toWorkspace) graph.get(e.fromWorkspace)!.add(e.toWorkspace);
  }
  return graph;
}

/** A cycle of the graph as a path that ends where it starts (`['a', 'b', 'a']`), or null when it is a DAG. */
export function findCycle(graph: ReadonlyMap<string, ReadonlySet<string>>): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (state.get(next) === 'visiting') return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of [...graph.keys()].sort()) {
    if (state.get(node) === undefined) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return null;
}

/** An edge that breaks a rule, with the rule's reason. */
export interface Violation {
  rule: string;
  edge: ImportEdge;
}

export interface GraphRules {
  /** Pairs of workspaces that must never import each other, in either direction. */
  separated: readonly (readonly [string, string])[];
  /** Files allowed to cross a separation anyway (a folder prefix, e.g. `instance/src/cli/` while it exists). */
  separationExemptPrefixes: readonly string[];
  /** Composition roots (`instance/src/app/`): only files under these prefixes may import one. */
  compositionRoots: readonly { root: string; allowedImporterPrefixes: readonly string[] }[];
}

/** Checks the rules on every edge; returns what breaks them (cycles are found by findCycle). */
export function checkRules(edges: readonly ImportEdge[], rules: GraphRules): Violation[] {
  const out: Violation[] = [];
  for (const edge of edges) {
    const separated = rules.separated.some(
      ([a, b]) =>
        (edge.fromWorkspace === a && edge.toWorkspace === b) || (edge.fromWorkspace === b && edge.toWorkspace === a),
    );
    if (separated && !rules.separationExemptPrefixes.some((p) => edge.file.startsWith(p))) {
      out.push({ rule: `${edge.fromWorkspace} must not import ${edge.toWorkspace}`, edge });
    }
    for (const { root, allowedImporterPrefixes } of rules.compositionRoots) {
      if (edge.target?.startsWith(root) && !allowedImporterPrefixes.some((p) => edge.file.startsWith(p))) {
        out.push({ rule: `only the composition sites may import ${root}`, edge });
      }
    }
  }
  return out;
}

/** true when `path` (relative to root) is an existing directory. */
export function isDirectory(root: string, path: string): boolean {
  return existsSync(join(root, path)) && statSync(join(root, path)).isDirectory();
}
