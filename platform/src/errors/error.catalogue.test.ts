import assert from 'node:assert/strict';
import { test } from 'vitest';
import { createErrorCatalogue } from './error.catalogue.ts';

const catalogue = createErrorCatalogue({
  errorName: 'ShopError',
  codes: {
    not_found: { status: 404, title: 'No such thing.' },
    sold_out: { status: 409, title: 'Sold out.' },
  },
  problemType: 'urn:shop:problem:',
  problemSchemaId: 'ShopProblem',
  docsPath: 'docs/shop-errors.md',
});

test('the error class carries code, status, detail and extra, and only it passes the guard', () => {
  const e = new catalogue.Error('sold_out', 'Come back tomorrow.', { restock: '2026-01-02' });
  assert.ok(e instanceof Error && e instanceof catalogue.Error);
  assert.equal(e.name, 'ShopError');
  assert.equal(catalogue.Error.name, 'ShopError');
  assert.deepEqual(
    [e.code, e.status, e.detail, e.extra, e.message],
    ['sold_out', 409, 'Come back tomorrow.', { restock: '2026-01-02' }, 'Come back tomorrow.'],
  );
  assert.equal(new catalogue.Error('not_found').message, 'No such thing.', 'the title when there is no detail');
  assert.equal(catalogue.isError(e), true);
  assert.equal(catalogue.isError(new Error('x')), false);
  const other = createErrorCatalogue({
    errorName: 'Other',
    codes: { not_found: { status: 404, title: 'x' } },
    problemType: 'urn:o:',
    problemSchemaId: 'O',
    docsPath: 'x',
  });
  assert.equal(catalogue.isError(new other.Error('not_found')), false, "another catalogue's error is not ours");
});

test('problem documents, their schema and OpenAPI references use the catalogue namespace', () => {
  assert.deepEqual(catalogue.problem('not_found', 'req-12345678', { instance: '/things/1' }), {
    type: 'urn:shop:problem:not_found',
    title: 'No such thing.',
    status: 404,
    code: 'not_found',
    requestId: 'req-12345678',
    instance: '/things/1',
  });
  assert.equal((catalogue.ProblemSchema as { $id?: string }).$id, 'ShopProblem');
  assert.deepEqual(catalogue.problemResponses(404), {
    404: { $ref: 'ShopProblem#', description: 'application/problem+json' },
  });
});

test('the docs page lists every code in table order between the given texts', () => {
  const doc = catalogue.renderDoc({
    title: 'Shop errors',
    intro: 'Intro.',
    example: ['{ }'],
    notes: ['Notes.'],
    footer: ['Footer.'],
  });
  assert.equal(
    doc,
    [
      '# Shop errors',
      '',
      'Intro.',
      '',
      '```json',
      '{ }',
      '```',
      '',
      'Notes.',
      '',
      '| code | HTTP status | meaning |',
      '| --- | --- | --- |',
      '| `not_found` | 404 | No such thing. |',
      '| `sold_out` | 409 | Sold out. |',
      '',
      'Footer.',
      '',
    ].join('\n'),
  );
});
