import type { PiLevel } from '../api/types.ts';

/**
 * The padlock of each level, so that colour is never the only signal: open and broken for exposed, open for basic,
 * a shield for guarded, closed padlocks for the three end-to-end levels (with a check for sealed).
 */
export function PiIcon({ level }: { level: PiLevel }) {
  return (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <IconPaths level={level} />
    </svg>
  );
}

function IconPaths({ level }: { level: PiLevel }) {
  switch (level) {
    case 'exposed':
      return (
        <>
          <path d="M4 7V5a4 4 0 0 1 7.5-2" fill="none" stroke="currentColor" strokeWidth="1.6" />
          <rect x="2.5" y="7" width="11" height="8" rx="1.5" fill="none" stroke="currentColor" strokeWidth="1.6" />
          <path d="M6 9.5l4 3M10 9.5l-4 3" stroke="currentColor" strokeWidth="1.6" />
        </>
      );
    case 'basic':
      return (
        <>
          <path d="M4 7V5a4 4 0 0 1 7.5-2" fill="none" stroke="currentColor" strokeWidth="1.6" />
          <rect x="2.5" y="7" width="11" height="8" rx="1.5" fill="currentColor" />
        </>
      );
    case 'guarded':
      return <path d="M8 1l6 2.5v4c0 3.8-2.6 6.4-6 7.5-3.4-1.1-6-3.7-6-7.5v-4z" fill="currentColor" />;
    case 'protected':
    case 'private':
      return (
        <>
          <path d="M4.5 7V5a3.5 3.5 0 0 1 7 0v2" fill="none" stroke="currentColor" strokeWidth="1.6" />
          <rect x="2.5" y="7" width="11" height="8" rx="1.5" fill="currentColor" />
        </>
      );
    case 'sealed':
      return (
        <>
          <path d="M4.5 7V5a3.5 3.5 0 0 1 7 0v2" fill="none" stroke="currentColor" strokeWidth="1.6" />
          <rect x="2.5" y="7" width="11" height="8" rx="1.5" fill="currentColor" />
          <path d="M5.5 11l1.8 1.8L10.8 9.3" fill="none" stroke="var(--pi-bg)" strokeWidth="1.6" />
        </>
      );
  }
}
