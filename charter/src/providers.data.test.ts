import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CharterError, dataExploitingProviderNamed, dataExploitingProviders, isDataExploitingDomain } from './index.ts';
import { PROVIDERS_FILE, parseProviderTable } from './providers.data.ts';
import { DATA_DIR } from './package.files.ts';

type Doc = Record<string, unknown> & { providers: Record<string, unknown>[]; considered: Record<string, unknown>[] };
const raw = () => JSON.parse(readFileSync(join(DATA_DIR, PROVIDERS_FILE), 'utf8')) as Doc;

function refused(mutate: (doc: Doc) => unknown, message: RegExp): void {
  const doc = raw();
  const result = mutate(doc);
  assert.throws(
    () => parseProviderTable(result === undefined ? doc : result),
    (err: unknown) => err instanceof CharterError && err.code === 'charter_data_invalid' && message.test(err.message),
  );
}

const id = (domain: string) => isDataExploitingDomain(domain)?.id ?? null;

describe('the data-exploiting providers table', () => {
  it('validates, is versioned, and lists the providers the association classified, each with a source', () => {
    const table = dataExploitingProviders();
    assert.match(table.version, /^\d{4}\.\d+$/);
    assert.deepEqual(table.providers.map((p) => p.id).sort(), [
      'google',
      'microsoft',
      'united-internet',
      'vk-mail-ru',
      'yahoo',
      'yandex',
    ]);
    for (const p of table.providers) {
      assert.match(p.source, /^https:\/\//, p.id);
      assert.ok(p.rationale.length > 50, p.id);
      assert.ok(p.domains.length > 0, p.id);
    }
    const considered = raw().considered.map((c) => c.name);
    assert.ok(considered.includes('Zoho Mail'), 'the decision on Zoho is recorded');
  });

  it('recognises mail domains and MX hosts, subdomains included, whatever the case or trailing dot', () => {
    const cases: [string, string][] = [
      ['gmail.com', 'google'],
      ['mail.gmail.com', 'google'],
      ['GMAIL.COM.', 'google'],
      ['googlemail.com', 'google'],
      ['alt1.gmail-smtp-in.l.google.com', 'google'],
      ['aspmx.l.google.com', 'google'],
      ['hotmail.fr', 'microsoft'],
      ['hotmail-com.olc.protection.outlook.com', 'microsoft'],
      ['example-org.mail.protection.outlook.com', 'microsoft'],
      ['yahoo.co.uk', 'yahoo'],
      ['aol.com', 'yahoo'],
      ['mta5.am0.yahoodns.net', 'yahoo'],
      ['ya.ru', 'yandex'],
      ['mx.yandex.net', 'yandex'],
      ['bk.ru', 'vk-mail-ru'],
      ['mxs.mail.ru', 'vk-mail-ru'],
      ['web.de', 'united-internet'],
      ['mx00.emig.gmx.net', 'united-internet'],
      ['mail.com', 'united-internet'],
    ];
    for (const [domain, provider] of cases) assert.equal(id(domain), provider, domain);
  });

  it('matches whole labels only: no false positives on look-alikes', () => {
    for (const domain of [
      'notgmail.com',
      'gmail.com.evil.example',
      'gmail.co',
      'mygmail.com',
      'google.com.example.org',
      'outlook.example.org',
      'hotmail.org',
      'myaol.com',
      'gmx.org',
      'email.com',
      'yahoo.co.jp',
      'zoho.com',
      'protonmail.com',
      'example.org',
      'com',
      'gmail',
    ]) {
      assert.equal(isDataExploitingDomain(domain), null, domain);
    }
  });

  it('finds nothing in what is not a domain name, and does not trip on hostile input', () => {
    for (const input of [
      '',
      '.',
      'user@gmail.com',
      'gmail..com',
      'gmail.com/',
      'http://gmail.com',
      'gm ail.com',
      '-gmail.com',
      `${'a'.repeat(300)}.gmail.com`,
      `${'a.'.repeat(200)}gmail.com`,
    ]) {
      assert.equal(isDataExploitingDomain(input), null, input.slice(0, 40));
    }
    for (const input of [null, undefined, 42, {}, ['gmail.com']])
      assert.equal(isDataExploitingDomain(input as unknown as string), null);
    assert.equal(isDataExploitingDomain('x'.repeat(1_000_000)), null);
  });

  it('recognises a provider in a free-text service name, by domain or brand word, and nothing else', () => {
    assert.equal(dataExploitingProviderNamed('Google Workspace')?.id, 'google');
    assert.equal(dataExploitingProviderNamed("Microsoft's Exchange Online Protection")?.id, 'microsoft');
    assert.equal(dataExploitingProviderNamed('filters at mx.yandex.net')?.id, 'yandex');
    assert.equal(dataExploitingProviderNamed('GMX Spamfilter')?.id, 'united-internet');
    for (const name of ['SpamExperts', 'Googleplex Filters', 'rspamd', 'Hornetsecurity', 'notgmail.com', ''])
      assert.equal(dataExploitingProviderNamed(name), null, name);
  });

  it('hands out copies', () => {
    isDataExploitingDomain('gmail.com')!.domains.push('example.org');
    dataExploitingProviders().providers[0]!.domains.length = 0;
    assert.equal(isDataExploitingDomain('example.org'), null);
    assert.ok(isDataExploitingDomain('gmail.com')!.domains.includes('gmail.com'));
  });

  it('refuses malformed tables', () => {
    refused(() => [], /not an object/);
    refused((d) => void (d.providers = []), /non-empty/);
    refused((d) => void (d.providers[0]!.id = 'Google'), /slug/);
    refused((d) => void (d.providers[1]!.id = 'google'), /used twice/);
    refused((d) => void (d.providers[0]!.domains = ['com']), /at least two labels/);
    refused((d) => void (d.providers[0]!.domains = ['Gmail.com']), /lowercase/);
    refused((d) => void (d.providers[0]!.domains = ['gmail.com.']), /lowercase/);
    refused((d) => void (d.providers[0]!.domains = ['gmail.com', 'gmail.com']), /twice/);
    refused((d) => void (d.providers[1]!.domains = ['gmail.com']), /for google too/);
    refused((d) => void (d.providers[1]!.domains = ['mx.google.com']), /lies under google\.com/);
    refused((d) => void (d.providers[0]!.source = 'http://policies.google.com/privacy'), /https/);
    refused((d) => void (d.providers[0]!.source = ''), /source/);
    refused((d) => void delete d.providers[0]!.rationale, /rationale/);
    refused((d) => void (d.providers[0]!.notes = 'x'), /unknown field/);
    refused((d) => void (d.providers[0]!.keywords = ['Google']), /brand word/);
    refused((d) => void (d.considered[0]!.decision = 'listed'), /not listed/);
  });
});
