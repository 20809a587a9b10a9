import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Value } from 'typebox/value';
import type { TSchema } from 'typebox';
import { DeclarationSchema, MAX_REPORTED_ERRORS, parseDeclaration } from './index.ts';
import type { Declaration, DeclarationError } from './index.ts';
import { aDeclaration } from './testing/declarations.fixture.ts';

type Json = Record<string, unknown>;

/** A valid declaration as JSON data, with one change at a dotted path (undefined deletes it). */
function withChange(path: string, value: unknown): Json {
  const doc = JSON.parse(JSON.stringify(aDeclaration())) as Json;
  const keys = path.split('.');
  let node = doc;
  for (const k of keys.slice(0, -1)) node = node[k] as Json;
  if (value === undefined) delete node[keys.at(-1)!];
  else node[keys.at(-1)!] = value;
  return doc;
}

function errorsOf(input: unknown): DeclarationError[] {
  const result = parseDeclaration(input);
  assert.equal(result.ok, false, 'expected a refusal');
  return result.ok ? [] : result.errors;
}

/** Asserts the input is refused with an error at exactly `path`, whose message matches. */
function refusedAt(input: unknown, path: string, message?: RegExp): void {
  const errors = errorsOf(input);
  const hit = errors.find((e) => e.path === path);
  assert.ok(hit, `expected an error at ${JSON.stringify(path)}, got ${JSON.stringify(errors)}`);
  if (message) assert.match(hit.message, message);
}

describe('parseDeclaration accepts valid declarations', () => {
  it('accepts the full declaration and returns a fresh copy of it', () => {
    const input = aDeclaration({ hostingProvider: 'Hetzner Online GmbH' });
    const result = parseDeclaration(input);
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.value, input);
    assert.notEqual(result.value, input);
    assert.notEqual(result.value.retention, input.retention);
    assert.notEqual(result.value.keyStorageOptions, input.keyStorageOptions);
  });

  it('accepts the minimal forms: no hosting provider, messages kept for a number of days, zero-day logs', () => {
    const input = aDeclaration({
      retention: { messagesDays: 365, logsDays: 0, backupsDays: 0, deletedAccountDays: 0 },
      logging: { ipAddresses: true, messageMetadata: true, retentionDays: 0 },
      keyStorageOptions: ['server'],
      spamHandling: { contentScanning: 'third-party', thirdParty: 'SpamExperts' },
      incidentDisclosureDays: 0,
    });
    const result = parseDeclaration(input);
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal('hostingProvider' in result.value, false);
  });

  it('accepts what a signed JSON document carries: the same declaration parsed from text', () => {
    const result = parseDeclaration(JSON.parse(JSON.stringify(aDeclaration())));
    assert.ok(result.ok);
  });

  it('accepts internationalised domains as A-labels and long but legal names', () => {
    for (const domain of [
      'xn--bcher-kva.example',
      'a.b.c.d.example',
      `${'a'.repeat(63)}.example`,
      'mail-1.example-2.org',
    ]) {
      assert.ok(parseDeclaration(withChange('domain', domain)).ok, domain);
    }
  });

  it('the exported schema is plain JSON Schema that accepts the same declarations', () => {
    const schema = JSON.parse(JSON.stringify(DeclarationSchema)) as TSchema;
    assert.equal(Value.Check(schema, aDeclaration()), true);
    assert.equal(Value.Check(DeclarationSchema, withChange('unknown', 1)), false);
  });

  it('refuses unknown fields at every object level of the schema', () => {
    const walk = (node: unknown, at: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Json;
      if (n.type === 'object') assert.equal(n.additionalProperties, false, `${at} allows unknown fields`);
      for (const [k, v] of Object.entries(n)) walk(v, `${at}/${k}`);
    };
    walk(JSON.parse(JSON.stringify(DeclarationSchema)), '#');
  });

  it('bounds every string and number of the schema', () => {
    const walk = (node: unknown, at: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Json;
      if (n.type === 'string' && !('enum' in n))
        assert.equal(typeof n.maxLength, 'number', `${at} is an unbounded string`);
      if (n.type === 'integer' || n.type === 'number') {
        assert.equal(typeof n.minimum, 'number', `${at} has no minimum`);
        assert.equal(typeof n.maximum, 'number', `${at} has no maximum`);
      }
      for (const [k, v] of Object.entries(n)) walk(v, `${at}/${k}`);
    };
    walk(JSON.parse(JSON.stringify(DeclarationSchema)), '#');
  });
});

describe('parseDeclaration refuses hostile and broken declarations, saying where', () => {
  it('refuses what is not an object', () => {
    for (const input of [null, undefined, 'declaration', 42, true, [], [aDeclaration()], () => 1, Symbol('x')]) {
      const errors = errorsOf(input);
      assert.deepEqual(
        errors.map((e) => e.path),
        [''],
      );
    }
  });

  it('refuses values JSON cannot carry without throwing', () => {
    const cyclic: Json = { ...aDeclaration() };
    cyclic.self = cyclic;
    refusedAt(cyclic, '', /not JSON data/);
    refusedAt({ ...aDeclaration(), incidentDisclosureDays: 10n }, '', /not JSON data/);
    const throwing = { ...aDeclaration() };
    Object.defineProperty(throwing, 'domain', {
      enumerable: true,
      get: () => {
        throw new Error('boom');
      },
    });
    refusedAt(throwing, '', /not JSON data/);
    const proxy = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('trap');
        },
      },
    );
    refusedAt(proxy, '', /not JSON data/);
    let deep: Json = {};
    const root = deep;
    for (let i = 0; i < 20000; i++) deep = deep.x = {};
    assert.ok(errorsOf(root).length > 0, 'a very deep input is refused (too deep for JSON, or for its shape)');
  });

  it('reports each missing field by its path', () => {
    const errors = errorsOf({});
    const paths = errors.map((e) => e.path);
    for (const field of [
      '/charterVersion',
      '/domain',
      '/jurisdiction',
      '/retention',
      '/logging',
      '/keyStorageOptions',
      '/noResaleOfUserData',
      '/noProfilingOrAds',
      '/spamHandling',
      '/adminContact',
      '/incidentDisclosureDays',
      '/doesEmail',
    ]) {
      assert.ok(paths.includes(field), field);
    }
    assert.ok(!paths.includes('/hostingProvider'));
    refusedAt(withChange('retention.logsDays', undefined), '/retention/logsDays', /required/);
    refusedAt(withChange('adminContact.email', undefined), '/adminContact/email', /required/);
  });

  it('refuses unknown fields, at the root and nested, including __proto__ and constructor', () => {
    refusedAt(withChange('sellsData', false), '/sellsData', /not a field/);
    refusedAt(withChange('retention.forever', true), '/retention/forever', /not a field/);
    refusedAt(withChange('spamHandling.vendor', 'x'), '/spamHandling/vendor', /not a field/);
    refusedAt(
      JSON.parse(`{${JSON.stringify(aDeclaration()).slice(1, -1)},"__proto__":{"isAdmin":true}}`),
      '/__proto__',
      /not a field/,
    );
    refusedAt(
      JSON.parse(`{${JSON.stringify(aDeclaration()).slice(1, -1)},"constructor":{}}`),
      '/constructor',
      /not a field/,
    );
    refusedAt(withChange('a/b~c', 1), '/a~1b~0c');
    const long = errorsOf(withChange('k'.repeat(100_000), 1));
    assert.ok(
      long.every((e) => e.path.length < 100),
      'an unknown key is not echoed whole',
    );
  });

  it('refuses wrong types with the expected type in words', () => {
    refusedAt(withChange('noResaleOfUserData', 'true'), '/noResaleOfUserData', /true or false/);
    refusedAt(withChange('noProfilingOrAds', 1), '/noProfilingOrAds', /true or false/);
    refusedAt(withChange('doesEmail', null), '/doesEmail', /true or false/);
    refusedAt(withChange('incidentDisclosureDays', '3'), '/incidentDisclosureDays', /whole number/);
    refusedAt(withChange('retention.logsDays', 7.5), '/retention/logsDays', /whole number/);
    refusedAt(withChange('retention', [7, 30]), '/retention', /an object/);
    refusedAt(withChange('keyStorageOptions', 'client'), '/keyStorageOptions', /a list/);
    refusedAt(withChange('adminContact', 'admin@example.org'), '/adminContact', /an object/);
    refusedAt(withChange('domain', 42), '/domain', /a string/);
  });

  it('refuses absurd numbers', () => {
    refusedAt(withChange('retention.logsDays', -1), '/retention/logsDays', /at least 0/);
    refusedAt(withChange('retention.backupsDays', 1e9), '/retention/backupsDays', /at most 3650/);
    refusedAt(withChange('retention.deletedAccountDays', 3651), '/retention/deletedAccountDays', /at most 3650/);
    refusedAt(withChange('logging.retentionDays', -0.5), '/logging/retentionDays');
    refusedAt(withChange('incidentDisclosureDays', 366), '/incidentDisclosureDays', /at most 365/);
    refusedAt(withChange('incidentDisclosureDays', Number.MAX_SAFE_INTEGER + 2), '/incidentDisclosureDays');
    refusedAt(
      withChange('retention.messagesDays', 0),
      '/retention/messagesDays',
      /null .* or a whole number of days from 1 to 3650/,
    );
    refusedAt(withChange('retention.messagesDays', 'forever'), '/retention/messagesDays', /null/);
    // NaN and Infinity become null in JSON, which a day count is not.
    refusedAt(withChange('retention.logsDays', Number.NaN), '/retention/logsDays', /whole number/);
    refusedAt({ ...aDeclaration(), incidentDisclosureDays: Number.POSITIVE_INFINITY }, '/incidentDisclosureDays');
  });

  it('refuses unknown, misspelt and non-country jurisdictions, with a hint where one helps', () => {
    refusedAt(withChange('jurisdiction', 'XX'), '/jurisdiction', /"XX" is not an ISO 3166-1 alpha-2 code/);
    refusedAt(withChange('jurisdiction', 'UK'), '/jurisdiction', /"GB"/);
    refusedAt(withChange('jurisdiction', 'EL'), '/jurisdiction', /"GR"/);
    refusedAt(withChange('jurisdiction', 'EU'), '/jurisdiction', /not a country/);
    refusedAt(withChange('jurisdiction', 'fr'), '/jurisdiction', /written "FR"/);
    refusedAt(withChange('jurisdiction', 'FRA'), '/jurisdiction');
    refusedAt(withChange('jurisdiction', ''), '/jurisdiction');
    refusedAt(withChange('jurisdiction', 'F'.repeat(10_000)), '/jurisdiction');
    assert.ok(errorsOf(withChange('jurisdiction', 'F'.repeat(10_000)))[0]!.message.length < 200);
    assert.ok(parseDeclaration(withChange('jurisdiction', 'MX')).ok, 'every ISO code is accepted, assessed or not');
  });

  it('refuses charter versions that were never published', () => {
    for (const v of ['9.9', '1.0.0', '1', '2.0', '', 'latest', '__proto__']) {
      refusedAt(withChange('charterVersion', v), '/charterVersion', /published charter version \(1\.0/);
    }
    refusedAt(withChange('charterVersion', 1.0), '/charterVersion');
  });

  it('refuses domains that are not canonical DNS names', () => {
    for (const domain of [
      'Mail.Example.org',
      'mail.example.org.',
      'localhost',
      '192.0.2.1',
      '-mail.example.org',
      'mail-.example.org',
      'mail..example.org',
      'mail.example.org:443',
      'https://mail.example.org',
      'mail example.org',
      'mail.exämple.org',
      `${'a'.repeat(64)}.example`,
      `${'a.'.repeat(127)}org`,
      '',
      '.',
    ]) {
      refusedAt(withChange('domain', domain), '/domain', /lowercase|at most 253|must not be empty|at least/);
    }
  });

  it('refuses oversize, multi-line and disguised text', () => {
    refusedAt(withChange('adminContact.name', 'x'.repeat(201)), '/adminContact/name', /at most 200 characters/);
    refusedAt(withChange('hostingProvider', 'x'.repeat(1_000_000)), '/hostingProvider', /at most 200 characters/);
    refusedAt(withChange('adminContact.name', ''), '/adminContact/name', /empty/);
    refusedAt(withChange('adminContact.name', 'Admin\nInjected: yes'), '/adminContact/name', /one line/);
    refusedAt(withChange('adminContact.name', ' Admin'), '/adminContact/name', /leading or trailing/);
    refusedAt(withChange('adminContact.name', 'Admin\u0000'), '/adminContact/name');
    refusedAt(withChange('adminContact.name', 'Admin \u202Egro.elpmaxe'), '/adminContact/name');
    refusedAt(
      withChange('spamHandling', { contentScanning: 'third-party', thirdParty: 'Filter\r\nCorp' }),
      '/spamHandling/thirdParty',
    );
    assert.ok(
      parseDeclaration(withChange('adminContact.name', 'Équipe d’administration — Coop’Mail')).ok,
      'accented text is fine',
    );
  });

  it('refuses addresses that are not email addresses', () => {
    for (const email of [
      'admin',
      'admin@',
      '@example.org',
      'admin@example',
      'admin@@example.org',
      'ad min@example.org',
      'admin@example.org\n',
      `${'a'.repeat(65)}@example.org`,
      `a@${'b'.repeat(250)}.org`,
      'admin@192.0.2.1',
    ]) {
      refusedAt(withChange('adminContact.email', email), '/adminContact/email');
    }
    assert.ok(parseDeclaration(withChange('adminContact.email', 'First.Last+caliopen@Mail.Example.ORG')).ok);
  });

  it('refuses key storage lists that are empty, repeated or unknown', () => {
    refusedAt(withChange('keyStorageOptions', []), '/keyStorageOptions', /at least 1/);
    refusedAt(withChange('keyStorageOptions', ['client', 'client']), '/keyStorageOptions', /twice/);
    refusedAt(withChange('keyStorageOptions', ['client', 'server', 'client']), '/keyStorageOptions', /at most 2/);
    refusedAt(withChange('keyStorageOptions', ['hsm']), '/keyStorageOptions/0', /"client", "server"/);
    refusedAt(withChange('keyStorageOptions', ['client', 7]), '/keyStorageOptions/1');
  });

  it('refuses incoherent spam handling and log retention', () => {
    refusedAt(
      withChange('spamHandling', { contentScanning: 'third-party' }),
      '/spamHandling/thirdParty',
      /required when contentScanning is "third-party"/,
    );
    refusedAt(
      withChange('spamHandling', { contentScanning: 'local', thirdParty: 'X' }),
      '/spamHandling/thirdParty',
      /absent/,
    );
    refusedAt(
      withChange('spamHandling', { contentScanning: 'cloud' }),
      '/spamHandling/contentScanning',
      /"none", "local" or "third-party"/,
    );
    refusedAt(
      withChange('logging', { ipAddresses: true, messageMetadata: false, retentionDays: 30 }),
      '/logging/retentionDays',
      /must not exceed retention\.logsDays \(7\)/,
    );
  });

  it('reports many problems at once, each at its own path, and caps the list', () => {
    const errors = errorsOf({
      ...aDeclaration(),
      domain: 'X',
      jurisdiction: 'XX',
      incidentDisclosureDays: -1,
      doesEmail: 'yes',
      retention: { messagesDays: 0, logsDays: -1, backupsDays: 'x', deletedAccountDays: 1e6 },
    });
    const paths = errors.map((e) => e.path);
    for (const p of [
      '/domain',
      '/jurisdiction',
      '/incidentDisclosureDays',
      '/doesEmail',
      '/retention/messagesDays',
      '/retention/logsDays',
      '/retention/backupsDays',
      '/retention/deletedAccountDays',
    ]) {
      assert.ok(paths.includes(p), p);
    }
    const flood: Json = {};
    for (let i = 0; i < 1000; i++) flood[`f${i}`] = i;
    const capped = errorsOf(flood);
    assert.equal(capped.length, MAX_REPORTED_ERRORS + 1);
    assert.match(capped.at(-1)!.message, /more problem/);
  });

  it('returns only the declared fields, never what the input smuggled in', () => {
    const input = aDeclaration() as Declaration & { toJSON?: unknown };
    const result = parseDeclaration(input);
    assert.ok(result.ok);
    assert.deepEqual(Object.keys(result.value).sort(), Object.keys(aDeclaration()).sort());
    assert.equal(Object.getPrototypeOf(result.value), Object.prototype);
  });
});
