import { writeFileSync } from 'node:fs';
import { renderErrorDoc } from '../instance/src/shared/errors.doc.ts';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorDoc());
console.log('docs/errors.md written');
