import { lazy, Suspense } from 'react';
import { useTranslation } from 'react-i18next';
import { LANGUAGES, type Language, rememberLanguage } from '../i18n/i18n.ts';
import { DirectoryScreen } from './DirectoryScreen.tsx';
import { Link } from './Link.tsx';
import { LogScreen } from './LogScreen.tsx';
import { MemberScreen } from './MemberScreen.tsx';
import { useRoute } from './router.ts';

// Split off: the public directory's bundle stays light for the many who only read it.
const ApplicantScreen = lazy(() => import('./ApplicantScreen.tsx').then((m) => ({ default: m.ApplicantScreen })));
const ConsoleScreen = lazy(() => import('./ConsoleScreen.tsx').then((m) => ({ default: m.ConsoleScreen })));

/**
 * The association's site: directory, member pages, transparency-log explorer (no sign-in); the applicant's view of
 * an application and the auditors' console, loaded on demand.
 */
export function RegistryApp() {
  const { t, i18n } = useTranslation();
  const route = useRoute();
  return (
    <>
      <a className="reg-skip" href="#main">
        {t('reg.skip')}
      </a>
      <header className="reg-header">
        <span className="reg-brand">{t('reg.siteName')}</span>
        <nav aria-label={t('reg.nav.label')}>
          <Link
            href="/"
            className={route.name === 'directory' || route.name === 'member' ? 'reg-nav-current' : undefined}
          >
            {t('reg.nav.directory')}
          </Link>
          <Link href="/log" className={route.name === 'log' ? 'reg-nav-current' : undefined}>
            {t('reg.nav.log')}
          </Link>
          <Link href="/console" className={route.name === 'console' ? 'reg-nav-current' : undefined}>
            {t('reg.nav.console')}
          </Link>
        </nav>
        <label className="reg-lang">
          <span className="visually-hidden">{t('reg.language')}</span>
          <select
            value={i18n.language}
            onChange={(e) => {
              const lng = e.target.value as Language;
              rememberLanguage(lng);
              void i18n.changeLanguage(lng);
            }}
          >
            {LANGUAGES.map((l) => (
              <option key={l} value={l}>
                {l === 'fr' ? 'Français' : 'English'}
              </option>
            ))}
          </select>
        </label>
      </header>
      <main id="main" className="reg-main">
        {route.name === 'directory' && <DirectoryScreen />}
        {route.name === 'member' && <MemberScreen domain={route.domain} />}
        {route.name === 'log' && <LogScreen entry={route.entry} />}
        {(route.name === 'applicant' || route.name === 'console') && (
          <Suspense fallback={<p>{t('reg.loading')}</p>}>
            {route.name === 'applicant' ? <ApplicantScreen id={route.id} /> : <ConsoleScreen />}
          </Suspense>
        )}
      </main>
    </>
  );
}
