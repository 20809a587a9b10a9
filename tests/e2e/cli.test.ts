/**
 * The `caliopen` CLI as an operator uses it: separate processes, real files, real exit codes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, test } from 'vitest';
import { freePort, waitFor } from '../support/net.ts';
import { tempDir } from '../support/tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'cli/bin/caliopen.mjs');

function caliopen(args: string[], options: { env?: Record<string, string>; input?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    ...(options.input !== undefined ? { input: options.input } : {}),
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('caliopen CLI', () => {
  const tmp = tempDir('caliopen-cli-');
  const dataDir = join(tmp.dir, 'inst');
  let server: ChildProcess | null = null;

  afterAll(() => {
    server?.kill('SIGKILL');
    tmp.cleanup();
  });

  test('--help on the program and on subcommands', () => {
    const top = caliopen(['--help']);
    assert.equal(top.code, 0);
    for (const sub of ['instance', 'admin', 'demo']) assert.match(top.stdout, new RegExp(`\\b${sub}\\b`));
    const init = caliopen(['instance', 'init', '--help']);
    assert.equal(init.code, 0);
    assert.match(init.stdout, /--domain <domain>/);
    const add = caliopen(['admin', 'user', 'add', '--help']);
    assert.match(add.stdout, /--password-stdin/);
    const unknown = caliopen(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command/);
  });

  test('instance init: refuses a bad domain, creates keys and prints the DNS records, refuses to overwrite', () => {
    const bad = caliopen(['instance', 'init', '--domain', 'not a domain', '--data-dir', dataDir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a domain name/);
    const missing = caliopen(['instance', 'init', '--data-dir', dataDir]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--domain/);

    const ok = caliopen(['instance', 'init', '--domain', 'alpha.test', '--data-dir', dataDir, '--http-port', '0']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Instance alpha\.test created/);
    assert.match(ok.stdout, /alpha\.test\.\s+MX\s+10 alpha\.test\./);
    assert.match(
      ok.stdout,
      /_caliopen\.alpha\.test\.\s+TXT\s+"v=caliopen1; sig=ed25519:[A-Za-z0-9_-]{43}; enc=x25519:[A-Za-z0-9_-]{43}"/,
    );
    assert.match(ok.stdout, /_443\._tcp\.alpha\.test\.\s+TLSA\s+3 1 1 [0-9a-f]{64}/);
    assert.match(ok.stdout, /_dmarc\.alpha\.test\./);

    // Secrets at rest: the master key is private to its owner, private keys are sealed.
    assert.equal(statSync(join(dataDir, 'secrets/master.key')).mode & 0o777, 0o600);
    const identity = JSON.parse(readFileSync(join(dataDir, 'keys/identity.json'), 'utf8'));
    assert.equal(identity.signing.publicJwk.crv, 'Ed25519');
    assert.equal(identity.signing.publicJwk.d, undefined);
    assert.match(identity.signing.privateSealed, /^v1\./);
    assert.ok(!readFileSync(join(dataDir, 'keys/identity.json'), 'utf8').includes('PRIVATE KEY'));
    assert.match(readFileSync(join(dataDir, 'keys/tls.crt'), 'utf8'), /BEGIN CERTIFICATE/);

    const again = caliopen(['instance', 'init', '--domain', 'alpha.test', '--data-dir', dataDir]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds an instance/);

    const dns = caliopen(['instance', 'dns', '--data-dir', dataDir]);
    assert.equal(dns.code, 0, dns.stderr);
    assert.match(dns.stdout, /_25\._tcp\.alpha\.test\.\s+TLSA/);
  });

  test('admin user add | list | passwd', () => {
    const add = caliopen([
      'admin',
      'user',
      'add',
      'alice',
      '--display-name',
      'Alice Martin',
      '--quota',
      '2GiB',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /Created user alice@alpha\.test/);
    assert.match(add.stdout, /Password: [a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{5}/);

    const dup = caliopen(['admin', 'user', 'add', 'ALICE', '--data-dir', dataDir]);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /already taken/);

    const weak = caliopen(['admin', 'user', 'add', 'bob', '--password-stdin', '--data-dir', dataDir], {
      input: 'short\n',
    });
    assert.equal(weak.code, 2);
    assert.match(weak.stderr, /at least|characters/);

    const bob = caliopen(
      ['admin', 'user', 'add', 'bob', '--admin', '--password-stdin', '--json', '--data-dir', dataDir],
      { input: 'bob-long-password\n' },
    );
    assert.equal(bob.code, 0, bob.stderr);
    const created = JSON.parse(bob.stdout);
    assert.equal(created.username, 'bob');
    assert.equal(created.role, 'admin');
    assert.equal(created.password, undefined, 'a password given on stdin is never echoed');

    const badQuota = caliopen(['admin', 'user', 'add', 'carl', '--quota', 'lots', '--data-dir', dataDir]);
    assert.equal(badQuota.code, 2);
    assert.match(badQuota.stderr, /--quota must be a size/);

    const list = caliopen(['admin', 'user', 'list', '--data-dir', dataDir]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /alice\s+user\s+off\s+0 B \/ 2\.0 GiB\s+active/);
    assert.match(list.stdout, /bob\s+admin/);
    const json = caliopen(['admin', 'user', 'list', '--json', '--data-dir', dataDir])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      json.map((a) => a.username),
      ['alice', 'bob'],
    );

    const pw = caliopen(['admin', 'user', 'passwd', 'bob', '--password-stdin', '--data-dir', dataDir], {
      input: 'bob-new-password-2',
    });
    assert.equal(pw.code, 0, pw.stderr);
    const nobody = caliopen(['admin', 'user', 'passwd', 'nobody', '--data-dir', dataDir]);
    assert.equal(nobody.code, 2);
    assert.match(nobody.stderr, /No account named "nobody"/);
  });

  test('configuration errors name the key and its source', () => {
    const r = caliopen(['admin', 'user', 'list', '--data-dir', dataDir], { env: { CALIOPEN_HTTP_PORT: 'eighty' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /CALIOPEN_HTTP_PORT \(http\.port\) must be an integer/);
    const r2 = caliopen(['admin', 'user', 'list', '--data-dir', dataDir], { env: { CALIOPEN_STORAGE: 'mongodb' } });
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /"storage\.engine".*environment variable CALIOPEN_STORAGE/);
    const r3 = caliopen(['admin', 'user', 'list', '--data-dir', join(tmp.dir, 'empty')]);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /domain/);
  });

  test('instance start serves the API; SIGTERM stops it cleanly', async () => {
    const port = await freePort();
    server = spawn(process.execPath, [BIN, 'instance', 'start', '--data-dir', dataDir], {
      cwd: root,
      env: { ...process.env, CALIOPEN_HTTP_PORT: String(port), CALIOPEN_HTTPS_PORT: '0', CALIOPEN_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    server.stdout!.on('data', (d) => (out += d));
    server.stderr!.on('data', (d) => (out += d));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 30_000);
    const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'caliopen-cli/0.1.0' },
      body: JSON.stringify({ username: 'bob', password: 'bob-new-password-2' }),
    });
    assert.equal(login.status, 200);
    // What the operator did with the CLI is in the admin journal, by "the operator on the server", without a password.
    const { token } = (await login.json()) as { token: string };
    const journal = await fetch(`http://127.0.0.1:${port}/api/v1/admin/journal`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(journal.status, 200);
    const entries = (
      (await journal.json()) as { items: { action: string; actor: { kind: string }; subject: { username: string } }[] }
    ).items;
    assert.deepEqual(
      entries.map((e) => [e.action, e.subject.username, e.actor.kind]),
      [
        ['account.password_reset', 'bob', 'cli'],
        ['account.created', 'bob', 'cli'],
        ['account.created', 'alice', 'cli'],
      ],
    );
    assert.ok(!JSON.stringify(entries).includes('bob-new-password-2'));
    const exited = new Promise<number | null>((resolve) => server!.on('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, /listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(!out.includes('bob-new-password-2'), 'no password in the output');
    server = null;
  });

  test('instance start with its HTTPS port taken exits 2, naming the port and the variable that moves it', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const taken = (busy.address() as AddressInfo).port;
    try {
      const child = spawn(process.execPath, [BIN, 'instance', 'start', '--data-dir', dataDir], {
        cwd: root,
        env: {
          ...process.env,
          CALIOPEN_HTTP_PORT: '0',
          CALIOPEN_HTTPS_PORT: String(taken),
          CALIOPEN_HTTPS_HOST: '127.0.0.1',
          CALIOPEN_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      // Before, it printed EADDRINUSE and kept running without serving: now it must end by itself.
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      assert.equal(code, 2, err);
      assert.match(err, new RegExp(`port ${taken} \\(https\\.port\\) is already in use.*CALIOPEN_HTTPS_PORT=<port>`));
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });
});
