import { cleanup, render } from '@testing-library/react';
import { I18nextProvider } from 'react-i18next';
import { afterEach, describe, expect, test } from 'vitest';
import { createI18n } from '../i18n/i18n.ts';
import { Fingerprint } from './Fingerprint.tsx';

afterEach(cleanup);

const renderIn = (lng: 'en' | 'fr', fp: string) =>
  render(
    <I18nextProvider i18n={createI18n(lng)}>
      <Fingerprint value={fp} />
    </I18nextProvider>,
  );

describe('Fingerprint', () => {
  const fp = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
  test('shows one box per group of four, uppercase, hidden from screen readers', () => {
    const { container } = renderIn('en', fp);
    const groups = [...container.querySelectorAll('.fp-group')].map((g) => g.textContent);
    expect(groups).toEqual(['A1B2', 'C3D4', 'E5F6', '0718', '293A', '4B5C', '6D7E', '8F90', '1234', '5678']);
    expect(container.querySelector('code')?.getAttribute('aria-hidden')).toBe('true');
  });
  test('screen readers get the groups one at a time, after a label in the user’s language', () => {
    expect(renderIn('en', fp).container.querySelector('.visually-hidden')?.textContent).toBe(
      'Fingerprint: A1B2, C3D4, E5F6, 0718, 293A, 4B5C, 6D7E, 8F90, 1234, 5678',
    );
    cleanup();
    expect(renderIn('fr', fp).container.querySelector('.visually-hidden')?.textContent).toMatch(/^Empreinte : A1B2, /);
  });
});
