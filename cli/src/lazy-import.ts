/*
 * How a command reaches its implementation: when it runs, not when the program is declared (docs/adr/0011). The
 * command tree (`*.commands.ts`, main.ts) imports nothing but commander, so `caliopen --help` loads no domain module;
 * an action imports its `*.actions.ts` here.
 *
 * The tree runs either from the sources (through tsx) or from the bundle `cli/dist/caliopen.mjs` that esbuild makes
 * of it at `npm ci` (cli/scripts/bundle.mjs). The implementations are always the TypeScript sources: from the bundle,
 * tsx is registered at the first action. `../src/` resolves to this folder from both `cli/src/` and `cli/dist/`.
 */

let tsxRegistered = import.meta.url.endsWith('.ts');

/** The module `cli/src/<file>`, loaded when a command needs it. */
export async function implementation<M>(file: string): Promise<M> {
  if (!tsxRegistered) {
    const { register } = await import('tsx/esm/api');
    register();
    tsxRegistered = true;
  }
  return (await import(new URL(`../src/${file}`, import.meta.url).href)) as M;
}
