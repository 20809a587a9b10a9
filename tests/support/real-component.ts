import { execFileSync } from 'node:child_process';

/**
 * Where a suite needs a real component (redis-server, dovecot, chromium...): returns `{ skip: false, path }` when the
 * binary is there. When it is missing, under CI (`CI=true`) it throws — a missing component is a failure, never a
 * silent skip — and elsewhere it prints a loud warning with the install hint and returns `skip: true` for vitest (the reason is printed).
 */
export function realComponent(binary: string, debianPackage: string): { skip: boolean; path: string } {
  let path = '';
  try {
    path = execFileSync(
      'sh',
      ['-c', `command -v ${binary} || ls /usr/sbin/${binary} /usr/bin/${binary} 2>/dev/null | head -1`],
      {
        encoding: 'utf8',
      },
    ).trim();
  } catch {
    path = '';
  }
  if (path) return { skip: false, path };
  const message = `${binary} is missing: install it with \`apt-get install -y ${debianPackage}\` (.ci/run does this)`;
  if (process.env.CI === 'true') throw new Error(`[CI] ${message}`);
  console.warn(`\n!!! SKIPPING: ${message}\n`);
  return { skip: true, path: '' };
}

/** For suites driven by an env var (Cassandra, Elasticsearch): skip loudly when it is not set. */
export function externalService(envVar: string, howTo: string): { skip: boolean; value: string } {
  const value = process.env[envVar];
  if (value) return { skip: false, value };
  const message = `${envVar} is not set: ${howTo}`;
  console.warn(`\n!!! SKIPPING: ${message}\n`);
  return { skip: true, value: '' };
}
