import { expect, test } from 'vitest';
import { en } from './en.ts';
import { fr } from './fr.ts';
import { createI18n, detectLanguage } from './i18n.ts';

test('the language: the user’s choice, then the browser’s preferences, then English', () => {
  expect(detectLanguage(['fr-FR', 'en'], null)).toBe('fr');
  expect(detectLanguage(['de-DE', 'en-GB', 'fr'], null)).toBe('en');
  expect(detectLanguage(['de-DE', 'fr-CA'], null)).toBe('fr');
  expect(detectLanguage(['de-DE'], null)).toBe('en');
  expect(detectLanguage(['fr-FR'], 'en')).toBe('en');
  expect(detectLanguage([], 'fr')).toBe('fr');
  expect(detectLanguage([], 'xx')).toBe('en');
});

test('both catalogues have the same keys and no empty sentence', () => {
  const keys = (o: object, prefix = ''): string[] =>
    Object.entries(o).flatMap(([k, v]) => (typeof v === 'string' ? [`${prefix}${k}`] : keys(v, `${prefix}${k}.`)));
  expect(keys(fr).sort()).toEqual(keys(en).sort());
  const values = (o: object): string[] => Object.values(o).flatMap((v) => (typeof v === 'string' ? [v] : values(v)));
  for (const v of [...values(en), ...values(fr)]) expect(v.trim()).not.toBe('');
});

test('switching language changes <html lang>', async () => {
  const i18n = createI18n('en');
  expect(document.documentElement.lang).toBe('en');
  await i18n.changeLanguage('fr');
  expect(document.documentElement.lang).toBe('fr');
  expect(i18n.t('signIn.submit')).toBe('Se connecter');
});
