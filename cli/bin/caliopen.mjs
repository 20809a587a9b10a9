#!/usr/bin/env node
// The `caliopen` command. The sources are TypeScript run through tsx (see docs/adr/0001-run-typescript-with-tsx.md).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
