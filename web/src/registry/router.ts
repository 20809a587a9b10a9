import { useEffect, useState } from 'react';

/**
 * The site's routes: `/` directory, `/members/<domain>`, `/log` (with `?entry=N`), `/applications/<id>` (the
 * applicant's view; the token in the fragment), `/console` (auditors).
 */
export type RegRoute =
  | { name: 'directory' }
  | { name: 'applicant'; id: string }
  | { name: 'console' }
  | { name: 'member'; domain: string }
  | { name: 'log'; entry: number | null };

export function parseRoute(pathname: string, search: string): RegRoute {
  const m = /^\/members\/([a-z0-9.-]+)\/?$/.exec(pathname);
  if (m?.[1]) return { name: 'member', domain: m[1] };
  const a = /^\/applications\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/.exec(pathname);
  if (a?.[1]) return { name: 'applicant', id: a[1] };
  if (pathname === '/console' || pathname === '/console/') return { name: 'console' };
  if (pathname === '/log' || pathname === '/log/') {
    const raw = new URLSearchParams(search).get('entry');
    const n = raw === null ? Number.NaN : Number(raw);
    return { name: 'log', entry: Number.isSafeInteger(n) && n >= 0 ? n : null };
  }
  return { name: 'directory' };
}

export function navigate(href: string): void {
  window.history.pushState(null, '', href);
  window.dispatchEvent(new PopStateEvent('popstate'));
  window.scrollTo?.(0, 0);
}

const readLocation = (): RegRoute => parseRoute(window.location.pathname, window.location.search);

export function useRoute(): RegRoute {
  const [route, setRoute] = useState(readLocation);
  useEffect(() => {
    const on = () => setRoute(readLocation());
    window.addEventListener('popstate', on);
    return () => window.removeEventListener('popstate', on);
  }, []);
  return route;
}

/** A client-side link that still works as a plain link (new tab, copy address). */
export function onLinkClick(
  e: { preventDefault(): void; metaKey: boolean; ctrlKey: boolean; button: number },
  href: string,
) {
  if (e.metaKey || e.ctrlKey || e.button !== 0) return;
  e.preventDefault();
  navigate(href);
}
