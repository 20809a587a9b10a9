import { useEffect, useState } from 'react';

/** The app's routes: the instance answers index.html for each of them (SPA fallback), so they can be bookmarked. */
export type Route =
  | { name: 'sign-in' }
  | { name: 'discussions' }
  | { name: 'discussion'; id: string }
  | { name: 'compose' }
  | { name: 'reply'; id: string }
  | { name: 'contacts' }
  | { name: 'contact'; id: string }
  | { name: 'privacy' }
  | { name: 'devices' }
  | { name: 'chat-accounts' }
  | { name: 'mail-accounts' }
  | { name: 'journal' }
  | { name: 'admin'; section: 'overview' | 'accounts' | 'dns' | 'queues' | 'federation' | 'journal' }
  | { name: 'search' }
  | { name: 'notices' }
  | { name: 'not-found' };

const ADMIN_SECTIONS = ['accounts', 'dns', 'queues', 'federation', 'journal'] as const;

export function parseRoute(pathname: string): Route {
  if (pathname === '/' || pathname === '/discussions' || pathname === '/discussions/') return { name: 'discussions' };
  if (pathname === '/sign-in') return { name: 'sign-in' };
  if (pathname === '/compose' || pathname === '/compose/') return { name: 'compose' };
  if (pathname === '/contacts' || pathname === '/contacts/') return { name: 'contacts' };
  if (pathname === '/privacy' || pathname === '/privacy/') return { name: 'privacy' };
  if (pathname === '/devices' || pathname === '/devices/') return { name: 'devices' };
  if (pathname === '/chat-accounts' || pathname === '/chat-accounts/') return { name: 'chat-accounts' };
  if (pathname === '/mail-accounts' || pathname === '/mail-accounts/') return { name: 'mail-accounts' };
  if (pathname === '/privacy/journal' || pathname === '/privacy/journal/') return { name: 'journal' };
  if (pathname === '/admin' || pathname === '/admin/') return { name: 'admin', section: 'overview' };
  const admin = /^\/admin\/([a-z]+)\/?$/.exec(pathname);
  const section = ADMIN_SECTIONS.find((s) => s === admin?.[1]);
  if (section) return { name: 'admin', section };
  if (pathname === '/search' || pathname === '/search/') return { name: 'search' };
  if (pathname === '/notices' || pathname === '/notices/') return { name: 'notices' };
  const contact = /^\/contacts\/([0-9a-fA-F-]{36})\/?$/.exec(pathname);
  if (contact) return { name: 'contact', id: contact[1]!.toLowerCase() };
  const reply = /^\/reply\/([0-9a-fA-F-]{36})\/?$/.exec(pathname);
  if (reply) return { name: 'reply', id: reply[1]!.toLowerCase() };
  const m = /^\/discussions\/([0-9a-fA-F-]{36})\/?$/.exec(pathname);
  if (m) return { name: 'discussion', id: m[1]!.toLowerCase() };
  return { name: 'not-found' };
}

const listeners = new Set<() => void>();

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  for (const l of listeners) l();
}

/** The current path, re-rendered on navigate() and on the browser's back/forward. */
export function usePathname(): string {
  const [path, setPath] = useState(() => location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return path;
}

/** A parameter of the current URL's query (`?q=`), re-read on navigate() and on back/forward. */
export function useQueryParam(name: string): string | null {
  const read = () => new URLSearchParams(location.search).get(name);
  const [value, setValue] = useState(read);
  useEffect(() => {
    const update = () => setValue(new URLSearchParams(location.search).get(name));
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, [name]);
  return value;
}

/** For <a href> links: a plain click navigates inside the app; modified clicks (new tab...) keep the browser's way. */
export function onLinkClick(path: string) {
  return (e: {
    button: number;
    metaKey: boolean;
    ctrlKey: boolean;
    shiftKey: boolean;
    altKey: boolean;
    preventDefault(): void;
  }) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(path);
  };
}
