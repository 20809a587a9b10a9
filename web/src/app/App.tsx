import { lazy, type ReactNode, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiClient, sessionStore, type StoredSession } from '../api/client.ts';
import { LANGUAGES, rememberLanguage, type Language } from '../i18n/i18n.ts';
import { lock as lockClientKeys } from '../client-keys/client-keys.session.ts';
import { ComposeScreen } from '../compose/ComposeScreen.tsx';
import { drafts } from '../compose/drafts.ts';
import { DiscussionScreen } from '../screens/DiscussionScreen.tsx';
import { DiscussionsScreen } from '../screens/DiscussionsScreen.tsx';
import { ContactScreen } from '../screens/ContactScreen.tsx';
import { ContactsScreen } from '../screens/ContactsScreen.tsx';
import { DevicesScreen } from '../screens/DevicesScreen.tsx';
import { ChatAccountsScreen } from '../screens/ChatAccountsScreen.tsx';
import { MailAccountsScreen } from '../screens/MailAccountsScreen.tsx';
import { PrivacyScreen } from '../screens/PrivacyScreen.tsx';
import { SignInScreen } from '../screens/SignInScreen.tsx';
import { JournalScreen } from '../screens/JournalScreen.tsx';
import { SEARCH_INPUT_ID, SearchScreen } from '../search/SearchScreen.tsx';
import { NoticesScreen } from '../notices/NoticesScreen.tsx';
import { useNotices } from '../notices/use-notices.ts';
import { LiveEventsProvider, useLiveStatus } from '../live/live-events.tsx';
import { clearContactTrustCache } from '../trust/use-contact-trust.ts';
import { clearPeerCache } from '../trust/use-peer.ts';
import { useKeyAlerts } from './key-alerts.ts';
import { navigate, onLinkClick, parseRoute, type Route, usePathname } from './router.ts';
import { SessionContext, type SessionContextValue, useSession as useSessionValue } from './session.tsx';

/** The operator's console: its own chunk, fetched only when an admin opens it. */
const AdminConsole = lazy(() => import('../admin/AdminConsole.tsx'));

const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', fr: 'Français' };

export function App() {
  const { t } = useTranslation();
  const [session, setSession] = useState<StoredSession | null>(() => sessionStore.read());
  const [notice, setNotice] = useState<'sessionEnded' | 'signedOut' | null>(null);
  const pathname = usePathname();

  const sessionRef = useRef(session);
  sessionRef.current = session;

  const endSession = useCallback((why: 'sessionEnded' | 'signedOut') => {
    // Signing out on purpose leaves nothing behind; an ended session keeps the drafts for the next sign-in.
    if (why === 'signedOut' && sessionRef.current) drafts.clearAll(sessionRef.current.username);
    sessionStore.clear();
    clearContactTrustCache();
    // Keys opened in this tab are forgotten with the session (the kept, encrypted copy stays).
    lockClientKeys();
    clearPeerCache();
    setSession(null);
    setNotice(why);
    navigate('/sign-in', { replace: true });
  }, []);

  const api = useMemo(
    () =>
      new ApiClient(
        () => sessionRef.current?.token ?? null,
        () => endSession('sessionEnded'),
      ),
    [endSession],
  );

  const value: SessionContextValue = useMemo(
    () => ({
      api,
      session,
      signedIn(s) {
        sessionStore.write(s);
        sessionRef.current = s;
        setSession(s);
        setNotice(null);
        navigate('/discussions', { replace: true });
      },
      async signOut() {
        try {
          await api.logout();
        } catch {
          // the token may already be gone: signing out locally is what matters
        }
        endSession('signedOut');
      },
    }),
    [api, session, endSession],
  );

  let route = parseRoute(pathname);
  if (!session && route.name !== 'sign-in') route = { name: 'sign-in' };
  if (session && route.name === 'sign-in') route = { name: 'discussions' };
  // The console is for admins (the API refuses everyone else anyway).
  if (route.name === 'admin' && session?.role !== 'admin') route = { name: 'not-found' };

  // "/" anywhere but in a field: to the search box (as in Gmail, GitHub...).
  const signedIn = session !== null;
  useEffect(() => {
    if (!signedIn) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      const el = e.target as HTMLElement | null;
      if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return;
      if (el?.closest('dialog')) return;
      e.preventDefault();
      const input = document.getElementById(SEARCH_INPUT_ID);
      if (input) input.focus();
      else navigate('/search');
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [signedIn]);

  const live = (children: ReactNode) =>
    session ? <LiveEventsProvider api={api}>{children}</LiveEventsProvider> : children;

  return (
    <SessionContext.Provider value={value}>
      <a className="skip-link" href="#main">
        {t('app.skip')}
      </a>
      <header className="app-header">
        <a
          className="brand"
          href="/discussions"
          onClick={(e) => {
            e.preventDefault();
            navigate('/discussions');
          }}
        >
          <img src="/favicon.svg" alt="" width="28" height="28" />
          <span>{t('app.name')}</span>
        </a>
        <div className="header-tools">
          <LanguageSwitch />
          {session && (
            <>
              <a className="button-primary compose-link" href="/compose" onClick={onLinkClick('/compose')}>
                {t('compose.new')}
              </a>
              <span className="who">{t('app.signedInAs', { name: session.displayName || session.username })}</span>
              <button type="button" className="button-secondary" onClick={() => void value.signOut()}>
                {t('app.signOut')}
              </button>
            </>
          )}
        </div>
      </header>
      {live(
        <>
          {session && <MainNav route={route} pathname={pathname} />}
          <main id="main" tabIndex={-1}>
            {route.name === 'sign-in' && <SignInScreen notice={notice} />}
            {route.name === 'discussions' && <DiscussionsScreen />}
            {route.name === 'discussion' && <DiscussionScreen id={route.id} key={route.id} />}
            {route.name === 'compose' && <ComposeScreen replyTo={null} key="compose" />}
            {route.name === 'reply' && <ComposeScreen replyTo={route.id} key={`reply-${route.id}`} />}
            {route.name === 'contacts' && <ContactsScreen />}
            {route.name === 'contact' && <ContactScreen id={route.id} key={route.id} />}
            {route.name === 'privacy' && <PrivacyScreen />}
            {route.name === 'devices' && <DevicesScreen />}
            {route.name === 'mail-accounts' && <MailAccountsScreen />}
            {route.name === 'chat-accounts' && <ChatAccountsScreen />}
            {route.name === 'search' && <SearchScreen />}
            {route.name === 'notices' && <NoticesScreen />}
            {route.name === 'journal' && <JournalScreen />}
            {route.name === 'admin' && (
              <Suspense fallback={<p role="status">{t('app.loading')}</p>}>
                <AdminConsole section={route.section} />
              </Suspense>
            )}
            {route.name === 'not-found' && <DiscussionsScreen />}
          </main>
        </>,
      )}
    </SessionContext.Provider>
  );
}

const NAV = [
  { path: '/discussions', key: 'nav.discussions', routes: ['discussions', 'discussion', 'not-found'] },
  { path: '/contacts', key: 'nav.contacts', routes: ['contacts', 'contact'] },
  { path: '/privacy', key: 'nav.privacy', routes: ['privacy', 'journal'] },
  { path: '/devices', key: 'nav.devices', routes: ['devices'] },
  { path: '/mail-accounts', key: 'nav.mailAccounts', routes: ['mail-accounts'] },
  { path: '/chat-accounts', key: 'nav.chatAccounts', routes: ['chat-accounts'] },
  { path: '/search', key: 'nav.search', routes: ['search'] },
  { path: '/notices', key: 'nav.notices', routes: ['notices'] },
] as const;

/** The app's sections, and the key alerts where the user looks: a badge beside them on every screen. */
function MainNav({ route, pathname }: { route: Route; pathname: string }) {
  const { t } = useTranslation();
  const { api, session } = useSessionValue();
  const alerts = useKeyAlerts(api, true, pathname);
  const notices = useNotices(api).items?.filter((n) => !n.dismissed).length ?? 0;
  // Once live updates worked, their loss is said (until they are back); not while the first connection opens.
  const liveStatus = useLiveStatus();
  const liveWorked = useRef(false);
  if (liveStatus === 'open') liveWorked.current = true;
  // Where the sections scroll sideways (a phone), the current one is brought into view, without moving the page.
  const list = useRef<HTMLUListElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs at each route change, which moves aria-current.
  useEffect(() => {
    const ul = list.current;
    const current = ul?.querySelector<HTMLElement>('a[aria-current="page"]');
    if (!ul || !current || ul.scrollWidth <= ul.clientWidth) return;
    const box = current.getBoundingClientRect();
    const bar = ul.getBoundingClientRect();
    if (box.left < bar.left || box.right > bar.right)
      ul.scrollLeft += box.left - bar.left - (bar.width - box.width) / 2;
  }, [route.name]);
  const first = alerts?.[0];
  const alertPath =
    alerts && alerts.length === 1 && first?.contact
      ? `/contacts/${first.contact.id}#key-alerts`
      : '/contacts#key-alerts';
  return (
    <nav className="main-nav" aria-label={t('nav.label')}>
      <ul ref={list}>
        {NAV.map((n) => (
          <li key={n.path}>
            <a
              href={n.path}
              onClick={onLinkClick(n.path)}
              aria-current={(n.routes as readonly string[]).includes(route.name) ? 'page' : undefined}
            >
              {n.path === '/notices' && notices > 0 ? t('nav.noticesCount', { count: notices }) : t(n.key)}
            </a>
          </li>
        ))}
        {session?.role === 'admin' && (
          <li>
            <a href="/admin" onClick={onLinkClick('/admin')} aria-current={route.name === 'admin' ? 'page' : undefined}>
              {t('nav.admin')}
            </a>
          </li>
        )}
      </ul>
      {liveWorked.current && liveStatus !== 'open' && liveStatus !== null && (
        <span className="muted small" role="status">
          {t('live.reconnecting')}
        </span>
      )}
      {alerts && alerts.length > 0 && (
        <a className="key-alert-badge" href={alertPath} onClick={onLinkClick(alertPath)}>
          <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
            <path d="M8 1.5L15 14H1zM8 6v4M8 11.5v1.2" fill="none" stroke="currentColor" strokeWidth="1.6" />
          </svg>
          {t('nav.keyAlerts', { count: alerts.length })}
        </a>
      )}
    </nav>
  );
}

function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <label className="language-switch">
      <span>{t('app.language')}</span>
      <select
        value={i18n.resolvedLanguage ?? i18n.language}
        onChange={(e) => {
          const lng = e.target.value as Language;
          rememberLanguage(lng);
          void i18n.changeLanguage(lng);
        }}
      >
        {LANGUAGES.map((l) => (
          <option key={l} value={l} lang={l}>
            {LANGUAGE_NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}
