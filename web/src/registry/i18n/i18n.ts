import i18next, { type i18n as I18n } from 'i18next';
import { initReactI18next } from 'react-i18next';
import { en } from '../../i18n/en.ts';
import { fr } from '../../i18n/fr.ts';
import { detectLanguage, type Language, LANGUAGES } from '../../i18n/i18n.ts';
import { regEn } from './en.ts';
import { regFr } from './fr.ts';

type Tree = { readonly [key: string]: unknown };
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The user app's catalogue with the site's added on top (nested: the site adds instance factor names to `pi`). */
export function deepMerge(base: Tree, extra: Tree): Tree {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] = isTree(b) && isTree(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/**
 * The site's i18next instance: its own catalogue (`reg.*`) next to the user app's, read only, for the design
 * system's keys (the PI badge and its breakdown: `pi.*`, factor names). Same language choice as the user app.
 */
export function createRegistryI18n(lng: Language = detectLanguage()): I18n {
  const instance = i18next.createInstance();
  void instance.use(initReactI18next).init({
    lng,
    fallbackLng: 'en',
    supportedLngs: [...LANGUAGES],
    resources: { en: { translation: deepMerge(en, regEn) }, fr: { translation: deepMerge(fr, regFr) } },
    interpolation: { escapeValue: false },
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
