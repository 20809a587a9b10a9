#!/usr/bin/env node
// The `caliopen` command (docs/adr/0011-cli-package-and-fast-start.md). The command tree runs from its bundle,
// cli/dist/caliopen.mjs (made by `npm ci`, cli/scripts/bundle.mjs), when the bundle is there and no source it was
// made from changed since, and CALIOPEN_CLI_FROM_SOURCES is not set; otherwise from the TypeScript sources through
// tsx (docs/adr/0001). Either way a command's implementation is loaded from the sources when it runs.
import { readFileSync, statSync } from 'node:fs';

const bundle = new URL('../dist/caliopen.mjs', import.meta.url);

function bundleIsCurrent() {
  if (process.env.CALIOPEN_CLI_FROM_SOURCES) return false;
  try {
    const made = statSync(bundle).mtimeMs;
    const inputs = JSON.parse(readFileSync(new URL('../dist/caliopen.inputs.json', import.meta.url), 'utf8'));
    return inputs.every((file) => statSync(new URL(`../${file}`, import.meta.url)).mtimeMs <= made);
  } catch {
    return false;
  }
}

let main;
if (bundleIsCurrent()) {
  ({ main } = await import(bundle.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/main.ts'));
}
process.exitCode = await main(process.argv);
