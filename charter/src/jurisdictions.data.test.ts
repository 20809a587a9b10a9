import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CharterError,
  JURISDICTION_CODES,
  isAssessedJurisdiction,
  jurisdiction,
  jurisdictionDefault,
  jurisdictions,
} from './index.ts';
import { JURISDICTIONS_FILE, parseJurisdictionTable } from './jurisdictions.data.ts';
import { DATA_DIR } from './package.files.ts';

const EU = [
  'AT',
  'BE',
  'BG',
  'HR',
  'CY',
  'CZ',
  'DK',
  'EE',
  'FI',
  'FR',
  'DE',
  'GR',
  'HU',
  'IE',
  'IT',
  'LV',
  'LT',
  'LU',
  'MT',
  'NL',
  'PL',
  'PT',
  'RO',
  'SK',
  'SI',
  'ES',
  'SE',
];
const EEA = ['NO', 'IS', 'LI'];
const OTHERS = ['CH', 'GB', 'US', 'CA', 'AU', 'NZ', 'JP', 'KR', 'IN', 'BR', 'RU', 'CN'];

const raw = () =>
  JSON.parse(readFileSync(join(DATA_DIR, JURISDICTIONS_FILE), 'utf8')) as Record<string, unknown> & {
    assessed: Record<string, unknown>[];
    territories: Record<string, unknown>[];
    countries: Record<string, string>;
  };

function refused(mutate: (doc: ReturnType<typeof raw>) => unknown, message: RegExp): void {
  const doc = raw();
  const result = mutate(doc);
  assert.throws(
    () => parseJurisdictionTable(result === undefined ? doc : result),
    (err: unknown) => err instanceof CharterError && err.code === 'charter_data_invalid' && message.test(err.message),
  );
}

describe('the jurisdiction table', () => {
  it('validates, is versioned, and covers all 249 ISO 3166-1 alpha-2 codes', () => {
    const table = jurisdictions();
    assert.match(table.version, /^\d{4}\.\d+$/);
    assert.equal(table.entries.length, 249);
    assert.equal(JURISDICTION_CODES.length, 249);
    assert.deepEqual(
      table.entries.map((e) => e.code),
      [...JURISDICTION_CODES],
    );
    for (const e of table.entries) {
      assert.match(e.code, /^[A-Z]{2}$/);
      assert.ok(Number.isInteger(e.score) && e.score >= 0 && e.score <= 100, e.code);
      assert.ok(e.name.length > 0 && e.rationale.length >= 20, e.code);
    }
  });

  it('assesses every EU and EEA member and the other countries the association must cover', () => {
    for (const code of [...EU, ...EEA, ...OTHERS]) {
      assert.ok(isAssessedJurisdiction(code), `${code} is assessed`);
      const j = jurisdiction(code)!;
      assert.notEqual(j.rationale, jurisdictionDefault().rationale, code);
      assert.match(j.rationale, /\b(19|20)\d\d\b/, `${code}: the rationale cites dated laws or rulings`);
    }
    for (const code of [...EU, ...EEA]) assert.match(jurisdiction(code)!.rationale, /GDPR/, code);
  });

  it('scores cite the legal facts they rest on', () => {
    assert.match(jurisdiction('US')!.rationale, /FISA Section 702/);
    assert.match(jurisdiction('US')!.rationale, /CLOUD Act/);
    assert.match(jurisdiction('GB')!.rationale, /Investigatory Powers Act 2016/);
    assert.match(jurisdiction('AU')!.rationale, /Data Retention/);
    assert.match(jurisdiction('RU')!.rationale, /Yarovaya/);
    assert.match(jurisdiction('CN')!.rationale, /National Intelligence Law/);
    // The ordering the sources imply: strong protection above mass-surveillance states.
    assert.ok(jurisdiction('DE')!.score > jurisdiction('GB')!.score);
    assert.ok(jurisdiction('GB')!.score > jurisdiction('RU')!.score);
    assert.ok(jurisdiction('CH')!.score > jurisdiction('US')!.score);
    assert.ok(jurisdiction('CN')!.score < 10 && jurisdiction('RU')!.score < 10);
  });

  it('gives territories the assessment of the country whose law applies, and others the default', () => {
    for (const [territory, state] of [
      ['RE', 'FR'],
      ['GF', 'FR'],
      ['AX', 'FI'],
      ['PR', 'US'],
    ] as const) {
      assert.equal(jurisdiction(territory)!.score, jurisdiction(state)!.score);
      assert.ok(jurisdiction(territory)!.rationale.includes(jurisdiction(state)!.rationale));
      assert.ok(isAssessedJurisdiction(territory));
    }
    const mx = jurisdiction('MX')!;
    assert.deepEqual({ score: mx.score, rationale: mx.rationale }, jurisdictionDefault());
    assert.equal(mx.name, 'Mexico');
    assert.equal(isAssessedJurisdiction('MX'), false);
    assert.match(jurisdictionDefault().rationale, /not yet assessed/i);
  });

  it('looks codes up exactly, and hostile lookups find nothing', () => {
    for (const code of ['fr', 'Fr', 'FRA', 'XX', 'UK', '', ' FR', '__proto__', 'constructor', 'toString'])
      assert.equal(jurisdiction(code), null, code);
    assert.equal(jurisdiction(undefined as unknown as string), null);
    assert.equal(isAssessedJurisdiction('__proto__'), false);
  });

  it('hands out copies', () => {
    jurisdiction('FR')!.score = 100;
    jurisdictions().entries[0]!.score = 100;
    assert.equal(jurisdiction('FR')!.score, 50);
    assert.notEqual(jurisdictions().entries[0]!.score, 100);
  });

  it('refuses malformed tables', () => {
    refused(() => null, /not an object/);
    refused((d) => void (d.version = '1'), /version/);
    refused((d) => void (d.extra = 1), /unknown field/);
    refused((d) => void (d.assessed[0]!.score = 101), /assessed\[0\]\.score/);
    refused((d) => void (d.assessed[0]!.score = 50.5), /score/);
    refused((d) => void (d.assessed[0]!.code = 'XX'), /not in countries/);
    refused((d) => void d.assessed.push({ ...d.assessed[0]! }), /assessed twice/);
    refused((d) => void (d.assessed[0]!.rationale = 'short'), /rationale/);
    refused((d) => void (d.assessed[0]!.rationale = `${'x'.repeat(40)}\u0000`), /rationale/);
    refused((d) => void (d.assessed[0]!.source = 'x'), /unknown field/);
    refused((d) => void (d.territories[0]!.lawOf = 'MX'), /lawOf/);
    refused((d) => void (d.territories[0]!.lawOf = 'AX'), /lawOf/);
    refused((d) => void (d.territories[0]!.code = 'FR'), /has an entry already/);
    refused((d) => void delete d.countries.ZW, /249/);
    refused((d) => void (d.countries.fr = 'France'), /not an ISO 3166-1 alpha-2 code/);
    refused((d) => void (d.default = { score: -1, rationale: 'x'.repeat(30) }), /default\.score/);
  });
});
