/**
 * Issue #18 item 4: upgrades. A data directory written by the released code (commit 4ec1c98, the fixture made by
 * fixtures/upgrade/make-fixture.ts) is checked with `caliopen instance migrate --check` (what would change, nothing
 * applied, the exit code says whether anything is pending), migrated with `caliopen instance migrate`, then served by
 * the current code: accounts, discussions, messages, attachments and search read through the API. And the migration
 * runner stopped at an earlier version gives --check something to list.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, describe, test } from 'vitest';
import { INSTANCE_DATABASES } from '@caliopen/instance/app/instance.migrate.ts';
import { startInstance } from '@caliopen/instance/app/instance.app.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { loadConfig } from '@caliopen/instance/config/config.loader.ts';
import { migrateSqlite, openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { SQLITE_MIGRATIONS } from '@caliopen/instance/storage/sqlite.migrations.ts';
import { jsonApi } from '../support/api-client.ts';
import { caliopen } from '../support/process.ts';
import { tempDir } from '../support/tmp.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'upgrade', 'instance-4ec1c98.tar.gz');

function versionOf(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

/** What the current code would apply to each database of a data directory, from the files' own versions. */
function expectedPending(dataDir: string): { file: string; version: number; name: string }[] {
  const present = new Set(readdirSync(dataDir));
  return INSTANCE_DATABASES.filter((d) => present.has(d.file)).flatMap((d) => {
    const at = versionOf(join(dataDir, d.file));
    return d.migrations
      .filter((m) => m.version > at)
      .sort((a, b) => a.version - b.version)
      .map((m) => ({ file: d.file, version: m.version, name: m.name }));
  });
}

describe('an instance made by the previous release', () => {
  const tmp = tempDir('caliopen-upgrade-');
  const dataDir = join(tmp.dir, 'data');
  afterAll(() => tmp.cleanup());

  test('migrate --check lists what would change and applies nothing; migrate applies it; the current code serves everything', async () => {
    execFileSync('tar', ['-xzf', FIXTURE, '-C', tmp.dir]);
    const present = new Set(readdirSync(dataDir));
    const versionsBefore = Object.fromEntries(
      INSTANCE_DATABASES.filter((d) => present.has(d.file)).map((d) => [d.file, versionOf(join(dataDir, d.file))]),
    );
    assert.ok(Object.keys(versionsBefore).length >= 4, 'the release left its databases');
    // The release kept the users' notices in a file of their own; the current code moves them into the instance
    // storage at its first start (issue 15), so `migrate` does not list that file.
    assert.ok(present.has('notices.db'), 'the release kept its notices apart');
    const pending = expectedPending(dataDir);

    const check = caliopen(['instance', 'migrate', '--check', '--data-dir', dataDir]);
    assert.equal(check.code, pending.length > 0 ? 3 : 0, check.stdout + check.stderr);
    for (const m of pending) assert.match(check.stdout, new RegExp(`^\\s+${m.version}  ${escapeRe(m.name)}$`, 'm'));
    if (pending.length === 0) assert.match(check.stdout, /Nothing to migrate\./);
    assert.match(check.stdout, /^instance\.db\s+version \d+/m);
    for (const [file, version] of Object.entries(versionsBefore))
      assert.equal(versionOf(join(dataDir, file)), version, `--check left ${file} as it was`);

    const migrate = caliopen(['instance', 'migrate', '--data-dir', dataDir]);
    assert.equal(migrate.code, 0, migrate.stderr);
    const again = caliopen(['instance', 'migrate', '--check', '--data-dir', dataDir]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /Nothing to migrate\./);
    assert.deepEqual(expectedPending(dataDir), []);

    // The current code on the migrated directory: what the release stored is all there.
    const config = loadConfig({
      dataDir,
      env: { CALIOPEN_HTTP_PORT: '0', CALIOPEN_HTTPS_ENABLED: 'false' },
      overrides: { log: { level: 'silent' } },
    });
    const running = await startInstance(config, { logger: pino({ level: 'silent' }) });
    try {
      const api = jsonApi(running.url);
      const login = async (username: string, password: string) => {
        const r = await api('POST', '/api/v1/auth/login', {
          body: { username, password },
          headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' },
        });
        assert.equal(r.status, 200, r.text);
        return r.body.token as string;
      };
      const ursula = await login('ursula', 'fixture-ursula-password-0123');
      const discussions = await api('GET', '/api/v1/discussions?limit=50', { token: ursula });
      assert.equal(discussions.status, 200);
      // Same two participants: one discussion (grouped by who takes part) holding both messages.
      assert.equal(discussions.body.items.length, 1);
      const messages = [];
      for (const d of discussions.body.items)
        messages.push(...(await api('GET', `/api/v1/discussions/${d.id}/messages`, { token: ursula })).body.items);
      assert.deepEqual(messages.map((m: { subject: string }) => m.subject).sort(), [
        'Tea on Thursday?',
        'The harbour plans',
      ]);
      const plans = messages.find((m: { subject: string }) => m.subject === 'The harbour plans');
      const full = await api('GET', `/api/v1/messages/${plans.id}`, { token: ursula });
      assert.equal(full.status, 200);
      assert.equal(full.body.attachments[0].filename, 'plans.txt');
      const attachment = await api('GET', `/api/v1/messages/${plans.id}/attachments/0`, { token: ursula });
      assert.equal(attachment.status, 200);
      assert.equal(attachment.text, 'quay 1: 120 m; quay 2: 80 m');
      const found = await api('GET', `/api/v1/search?q=${encodeURIComponent('lighthouse')}`, { token: ursula });
      assert.equal(found.status, 200);
      assert.deepEqual(
        found.body.items.map((i: { message: { subject: string } }) => i.message.subject),
        ['Tea on Thursday?'],
      );
      const root = await login('root', 'fixture-root-password-0123');
      const users = await api('GET', '/api/v1/admin/users', { token: root });
      assert.equal(users.status, 200);
      assert.deepEqual(users.body.items.map((u: { username: string }) => u.username).sort(), ['root', 'ursula']);
      // The release's notices file was moved into the instance storage at this first start.
      assert.equal(existsSync(join(dataDir, 'notices.db')), false);
      assert.equal(existsSync(join(dataDir, 'notices.db.imported')), true);
      assert.equal((await api('GET', '/api/v1/notices', { token: ursula })).status, 200);
    } finally {
      await running.stop();
    }
  }, 180_000);
});

test('migrate --check on a schema stopped at an earlier version lists the rest; a newer schema is refused', async () => {
  const { dir, cleanup } = tempDir('caliopen-upgrade-check-');
  try {
    await initInstance({ domain: 'older.test', dataDir: dir, httpPort: '0' }, () => {});
    // The instance database as a release two migrations back left it (the runner stops at a version).
    const latest = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));
    const older = join(dir, 'older.db');
    const db = openSqlite(older);
    migrateSqlite(db, SQLITE_MIGRATIONS, 'instance', { upTo: latest - 2 });
    assert.equal(db.pragma('user_version', { simple: true }), latest - 2);
    db.close();
    copyFileSync(older, join(dir, 'instance.db'));

    const check = caliopen(['instance', 'migrate', '--check', '--data-dir', dir]);
    assert.equal(check.code, 3, check.stdout + check.stderr);
    const rest = SQLITE_MIGRATIONS.filter((m) => m.version > latest - 2);
    assert.equal(rest.length, 2);
    for (const m of rest) assert.match(check.stdout, new RegExp(`^\\s+${m.version}  ${escapeRe(m.name)}$`, 'm'));
    assert.match(check.stdout, new RegExp(`^instance\\.db\\s+version ${latest - 2} -> ${latest}: 2 pending$`, 'm'));
    assert.match(check.stderr, /2 migration\(s\) pending/);
    assert.equal(versionOf(join(dir, 'instance.db')), latest - 2, 'nothing applied');

    assert.equal(caliopen(['instance', 'migrate', '--data-dir', dir]).code, 0);
    assert.equal(versionOf(join(dir, 'instance.db')), latest);

    // A database newer than this code (a downgrade) is refused, by both.
    const newer = new Database(join(dir, 'instance.db'));
    newer.pragma(`user_version = ${latest + 1}`);
    newer.close();
    for (const args of [['--check'], []]) {
      const r = caliopen(['instance', 'migrate', ...args, '--data-dir', dir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /newer than this code/);
    }
    // No instance there: a configuration error.
    const none = caliopen(['instance', 'migrate', '--check', '--data-dir', join(dir, 'nowhere')]);
    assert.equal(none.code, 2, none.stderr);
  } finally {
    cleanup();
  }
}, 120_000);

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
