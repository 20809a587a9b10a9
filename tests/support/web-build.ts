import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The browser tests need the built apps (`npm ci` builds them through the root `prepare` script). They never build
 * them themselves: a Vite build empties its output folder while the other browser tests, running in parallel, are
 * serving from it.
 */
export function requireWebBuild(folder: 'dist' | 'dist-registry'): void {
  if (!existsSync(path.join(ROOT, 'web', folder, 'index.html'))) {
    throw new Error(
      `web/${folder} is missing: run \`npm run build -w web\` (npm ci does it), then run the tests again`,
    );
  }
}
