import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import type { SearchDocument, SearchIndex, SearchQuery, SearchResult } from './search.port.ts';

/**
 * The one conformance suite of the SearchIndex port: every adapter runs it (search.sqlite.test.ts,
 * tests/conformance/search.elasticsearch.test.ts). It fixes the behaviour the rest of the instance relies on:
 *
 * - free text: every word (or "quoted phrase") must match in subject, body, from or to; case and diacritics are
 *   ignored; English plurals find their singular; user text is literal (no engine syntax gets through);
 * - from / to / subject: the value must appear as a phrase in that field (addresses match whole or by part:
 *   `carol@example.com`, `carol`, `example.com`);
 * - after (inclusive), before (exclusive), protocol and tag (case-insensitive keywords), minPi (inclusive);
 * - newest first without free text, by relevance then newest first with it; limit/offset with an exact total;
 * - one account never sees another's documents; upsert by (accountId, messageId); remove; removeAccount.
 *
 * The suite opens one index, loads a small corpus once, and gives every mutating test accounts of its own.
 */

export interface SearchHarness {
  index: SearchIndex;
  /** Closes the index and deletes what the harness created (files, indices, templates). */
  cleanup: () => Promise<void>;
}

const ALICE = 'acct-alice';
const BRUNO = 'acct-bruno';

const at = (iso: string): Date => new Date(iso);

interface Draft {
  date: string;
  protocol?: string;
  from: string[];
  to?: string[];
  subject?: string;
  body: string;
  tags?: string[];
  pi: number;
}

function doc(accountId: string, messageId: string, d: Draft): SearchDocument {
  return {
    accountId,
    messageId,
    conversationId: `conv-${messageId}`,
    date: at(d.date),
    protocol: d.protocol ?? 'email',
    from: d.from,
    to: d.to ?? ['Alice Durand <alice@example.com>'],
    subject: d.subject ?? '',
    body: d.body,
    tags: d.tags ?? [],
    pi: d.pi,
  };
}

const BRUNO_ADDR = 'Bruno Lefèvre <bruno@exemple.fr>';
const CAROL = 'Carol Smith <carol@example.com>';
const DAVE = 'Dave Jones <dave@example.org>';

/** Alice's mailbox, in English and French; dates are unique so that "newest first" is a total order. */
const ALICE_DRAFTS: Record<string, Draft> = {
  a01: {
    date: '2024-01-03T08:15:00Z',
    from: [BRUNO_ADDR],
    subject: "Réunion de l'école",
    tags: ['école', 'famille'],
    pi: 80,
    body: "La réunion des parents d'élèves aura lieu jeudi à l'école primaire. Merci de confirmer votre présence.",
  },
  a02: {
    date: '2024-01-10T10:00:00Z',
    from: [CAROL],
    subject: 'Quarterly invoices',
    tags: ['work', 'finance'],
    pi: 65,
    body: 'Please find attached the invoices for the last quarter. Payment is due within thirty days.',
  },
  a03: {
    date: '2024-01-15T14:30:00Z',
    from: [DAVE],
    subject: 'Team meeting moved',
    tags: ['work'],
    pi: 70,
    body: 'The weekly team meeting is moved to Thursday afternoon. Bring your notes.',
  },
  a04: {
    date: '2024-01-22T07:00:00Z',
    protocol: 'twitter',
    from: ['Eve News <eve@news.example>'],
    to: ['@alice'],
    pi: 20,
    body: 'Breaking: the kangaroo escaped from the zoo again',
  },
  a05: {
    date: '2024-02-01T00:00:00.000Z',
    from: [CAROL],
    subject: 'Invoice reminder',
    tags: ['finance'],
    pi: 60,
    body: 'A gentle reminder about the unpaid invoice number 4521.',
  },
  a06: {
    date: '2024-01-31T23:59:59.999Z',
    from: [BRUNO_ADDR],
    subject: "Vacances d'été",
    tags: ['famille'],
    pi: 85,
    body: 'Nous partons en vacances à la mer cet été. Les enfants sont ravis.',
  },
  a07: {
    date: '2024-02-05T18:45:00Z',
    protocol: 'sms',
    from: ['+33612345678'],
    to: ['+33698765432'],
    tags: ['famille'],
    pi: 50,
    body: 'Je serai en retard pour le dîner ce soir',
  },
  a08: {
    date: '2024-02-12T09:00:00Z',
    from: [DAVE],
    to: ['alice@example.com', CAROL],
    subject: 'Project kangaroo kickoff',
    tags: ['work'],
    pi: 75,
    body: 'Kangaroo project kickoff: kangaroo scope, kangaroo budget.',
  },
  a09: {
    date: '2024-02-20T03:33:00Z',
    from: ['Frank <frank@spam.example>'],
    subject: 'You won a prize',
    tags: ['spam'],
    pi: 5,
    body: 'Click here to claim your prize, limited offer',
  },
  a10: {
    date: '2024-03-01T00:00:00.000Z',
    from: [BRUNO_ADDR],
    subject: 'Résumé de la conférence',
    tags: ['work'],
    pi: 78,
    body: "Le résumé de la conférence sur la sécurité est disponible. Très intéressant pour l'équipe.",
  },
  a11: {
    date: '2024-03-08T12:00:00Z',
    from: [CAROL],
    subject: 'Lunch?',
    pi: 55,
    body: 'Are you free for lunch on Friday? There is a new café near the office.',
  },
  a12: {
    date: '2024-03-15T16:20:00Z',
    from: ['Alice Durand <alice@example.com>'],
    to: [BRUNO_ADDR],
    tags: ['école'],
    pi: 90,
    subject: "Re: Réunion de l'école",
    body: 'Je confirme ma présence à la réunion.',
  },
  a13: {
    date: '2024-03-20T08:00:00Z',
    from: [DAVE],
    subject: 'Meetings schedule',
    tags: ['work'],
    pi: 68,
    body: 'All meetings next week are cancelled.',
  },
  a14: {
    date: '2024-04-02T11:11:00Z',
    from: ['Grace Hopper <grace@navy.example>'],
    subject: 'Debugging tips',
    tags: ['work'],
    pi: 72,
    body:
      'A long message about debugging compilers, reading core dumps, writing careful notes, and the first actual bug ' +
      'found in a relay of an old computer; the kangaroo had nothing to do with it, whatever the rumours say.',
  },
  a15: {
    date: '2024-04-10T06:30:00Z',
    protocol: 'mastodon',
    from: ['@henri@mastodon.example'],
    to: ['@alice@example.com'],
    pi: 40,
    body: 'Bonne journée à tous ! Le café est prêt.',
  },
  a16: {
    date: '2024-04-18T15:00:00Z',
    from: [CAROL],
    subject: 'Paris trip',
    tags: ['travel'],
    pi: 66,
    body: 'Paris in spring: the Louvre, a crêpe on the street, and coffee by the Seine.',
  },
  a17: {
    date: '2024-05-02T17:40:00Z',
    from: [BRUNO_ADDR],
    subject: "Fête de l'école",
    tags: ['école', 'famille'],
    pi: 82,
    body: "La fête de l'école aura lieu samedi. Apportez un gâteau.",
  },
  a18: {
    date: '2024-05-15T09:45:00Z',
    from: ['Ivan Petrov <ivan@example.net>'],
    subject: 'Contract draft',
    tags: ['work', 'legal'],
    pi: 58,
    body: 'Here is the contract draft. Please review clause 7 (liability) and clause 9: termination.',
  },
  a19: {
    date: '2024-06-01T13:00:00Z',
    from: [DAVE],
    subject: 'Meeting notes',
    tags: ['Work'],
    pi: 71,
    body: 'Notes from the team meeting: budget approved.',
  },
  a20: {
    date: '2024-06-10T19:05:00Z',
    from: [CAROL],
    subject: 'Photos',
    tags: ['travel'],
    pi: 64,
    body: 'Photos from the trip to Zürich and Malmö',
  },
  a21: {
    date: '2024-06-20T07:00:00Z',
    from: ['Digest <digest@news.example>'],
    subject: 'Weekly digest',
    pi: 30,
    body: 'Your weekly digest of zeppelin news',
  },
  a22: {
    date: '2024-06-25T07:00:00Z',
    from: ['Digest <digest@news.example>'],
    subject: 'Weekly digest',
    pi: 30,
    body: 'Your weekly digest of zeppelin news',
  },
  a23: {
    date: '2024-07-01T10:00:00Z',
    from: [DAVE],
    subject: 'Short sync',
    tags: ['work'],
    pi: 73,
    body: 'Our team will have a short meeting before the release.',
  },
};

/** Bruno's mailbox reuses Alice's words on purpose: isolation must hold with identical text. */
const BRUNO_DRAFTS: Record<string, Draft> = {
  b01: { ...ALICE_DRAFTS.a01!, date: '2024-01-04T08:15:00Z', to: [BRUNO_ADDR] },
  b02: { ...ALICE_DRAFTS.a02!, date: '2024-01-11T10:00:00Z', to: [BRUNO_ADDR] },
  b03: { ...ALICE_DRAFTS.a08!, date: '2024-02-13T09:00:00Z', to: [BRUNO_ADDR] },
  b04: { ...ALICE_DRAFTS.a03!, date: '2024-01-16T14:30:00Z', to: [BRUNO_ADDR] },
  b05: { ...ALICE_DRAFTS.a17!, date: '2024-05-03T17:40:00Z', to: [BRUNO_ADDR] },
};

const ALICE_DOCS = Object.entries(ALICE_DRAFTS).map(([id, d]) => doc(ALICE, id, d));
const BRUNO_DOCS = Object.entries(BRUNO_DRAFTS).map(([id, d]) => doc(BRUNO, id, d));

/** Alice's message ids, newest first. */
const ALICE_NEWEST_FIRST = [...ALICE_DOCS].sort((x, y) => y.date.getTime() - x.date.getTime()).map((d) => d.messageId);

/**
 * Analysis parity: the corpus above, plus a few words with ligatures and ß, and probes in French and English
 * (inflections, diacritics both ways, phrases, address parts). `compareHits` runs every probe on two engines loaded
 * with the same documents and returns the probes whose hits differ. A probe that may differ says why (`mayDiffer`);
 * every other probe must give the same hits on every engine.
 */
export const PARITY_DOCS: readonly SearchDocument[] = [
  ...ALICE_DOCS,
  ...BRUNO_DOCS,
  doc(ALICE, 'p01', {
    date: '2024-06-01T08:00:00Z',
    from: [DAVE],
    body: "Une œuvre d'art, Encyclopædia Britannica",
    pi: 10,
  }),
  doc(ALICE, 'p02', {
    date: '2024-06-02T08:00:00Z',
    from: [DAVE],
    body: 'Treffpunkt: Königstraße 5, Straße der Musik',
    pi: 10,
  }),
];

const LIGATURES =
  "Ligatures and ß: Lucene's asciifolding writes œ/æ/ß as oe/ae/ss, FTS5's unicode61 keeps them (they have no " +
  'decomposition), so the ASCII spelling finds them on OpenSearch/Elasticsearch only.';

export const ANALYSIS_PROBES: ReadonlyArray<{ query: SearchQuery; mayDiffer?: string }> = [
  // French, diacritics both ways and inflections
  ...['ecole', 'école', 'ÉCOLE', 'reunion', 'réunions', 'eleves', 'élève', 'presence', 'présent', 'conference'].map(
    (text) => ({ query: { text } }),
  ),
  ...['conférences', 'securite', 'intéressant', 'equipe', 'vacances', 'vacance', 'ete', 'été', 'enfant', 'enfants'].map(
    (text) => ({ query: { text } }),
  ),
  ...[
    'diner',
    'dîner',
    'fete',
    'gateaux',
    'gâteau',
    'journee',
    'cafe',
    'cafés',
    'crepe',
    'crêpes',
    'zurich',
    'malmo',
  ].map((text) => ({ query: { text } })),
  ...['confirme', 'confirmer', 'confirmation', 'partons', 'partir', 'prêt', 'pret', 'tous', 'mer'].map((text) => ({
    query: { text },
  })),
  // English inflections (Porter stemming on both sides)
  ...['meeting', 'meetings', 'meet', 'invoice', 'invoices', 'invoicing', 'kangaroos', 'notes', 'note', 'noted'].map(
    (text) => ({ query: { text } }),
  ),
  ...['photo', 'debug', 'debugging', 'weekly', 'week', 'schedule', 'scheduled', 'cancel', 'cancelled', 'approve'].map(
    (text) => ({ query: { text } }),
  ),
  ...[
    'approved',
    'attached',
    'attach',
    'termination',
    'terminate',
    'liability',
    'interesting',
    'review',
    'reviews',
  ].map((text) => ({ query: { text } })),
  // phrases and fields
  { query: { text: '"team meeting"' } },
  { query: { text: '"réunion des parents"' } },
  { query: { text: '"clause 7"' } },
  { query: { text: 'kangaroo zoo' } },
  { query: { from: 'lefevre' } },
  { query: { from: 'Lefèvre' } },
  { query: { to: 'bruno@exemple.fr' } },
  { query: { subject: "l'ecole" } },
  // ligatures and ß
  { query: { text: 'œuvre' } },
  { query: { text: 'oeuvre' }, mayDiffer: LIGATURES },
  { query: { text: 'encyclopædia' } },
  { query: { text: 'encyclopaedia' }, mayDiffer: LIGATURES },
  { query: { text: 'straße' } },
  { query: { text: 'strasse' }, mayDiffer: LIGATURES },
  { query: { text: 'königstraße' } },
  { query: { text: 'konigstrasse' }, mayDiffer: LIGATURES },
];

export interface HitDifference {
  query: SearchQuery;
  /** Hit ids (sorted) of the reference engine and of the other one, for both accounts of the corpus. */
  reference: string[];
  other: string[];
  mayDiffer?: string;
}

/** Indexes PARITY_DOCS into both (initialised, empty) indices and returns the probes whose hits differ. */
export async function compareHits(reference: SearchIndex, other: SearchIndex): Promise<HitDifference[]> {
  for (const index of [reference, other]) {
    await index.index([...PARITY_DOCS]);
    await index.refresh();
  }
  const differences: HitDifference[] = [];
  for (const probe of ANALYSIS_PROBES) {
    const hits = async (index: SearchIndex): Promise<string[]> =>
      [
        ...(await searchIds(index, ALICE, probe.query)),
        ...(await searchIds(index, BRUNO, probe.query)).map((id) => `bruno:${id}`),
      ].sort();
    const [r, o] = [await hits(reference), await hits(other)];
    if (JSON.stringify(r) !== JSON.stringify(o)) {
      differences.push({
        query: probe.query,
        reference: r,
        other: o,
        ...(probe.mayDiffer ? { mayDiffer: probe.mayDiffer } : {}),
      });
    }
  }
  return differences;
}

/** Strings that mean something to FTS5, Lucene or SQL. None may crash a query or widen it to other accounts. */
export const HOSTILE_QUERY_TEXT: readonly string[] = [
  '"',
  '""',
  '"unbalanced',
  'unbalanced"',
  "'",
  '*',
  'kanga*',
  '-',
  '-kangaroo',
  'NOT kangaroo',
  'kangaroo OR prize',
  'NEAR(',
  'NEAR(kangaroo zoo, 2)',
  ':',
  'a:b',
  'subject:',
  'body:kangaroo',
  '{subject}: kangaroo',
  '(',
  ')',
  '((kangaroo',
  'kangaroo)',
  '^kangaroo',
  '+kangaroo',
  'AND',
  'OR',
  'NOT',
  'kangaroo AND',
  '\\',
  '\\"',
  '\u0000',
  "'; DROP TABLE search_doc; --",
  'kangaroo~2',
  'title:[a TO z]',
  '/kan.*/',
  '!kangaroo',
  '&& ||',
  '?',
  '{',
  '}',
  '<script>',
  '😀',
  '\u0301',
  'x'.repeat(2000),
];

async function searchIds(index: SearchIndex, accountId: string, query: SearchQuery): Promise<string[]> {
  const r = await index.search(accountId, { limit: 1000, ...query });
  return r.hits.map((h) => h.messageId);
}

const sorted = (ids: string[]): string[] => [...ids].sort();

function assertShape(r: SearchResult): void {
  assert.equal(typeof r.total, 'number');
  assert.ok(Array.isArray(r.hits));
  assert.ok(r.total >= r.hits.length);
  for (const h of r.hits) {
    assert.equal(typeof h.messageId, 'string');
    assert.ok(h.date instanceof Date && !Number.isNaN(h.date.getTime()));
    assert.ok(Number.isFinite(h.score));
  }
}

let accountCounter = 0;
/** A fresh account id per mutating test, so that tests sharing the index do not see each other. */
const freshAccount = (label: string): string => `acct-${label}-${process.pid}-${++accountCounter}`;

export function searchConformance(
  name: string,
  open: () => Promise<SearchHarness>,
  options: { skip?: boolean } = {},
): void {
  describe(`SearchIndex conformance: ${name}`, { skip: options.skip ?? false }, () => {
    let harness: SearchHarness | undefined;
    const index = (): SearchIndex => harness!.index;
    const alice = (q: SearchQuery): Promise<string[]> => searchIds(index(), ALICE, q);

    beforeAll(async () => {
      harness = await open();
      await harness.index.init();
      await harness.index.init(); // idempotent
      await harness.index.index([...ALICE_DOCS, ...BRUNO_DOCS]);
      await harness.index.refresh();
    });

    afterAll(async () => {
      await harness?.cleanup();
    });

    describe('ordering and paging', () => {
      test('without free text, results are newest first with an exact total', async () => {
        const r = await index().search(ALICE, { limit: 100 });
        assertShape(r);
        assert.equal(r.total, ALICE_DOCS.length);
        assert.deepEqual(
          r.hits.map((h) => h.messageId),
          ALICE_NEWEST_FIRST,
        );
      });

      test('hits carry the conversation and the exact date', async () => {
        const r = await index().search(ALICE, { protocol: 'sms' });
        assert.equal(r.hits.length, 1);
        const hit = r.hits[0]!;
        assert.equal(hit.messageId, 'a07');
        assert.equal(hit.conversationId, 'conv-a07');
        assert.equal(hit.date.getTime(), at('2024-02-05T18:45:00Z').getTime());
      });

      test('limit and offset page through the results; the total does not depend on the page', async () => {
        const pages: string[] = [];
        for (let offset = 0; offset < ALICE_DOCS.length; offset += 5) {
          const r = await index().search(ALICE, { limit: 5, offset });
          assert.equal(r.total, ALICE_DOCS.length);
          assert.ok(r.hits.length <= 5);
          pages.push(...r.hits.map((h) => h.messageId));
        }
        assert.deepEqual(pages, ALICE_NEWEST_FIRST);
        const past = await index().search(ALICE, { limit: 5, offset: 500 });
        assert.deepEqual(past, { total: ALICE_DOCS.length, hits: [] });
      });

      test('limit 0 returns the total only', async () => {
        assert.deepEqual(await index().search(ALICE, { text: 'kangaroo', limit: 0 }), { total: 3, hits: [] });
        assert.deepEqual(await index().search(ALICE, { text: 'kangaroo', tag: 'work', limit: 0 }), {
          total: 2,
          hits: [],
        });
        assert.deepEqual(await index().search(ALICE, { tag: 'work', limit: 0 }), { total: 9, hits: [] });
      });

      test('paging works on relevance-ordered and filtered results too', async () => {
        for (const q of [
          { text: 'meeting' },
          { text: 'meeting', tag: 'work' },
          { from: 'dave', minPi: 60 },
          { tag: 'work', minPi: 60 },
        ]) {
          const all = await alice(q);
          assert.ok(all.length >= 3, JSON.stringify(q));
          const first = await index().search(ALICE, { ...q, limit: 2 });
          const rest = await index().search(ALICE, { ...q, limit: 10, offset: 2 });
          assert.equal(first.total, all.length);
          assert.equal(rest.total, all.length);
          assert.deepEqual(
            [...first.hits, ...rest.hits].map((h) => h.messageId),
            all,
            JSON.stringify(q),
          );
          assert.deepEqual(
            await index().search(ALICE, { ...q, offset: 100 }),
            { total: all.length, hits: [] },
            JSON.stringify(q),
          );
        }
      });

      test('with free text, results are ordered by relevance, best first', async () => {
        const r = await index().search(ALICE, { text: 'kangaroo' });
        assertShape(r);
        // a08 says it in its subject and three times in a short body; a04 once in a short body; a14 once in a long one.
        assert.deepEqual(
          r.hits.map((h) => h.messageId),
          ['a08', 'a04', 'a14'],
        );
        for (let i = 1; i < r.hits.length; i++) assert.ok(r.hits[i - 1]!.score >= r.hits[i]!.score);
        assert.ok(r.hits[0]!.score > r.hits[2]!.score);
      });

      test('equally relevant results come newest first', async () => {
        assert.deepEqual(await alice({ text: 'zeppelin' }), ['a22', 'a21']);
      });
    });

    describe('free text', () => {
      test('every word must match, anywhere in subject, body, from or to', async () => {
        assert.deepEqual(sorted(await alice({ text: 'invoice' })), ['a02', 'a05']);
        assert.deepEqual(await alice({ text: 'unpaid invoice' }), ['a05']);
        assert.deepEqual(await alice({ text: 'kangaroo budget' }), ['a08']);
        assert.deepEqual(await alice({ text: 'kangaroo giraffe' }), []);
        // one word in the subject, the other in the body, a third in the sender
        assert.deepEqual(await alice({ text: 'lunch café carol' }), ['a11']);
      });

      test('case and diacritics are ignored, both ways', async () => {
        const ecole = ['a01', 'a12', 'a17'];
        assert.deepEqual(sorted(await alice({ text: 'ecole' })), ecole);
        assert.deepEqual(sorted(await alice({ text: 'ÉCOLE' })), ecole);
        assert.deepEqual(sorted(await alice({ text: 'école' })), ecole);
        assert.deepEqual(sorted(await alice({ text: 'e\u0301cole' })), ecole, 'decomposed é');
        assert.deepEqual(sorted(await alice({ text: 'cafe' })), ['a11', 'a15']);
        assert.deepEqual(await alice({ text: 'RESUME conference' }), ['a10']);
        assert.deepEqual(await alice({ text: 'zurich MALMO' }), ['a20']);
        assert.deepEqual(await alice({ text: 'eleves' }), ['a01']);
        assert.deepEqual(await alice({ text: 'KANGAROO Budget' }), ['a08']);
      });

      test('English plurals find their singular and the reverse', async () => {
        assert.deepEqual(sorted(await alice({ text: 'invoices' })), ['a02', 'a05']);
        assert.deepEqual(sorted(await alice({ text: 'meeting' })), ['a03', 'a13', 'a19', 'a23']);
        assert.deepEqual(sorted(await alice({ text: 'meetings' })), ['a03', 'a13', 'a19', 'a23']);
      });

      test('a quoted phrase needs its words together and in order', async () => {
        assert.deepEqual(sorted(await alice({ text: '"team meeting"' })), ['a03', 'a19']);
        assert.deepEqual(await alice({ text: '"meeting team"' }), []);
        assert.deepEqual(sorted(await alice({ text: 'team meeting' })), ['a03', 'a19', 'a23']);
        assert.deepEqual(await alice({ text: '"team meeting" budget' }), ['a19']);
      });

      test('words glued by punctuation match as a phrase', async () => {
        assert.deepEqual(sorted(await alice({ text: "l'école" })), ['a01', 'a12', 'a17']);
        assert.deepEqual(await alice({ text: 'carol@example.com lunch' }), ['a11']);
      });

      test('text with nothing searchable in it is ignored', async () => {
        const r = await index().search(ALICE, { text: ' * - ( ) " ', limit: 100 });
        assert.equal(r.total, ALICE_DOCS.length);
        assert.deepEqual(
          r.hits.map((h) => h.messageId),
          ALICE_NEWEST_FIRST,
        );
      });
    });

    describe('filters', () => {
      test('from: matches a sender by address, name, local part or domain', async () => {
        const carol = ['a02', 'a05', 'a11', 'a16', 'a20'];
        assert.deepEqual(sorted(await alice({ from: 'carol@example.com' })), carol);
        assert.deepEqual(sorted(await alice({ from: 'Carol Smith' })), carol);
        assert.deepEqual(sorted(await alice({ from: 'CAROL' })), carol);
        assert.deepEqual(sorted(await alice({ from: 'example.com' })), [...carol, 'a12'].sort());
        assert.deepEqual(sorted(await alice({ from: 'bruno lefevre' })), ['a01', 'a06', 'a10', 'a17']);
        assert.deepEqual(await alice({ from: 'lefevre exemple' }), [], 'a from: value is a phrase');
        assert.deepEqual(await alice({ from: 'nobody@nowhere.example' }), []);
      });

      test('from: and to: look at their own field only', async () => {
        assert.deepEqual(await alice({ to: 'carol' }), ['a08']);
        assert.deepEqual(await alice({ to: 'bruno@exemple.fr' }), ['a12']);
        assert.deepEqual(await alice({ from: 'alice' }), ['a12']);
        assert.deepEqual(await alice({ to: '+33698765432' }), ['a07']);
      });

      test('subject: looks at the subject only, as a phrase', async () => {
        assert.deepEqual(sorted(await alice({ subject: 'meeting' })), ['a03', 'a13', 'a19']);
        assert.deepEqual(await alice({ subject: 'team meeting' }), ['a03']);
        assert.deepEqual(await alice({ subject: 'budget' }), [], 'budget is only ever in bodies');
        assert.deepEqual(sorted(await alice({ subject: "REUNION de l'ecole" })), ['a01', 'a12']);
      });

      test('after: is inclusive and before: exclusive, to the millisecond', async () => {
        const feb = await alice({ after: at('2024-02-01T00:00:00Z'), before: at('2024-03-01T00:00:00Z') });
        assert.deepEqual(feb, ['a09', 'a08', 'a07', 'a05']);
        assert.deepEqual(await alice({ after: at('2024-07-01T10:00:00Z') }), ['a23']);
        assert.deepEqual(await alice({ before: at('2024-01-10T10:00:00.001Z') }), ['a02', 'a01']);
        assert.deepEqual(await alice({ after: at('2024-01-31T23:59:59.999Z'), before: at('2024-02-01T00:00:00Z') }), [
          'a06',
        ]);
      });

      test('protocol: is a case-insensitive keyword', async () => {
        assert.deepEqual(await alice({ protocol: 'sms' }), ['a07']);
        assert.deepEqual(await alice({ protocol: 'SMS' }), ['a07']);
        assert.deepEqual(await alice({ protocol: 'mastodon' }), ['a15']);
        assert.equal((await index().search(ALICE, { protocol: 'email', limit: 0 })).total, ALICE_DOCS.length - 3);
        assert.deepEqual(await alice({ protocol: 'emai' }), [], 'no partial keyword match');
      });

      test('minPi is inclusive', async () => {
        assert.deepEqual(sorted(await alice({ minPi: 80 })), ['a01', 'a06', 'a12', 'a17']);
        assert.deepEqual(await alice({ minPi: 90 }), ['a12']);
        assert.deepEqual(await alice({ minPi: 91 }), []);
        assert.equal((await index().search(ALICE, { minPi: 0, limit: 0 })).total, ALICE_DOCS.length);
      });

      test('tag: is a case-insensitive keyword', async () => {
        assert.deepEqual(sorted(await alice({ tag: 'famille' })), ['a01', 'a06', 'a07', 'a17']);
        assert.deepEqual(sorted(await alice({ tag: 'École' })), ['a01', 'a12', 'a17']);
        const work = ['a02', 'a03', 'a08', 'a10', 'a13', 'a14', 'a18', 'a19', 'a23'];
        assert.deepEqual(sorted(await alice({ tag: 'work' })), work);
        assert.deepEqual(sorted(await alice({ tag: 'WORK' })), work);
        assert.deepEqual(await alice({ tag: 'wor' }), []);
      });

      test('filters combine with each other and with free text', async () => {
        assert.deepEqual(sorted(await alice({ text: 'meeting', from: 'dave', after: at('2024-03-01T00:00:00Z') })), [
          'a13',
          'a19',
          'a23',
        ]);
        assert.deepEqual(
          sorted(await alice({ text: 'meeting', tag: 'work', minPi: 70, after: at('2024-03-01T00:00:00Z') })),
          ['a19', 'a23'],
        );
        assert.deepEqual(await alice({ tag: 'famille', protocol: 'sms' }), ['a07']);
        assert.deepEqual(await alice({ subject: 'invoice', minPi: 62 }), ['a02']);
        assert.deepEqual(await alice({ from: 'bruno', tag: 'famille', before: at('2024-02-01T00:00:00Z') }), [
          'a06',
          'a01',
        ]);
      });
    });

    describe('accounts', () => {
      test('an account never sees documents of another, even with identical words', async () => {
        const bruno = (q: SearchQuery): Promise<string[]> => searchIds(index(), BRUNO, q);
        assert.deepEqual(await bruno({ text: 'kangaroo' }), ['b03']);
        assert.deepEqual(sorted(await bruno({ text: 'réunion école' })), ['b01']);
        assert.deepEqual(sorted(await bruno({ text: 'ecole' })), ['b01', 'b05']);
        assert.deepEqual(sorted(await bruno({ from: 'carol' })), ['b02']);
        assert.deepEqual(sorted(await bruno({ tag: 'work' })), ['b02', 'b03', 'b04']);
        const all = await index().search(BRUNO, { limit: 100 });
        assert.equal(all.total, BRUNO_DOCS.length);
        assert.ok(all.hits.every((h) => h.messageId.startsWith('b')));
        assert.deepEqual(sorted(await alice({ text: 'kangaroo' })), ['a04', 'a08', 'a14']);
      });

      test('an unknown account, or one that differs only by case, sees nothing', async () => {
        assert.deepEqual(await index().search('acct-nobody', { limit: 10 }), { total: 0, hits: [] });
        assert.deepEqual(await index().search('acct-nobody', { text: 'kangaroo' }), { total: 0, hits: [] });
        assert.deepEqual(await index().search(ALICE.toUpperCase(), {}), { total: 0, hits: [] });
        assert.deepEqual(await index().search(`${ALICE} `, {}), { total: 0, hits: [] });
      });

      test('hostile query text neither crashes a query nor widens it to other accounts', async () => {
        const brunoIds = new Set(BRUNO_DOCS.map((d) => d.messageId));
        for (const s of HOSTILE_QUERY_TEXT) {
          for (const q of [
            { text: s },
            { from: s },
            { to: s },
            { subject: s },
            { tag: s },
            { protocol: s },
          ] as SearchQuery[]) {
            const r = await index()
              .search(ALICE, { ...q, limit: 100 })
              .catch((e: unknown) => {
                assert.fail(`search ${JSON.stringify(q)} threw: ${String(e)}`);
              });
            assertShape(r);
            assert.ok(
              r.hits.every((h) => !brunoIds.has(h.messageId)),
              `${JSON.stringify(q)} leaked another account`,
            );
          }
        }
      });

      test('engine syntax in free text is taken literally', async () => {
        const kangaroo = sorted(await alice({ text: 'kangaroo' }));
        for (const s of [
          '-kangaroo',
          'kangaroo*',
          '(kangaroo)',
          '"kangaroo',
          '+kangaroo',
          '^kangaroo',
          '!kangaroo',
          'kangaroo?',
        ]) {
          assert.deepEqual(sorted(await alice({ text: s })), kangaroo, s);
        }
        assert.deepEqual(await alice({ text: 'kangaroo OR prize' }), [], 'OR is a word, and no message has it');
        assert.deepEqual(await alice({ text: 'NOT kangaroo' }), [], 'NOT is a word, and no message has it');
      });
    });

    describe('writes', () => {
      test('index() is an upsert keyed by account and message id', async () => {
        const acct = freshAccount('upsert');
        const original = doc(acct, 'm1', {
          date: '2024-01-01T00:00:00Z',
          from: ['Zed <zed@example.com>'],
          subject: 'Aardvark sighting',
          tags: ['zoo'],
          pi: 10,
          body: 'An aardvark was seen near the river.',
        });
        await index().index([original]);
        await index().refresh();
        assert.deepEqual(await searchIds(index(), acct, { text: 'aardvark' }), ['m1']);

        await index().index([
          {
            ...original,
            conversationId: 'conv-new',
            date: at('2024-05-05T00:00:00Z'),
            subject: 'Okapi',
            body: 'An okapi instead.',
            tags: ['forest'],
            pi: 95,
            protocol: 'sms',
            from: ['Yann <yann@example.com>'],
          },
        ]);
        await index().refresh();
        assert.deepEqual(await searchIds(index(), acct, { text: 'aardvark' }), [], 'old words are gone');
        assert.deepEqual(await searchIds(index(), acct, { from: 'zed' }), []);
        assert.deepEqual(await searchIds(index(), acct, { tag: 'zoo' }), [], 'old tags are gone');
        assert.deepEqual(await searchIds(index(), acct, { protocol: 'email' }), []);
        assert.deepEqual(
          await searchIds(index(), acct, { text: 'okapi', tag: 'forest', protocol: 'sms', minPi: 95, from: 'yann' }),
          ['m1'],
        );
        const all = await index().search(acct, {});
        assert.equal(all.total, 1);
        assert.equal(all.hits[0]!.conversationId, 'conv-new');
        assert.equal(all.hits[0]!.date.getTime(), at('2024-05-05T00:00:00Z').getTime());
      });

      test('the last version of a message in one batch wins', async () => {
        const acct = freshAccount('batch');
        const base = doc(acct, 'm1', {
          date: '2024-01-01T00:00:00Z',
          from: ['x@example.com'],
          body: 'first platypus',
          pi: 1,
        });
        await index().index([
          base,
          doc(acct, 'm2', { date: '2024-01-02T00:00:00Z', from: ['x@example.com'], body: 'platypus two', pi: 1 }),
          { ...base, body: 'second wombat' },
        ]);
        await index().refresh();
        assert.deepEqual(await searchIds(index(), acct, { text: 'platypus' }), ['m2']);
        assert.deepEqual(await searchIds(index(), acct, { text: 'wombat' }), ['m1']);
        assert.equal((await index().search(acct, {})).total, 2);
      });

      test('the same message id in two accounts is two documents', async () => {
        const [x, y] = [freshAccount('same-id'), freshAccount('same-id')];
        const d = doc(x, 'shared-id', {
          date: '2024-01-01T00:00:00Z',
          from: ['x@example.com'],
          body: 'narwhal',
          pi: 1,
        });
        await index().index([d, { ...d, accountId: y, body: 'walrus' }]);
        await index().refresh();
        assert.deepEqual(await searchIds(index(), x, { text: 'narwhal' }), ['shared-id']);
        assert.deepEqual(await searchIds(index(), x, { text: 'walrus' }), []);
        assert.deepEqual(await searchIds(index(), y, { text: 'walrus' }), ['shared-id']);
        await index().remove(y, ['shared-id']);
        await index().refresh();
        assert.deepEqual(await searchIds(index(), x, { text: 'narwhal' }), ['shared-id'], 'removal is per account');
      });

      test('index([]) is a no-op', async () => {
        await index().index([]);
        assert.equal((await index().search(ALICE, { limit: 0 })).total, ALICE_DOCS.length);
      });

      test('remove() deletes the given messages of the account only; unknown ids are ignored', async () => {
        const acct = freshAccount('remove');
        const docs = ['m1', 'm2', 'm3'].map((id, i) =>
          doc(acct, id, {
            date: `2024-01-0${i + 1}T00:00:00Z`,
            from: ['x@example.com'],
            body: `ibex ${id}`,
            tags: ['t'],
            pi: 50,
          }),
        );
        await index().index(docs);
        await index().refresh();
        await index().remove(acct, ['m1', 'm3', 'never-indexed']);
        await index().remove(acct, []);
        await index().remove('acct-never-seen', ['m2']);
        await index().remove(ALICE, ['m2']);
        await index().refresh();
        assert.deepEqual(await searchIds(index(), acct, { text: 'ibex' }), ['m2']);
        assert.deepEqual(await searchIds(index(), acct, { tag: 't' }), ['m2']);
        assert.equal((await index().search(acct, {})).total, 1);
        assert.equal((await index().search(ALICE, { limit: 0 })).total, ALICE_DOCS.length);
      });

      test('a removed message can be indexed again', async () => {
        const acct = freshAccount('reindex');
        const d = doc(acct, 'm1', { date: '2024-01-01T00:00:00Z', from: ['x@example.com'], body: 'lemur', pi: 1 });
        await index().index([d]);
        await index().refresh();
        await index().remove(acct, ['m1']);
        await index().refresh();
        assert.deepEqual(await searchIds(index(), acct, { text: 'lemur' }), []);
        await index().index([{ ...d, body: 'lemur again' }]);
        await index().refresh();
        assert.deepEqual(await searchIds(index(), acct, { text: 'lemur' }), ['m1']);
      });

      test('removeAccount() deletes every document of that account and nothing else', async () => {
        const [gone, kept] = [freshAccount('gone'), freshAccount('kept')];
        const make = (acct: string): SearchDocument[] =>
          Array.from({ length: 30 }, (_, i) =>
            doc(acct, `m${i}`, {
              date: new Date(Date.UTC(2024, 0, 1 + i)).toISOString(),
              from: ['x@example.com'],
              body: `quokka number ${i}`,
              tags: ['animals'],
              pi: i,
              protocol: i % 2 ? 'email' : 'sms',
            }),
          );
        await index().index([...make(gone), ...make(kept)]);
        await index().refresh();
        await index().removeAccount(gone);
        await index().removeAccount('acct-never-seen');
        await index().refresh();
        assert.deepEqual(await index().search(gone, {}), { total: 0, hits: [] });
        assert.deepEqual(await index().search(gone, { text: 'quokka' }), { total: 0, hits: [] });
        assert.deepEqual(await index().search(gone, { tag: 'animals' }), { total: 0, hits: [] });
        assert.equal((await index().search(kept, { text: 'quokka', limit: 0 })).total, 30);
        assert.equal((await index().search(ALICE, { limit: 0 })).total, ALICE_DOCS.length);

        await index().index(make(gone).slice(0, 2));
        await index().refresh();
        assert.equal(
          (await index().search(gone, { text: 'quokka', limit: 0 })).total,
          2,
          'the account can start again',
        );
      });
    });
  });
}
