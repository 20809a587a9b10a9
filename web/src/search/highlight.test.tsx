import assert from 'node:assert/strict';
import { cleanup, render } from '@testing-library/react';
import { afterEach, describe, test } from 'vitest';
import { Highlight } from './Highlight.tsx';
import { highlightParts } from './highlight.ts';

afterEach(cleanup);

const marked = (text: string, terms: string[]) =>
  highlightParts(text, terms)
    .filter((p) => p.match)
    .map((p) => p.text);

describe('highlighting the search terms', () => {
  test('ignores case and diacritics, as the search does, and keeps the original text', () => {
    assert.deepEqual(marked('École du Lundi, école du mardi', ['ecole']), ['École', 'école']);
    assert.deepEqual(marked('Déjeuner vendredi', ['DEJEUNER']), ['Déjeuner']);
    const parts = highlightParts('Déjeuner vendredi', ['vendredi']);
    assert.equal(parts.map((p) => p.text).join(''), 'Déjeuner vendredi');
  });

  test('phrases and the longest term first; no term or empty text marks nothing', () => {
    assert.deepEqual(marked('see you soon, see', ['see you', 'see']), ['see you', 'see']);
    assert.deepEqual(highlightParts('hello', []), [{ text: 'hello', match: false }]);
    assert.deepEqual(highlightParts('', ['x']), []);
    assert.deepEqual(marked('hello', ['  ']), []);
  });

  test('renders matches as <mark> text nodes: server text holding markup stays text', () => {
    const hostile = 'Invoice <img src=x onerror="alert(1)"> <b>invoice</b>';
    const { container } = render(<Highlight text={hostile} terms={['invoice']} />);
    assert.equal(container.querySelectorAll('img').length, 0);
    assert.equal(container.querySelectorAll('b').length, 0);
    assert.deepEqual(
      [...container.querySelectorAll('mark')].map((m) => m.textContent),
      ['Invoice', 'invoice'],
    );
    assert.equal(container.textContent, hostile);
  });
});
