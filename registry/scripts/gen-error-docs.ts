import { writeFileSync } from 'node:fs';
import { renderRegistryErrorDoc } from '../src/shared/errors.doc.ts';

writeFileSync(new URL('../../docs/registry-errors.md', import.meta.url), renderRegistryErrorDoc());
console.log('docs/registry-errors.md written');
