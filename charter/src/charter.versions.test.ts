import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { charterVersion, charterVersions, currentCharter } from './index.ts';
import { CHARTER_DIR } from './package.files.ts';
import { contentHashOf, loadCharterVersions, parsePublishedIndex, compareVersions } from './charter.versions.ts';
import { publishCharterVersion } from './charter.publish.ts';
import { CharterError } from './errors.ts';

const sha256File = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CharterError, `expected a CharterError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected a CharterError');
}

describe('published charter versions', () => {
  it('publishes 1.0, oldest first, and the current version is the newest', () => {
    const versions = charterVersions();
    assert.ok(versions.length >= 1);
    assert.equal(versions[0]!.version, '1.0');
    for (let i = 1; i < versions.length; i++)
      assert.ok(compareVersions(versions[i - 1]!.version, versions[i]!.version) < 0);
    assert.deepEqual(currentCharter(), versions.at(-1));
  });

  it('gives each version the SHA-256 of the exact bytes of its file, the same on every call', () => {
    for (const v of charterVersions()) {
      const fromFile = sha256File(join(CHARTER_DIR, `v${v.version}.md`));
      assert.equal(v.contentHash, fromFile);
      assert.equal(v.contentHash, contentHashOf(v.text));
      assert.equal(charterVersion(v.version)!.contentHash, fromFile);
      assert.match(v.contentHash, /^[0-9a-f]{64}$/);
      assert.ok(!Number.isNaN(Date.parse(v.publishedAt)));
    }
    // Loading again from disk gives the same hashes: nothing depends on load order or time.
    assert.deepEqual(
      loadCharterVersions().map((v) => v.contentHash),
      charterVersions().map((v) => v.contentHash),
    );
  });

  it('hashes UTF-8 bytes, not UTF-16 code units', () => {
    assert.equal(
      contentHashOf('é'),
      createHash('sha256')
        .update(Buffer.from([0xc3, 0xa9]))
        .digest('hex'),
    );
  });

  it('the 1.0 text is the charter: purpose, clauses, process, breach', () => {
    const text = charterVersion('1.0')!.text;
    for (const needle of [
      '## Purpose',
      'C1.no-resale',
      'C5.key-storage',
      'A3.consensus',
      'A6.transparency-log',
      'A7.gated-listing',
      'Part III',
    ]) {
      assert.ok(text.includes(needle), needle);
    }
    assert.ok(!text.includes('\r'));
  });

  it('returns copies that callers cannot use to alter the catalogue', () => {
    const list = charterVersions();
    list.pop();
    assert.ok(charterVersions().length >= 1);
    assert.ok(charterVersions().includes(charterVersion('1.0')!));
  });

  it('knows no other version, and does not trip on hostile lookups', () => {
    for (const v of ['9.9', '1.0.0', '1', 'v1.0', '', ' 1.0', '__proto__', 'constructor'])
      assert.equal(charterVersion(v), null, v);
    assert.equal(charterVersion(42 as unknown as string), null);
    assert.equal(charterVersion(null as unknown as string), null);
  });
});

describe('loading and publishing, on a copy of the charter folder', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'charter-'));
    cpSync(CHARTER_DIR, dir, { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a published text edited afterwards, even by one character', () => {
    const file = join(dir, 'v1.0.md');
    const original = readFileSync(file, 'utf8');
    try {
      writeFileSync(file, original.replace('no resale', 'no  resale').replace('does not sell', 'does not  sell'));
      assert.equal(
        codeOf(() => loadCharterVersions(dir)),
        'charter_text_changed',
      );
      writeFileSync(file, original.replace(/\n/g, '\r\n'));
      assert.throws(() => loadCharterVersions(dir), /CR line endings/);
      writeFileSync(file, `\uFEFF${original}`);
      assert.equal(
        codeOf(() => loadCharterVersions(dir)),
        'charter_text_changed',
      );
      writeFileSync(file, Buffer.concat([Buffer.from(original), Buffer.from([0xff, 0xfe])]));
      assert.throws(() => loadCharterVersions(dir), /not valid UTF-8/);
      rmSync(file);
      assert.equal(
        codeOf(() => loadCharterVersions(dir)),
        'charter_text_changed',
      );
    } finally {
      writeFileSync(file, original);
    }
    assert.equal(loadCharterVersions(dir)[0]!.contentHash, charterVersion('1.0')!.contentHash);
  });

  it('refuses malformed lists of versions', () => {
    const entry = { version: '1.0', publishedAt: '2026-01-01T00:00:00Z', contentHash: 'a'.repeat(64) };
    const bad: unknown[] = [
      null,
      [],
      { versions: [] },
      { versions: [entry], extra: 1 },
      { versions: [{ ...entry, version: '1' }] },
      { versions: [{ ...entry, version: '01.0' }] },
      { versions: [{ ...entry, publishedAt: 'yesterday' }] },
      { versions: [{ ...entry, contentHash: 'A'.repeat(64) }] },
      { versions: [{ ...entry, note: 'x' }] },
      { versions: [entry, entry] },
      { versions: [{ ...entry, version: '1.1' }, entry] },
      { versions: [entry, { ...entry, version: '1.1', publishedAt: '2025-01-01T00:00:00Z' }] },
    ];
    for (const doc of bad)
      assert.equal(
        codeOf(() => parsePublishedIndex(doc)),
        'charter_index_invalid',
        JSON.stringify(doc),
      );
    assert.deepEqual(
      parsePublishedIndex({ versions: [entry, { ...entry, version: '1.10' }] }).map((e) => e.version),
      ['1.0', '1.10'],
    );
  });

  it('publishes a new version with a hash computed from its text, and freezes it', () => {
    const text = '# The Caliopen Charter — version 1.1\n\nA test text.\n';
    writeFileSync(join(dir, 'v1.1.md'), text);
    // One second and a fraction after 1.0: still before the real clock, which the command below uses.
    const now = new Date(Date.parse(charterVersion('1.0')!.publishedAt) + 1789);
    const entry = publishCharterVersion({ dir, version: '1.1', now });
    const expectedAt = new Date(Date.parse(charterVersion('1.0')!.publishedAt) + 1000)
      .toISOString()
      .replace('.000Z', 'Z');
    assert.deepEqual(entry, { version: '1.1', publishedAt: expectedAt, contentHash: contentHashOf(text) });
    const loaded = loadCharterVersions(dir);
    assert.deepEqual(
      loaded.map((v) => v.version),
      ['1.0', '1.1'],
    );
    assert.equal(loaded[1]!.text, text);
    // The previous entry is untouched.
    assert.equal(loaded[0]!.contentHash, charterVersion('1.0')!.contentHash);
    assert.equal(
      codeOf(() => publishCharterVersion({ dir, version: '1.1', now })),
      'charter_publish_refused',
    );
    assert.equal(
      codeOf(() => publishCharterVersion({ dir, version: '1.0', now })),
      'charter_publish_refused',
    );
    writeFileSync(join(dir, 'v1.2.md'), 'later');
    assert.equal(
      codeOf(() => publishCharterVersion({ dir, version: '1.2', now: new Date('2020-01-01T00:00:00Z') })),
      'charter_publish_refused',
    );
    assert.equal(
      codeOf(() => publishCharterVersion({ dir, version: '1.3', now })),
      'charter_publish_refused',
    );
    assert.equal(
      codeOf(() => publishCharterVersion({ dir, version: '../x', now })),
      'charter_publish_refused',
    );
    writeFileSync(join(dir, 'v1.1.md'), `${text}edit\n`);
    assert.equal(
      codeOf(() => loadCharterVersions(dir)),
      'charter_text_changed',
    );
    writeFileSync(join(dir, 'v1.1.md'), text);
  });

  it('the publishing command explains itself and exits non-zero on refusal', () => {
    const script = fileURLToPath(new URL('./charter.publish.ts', import.meta.url));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8' });
    const help = run('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: .*charter\.publish\.ts <MAJOR\.MINOR>/);
    writeFileSync(join(dir, 'v2.0.md'), '# Charter 2.0\n');
    const ok = run('2.0', '--dir', dir);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /Published charter 2\.0 at .*sha256 [0-9a-f]{64}/);
    const again = run('2.0', '--dir', dir);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already published/);
    assert.deepEqual(
      loadCharterVersions(dir).map((v) => v.version),
      ['1.0', '1.1', '2.0'],
    );
  });
});
