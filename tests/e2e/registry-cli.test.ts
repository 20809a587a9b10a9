/**
 * `caliopen registry ...` as an association operator uses it: separate processes, real files, real exit codes, and
 * a started registry answering over HTTP with the auditor the CLI created and the keys it rotated.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, test } from 'vitest';
import { freePort, waitFor } from '../support/net.ts';
import { tempDir } from '../support/tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'cli/bin/caliopen.mjs');

function caliopen(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('caliopen registry CLI', () => {
  const tmp = tempDir('caliopen-registry-cli-');
  const dataDir = join(tmp.dir, 'registry');
  let server: ChildProcess | null = null;

  afterAll(() => {
    server?.kill('SIGKILL');
    tmp.cleanup();
  });

  test('help, bad usage (exit 2, naming the fix), init, auditors, key rotation, then start serving what they made', async () => {
    // Independent commands run side by side: each is a whole process start.
    const [help, badPort, noRegistry, init] = await Promise.all([
      caliopen(['registry', '--help']),
      caliopen(['registry', 'init', '--http-port', 'eighty', '--data-dir', join(tmp.dir, 'never')]),
      caliopen(['registry', 'auditor', 'add', 'alice', '--data-dir', join(tmp.dir, 'nowhere')]),
      caliopen([
        'registry',
        'init',
        '--data-dir',
        dataDir,
        '--origin',
        'registry.cli.test',
        '--http-port',
        '0',
        '--approvals',
        '3',
      ]),
    ]);
    assert.equal(help.code, 0, help.stderr);
    for (const sub of ['init', 'start', 'auditor', 'keys']) assert.match(help.stdout, new RegExp(`\\b${sub}\\b`));
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /--http-port must be a port number/);
    assert.equal(noRegistry.code, 2);
    assert.match(noRegistry.stderr, /caliopen registry init/);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /Registry registry\.cli\.test created/);
    assert.match(init.stdout, /decisions need 3 approvals/);
    assert.equal(statSync(join(dataDir, 'secrets', 'master.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'registry.json')).mode & 0o777, 0o600);

    const [again, added, rotated, badOverlap] = await Promise.all([
      caliopen(['registry', 'init', '--data-dir', dataDir]),
      caliopen(['registry', 'auditor', 'add', 'alice', '--json', '--data-dir', dataDir]),
      caliopen(['registry', 'keys', 'rotate', '--activate-in-hours', '0', '--data-dir', dataDir]),
      caliopen(['registry', 'keys', 'rotate', '--overlap-days', '1', '--data-dir', dataDir]),
    ]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds a registry/);
    assert.equal(added.code, 0, added.stderr);
    const alice = JSON.parse(added.stdout) as { name: string; password: string };
    assert.equal(alice.name, 'alice');
    assert.match(alice.password, /^[a-z2-9]{5}(-[a-z2-9]{5}){3}$/);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /New registry key/);
    assert.equal(rotated.stdout.match(/valid \d{4}-/g)?.length, 2, rotated.stdout);
    assert.equal(badOverlap.code, 2);
    assert.match(badOverlap.stderr, /--overlap-days must be from 7/);

    // start: the registry serves what the CLI made.
    const port = await freePort();
    server = spawn(process.execPath, [BIN, 'registry', 'start', '--data-dir', dataDir], {
      cwd: root,
      env: { ...process.env, CALIOPEN_REGISTRY_HTTP_PORT: String(port), CALIOPEN_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    server.stdout!.on('data', (d) => (output += d));
    server.stderr!.on('data', (d) => (output += d));
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/healthz`)).ok, 90_000, 200);
    assert.match(output, /listening on http:\/\/127\.0\.0\.1:\d+/);
    const keys = (await (await fetch(`${base}/v1/keys`)).json()) as { keys: { kid: string }[] };
    assert.equal(keys.keys.length, 2);
    const login = await fetch(`${base}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alice', password: alice.password }),
    });
    assert.equal(login.status, 200);
    const feed = await fetch(`${base}/v1/index`);
    assert.equal(feed.status, 200);
    assert.equal(feed.headers.get('x-feed-serial'), '1');
    const exited = new Promise<number | null>((resolve) => server!.on('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    server = null;
  });
});
