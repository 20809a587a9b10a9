import i18next, { type i18n as I18n } from 'i18next';
import { initReactI18next } from 'react-i18next';
import { en } from './en.ts';
import { fr } from './fr.ts';

export const LANGUAGES = ['en', 'fr'] as const;
export type Language = (typeof LANGUAGES)[number];

const STORAGE_KEY = 'caliopen.language';

/** The user's choice (the switch) first, then the browser's preferred languages, then English. */
export function detectLanguage(
  preferred: readonly string[] = typeof navigator === 'undefined' ? [] : navigator.languages,
  stored: string | null = safeStored(),
): Language {
  if (stored === 'en' || stored === 'fr') return stored;
  for (const tag of preferred) {
    const base = tag.toLowerCase().split('-')[0];
    if (base === 'fr' || base === 'en') return base;
  }
  return 'en';
}

function safeStored(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function rememberLanguage(lng: Language): void {
  try {
    localStorage.setItem(STORAGE_KEY, lng);
  } catch {
    // private mode: the choice lasts for this page only
  }
}

/** A ready i18next instance with both catalogues (bundled: no network fetch, nothing for the CSP to allow). */
export function createI18n(lng: Language = detectLanguage()): I18n {
  const instance = i18next.createInstance();
  void instance.use(initReactI18next).init({
    lng,
    fallbackLng: 'en',
    supportedLngs: [...LANGUAGES],
    resources: { en: { translation: en }, fr: { translation: fr } },
    interpolation: { escapeValue: false }, // React escapes
    initAsync: false,
    returnNull: false,
  });
  const setHtmlLang = (l: string) => {
    if (typeof document !== 'undefined') document.documentElement.lang = l;
  };
  setHtmlLang(lng);
  instance.on('languageChanged', setHtmlLang);
  return instance;
}

/** Catalogue keys cannot hold dots (i18next's separator): `transport.tls` is looked up as `transport__tls`. */
export const dottedKey = (id: string): string => id.replaceAll('.', '__');
