import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Trust, TrustLevel } from '../trust/trust-level.ts';

const ICON: Record<TrustLevel, string> = {
  verified_member: 'M8 1l6 2.5v4c0 3.8-2.6 6.4-6 7.5-3.4-1.1-6-3.7-6-7.5v-4zM5 8l2 2 4-4',
  member: 'M8 1l6 2.5v4c0 3.8-2.6 6.4-6 7.5-3.4-1.1-6-3.7-6-7.5v-4z',
  authenticated: 'M2 4h12v9H2zM2 4l6 5 6-5',
  unauthenticated: 'M2 4h12v9H2zM2 4l6 5 6-5M3 14L13 3',
};

/**
 * The correspondent's trust level (trust-level.ts): a word and an icon, and the verified facts behind it on demand
 * (a disclosure button, so it works by keyboard and is announced as expanded or collapsed).
 */
export function TrustBadge({ trust, compact = false }: { trust: Trust; compact?: boolean }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const id = useId();
  if (compact) {
    // In a list row: the word and the icon only (the row's link leads to the facts).
    return (
      <span className={`trust trust-compact trust-${trust.level}`}>
        <span className="trust-button">
          <TrustIcon level={trust.level} />
          <span className="visually-hidden">{t('discussion.trust')} </span>
          {t(`trust.level.${trust.level}`)}
        </span>
      </span>
    );
  }
  return (
    <span className={`trust trust-${trust.level}`}>
      <button
        type="button"
        className="trust-button"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen((o) => !o)}
      >
        <TrustIcon level={trust.level} />
        <span className="visually-hidden">{t('discussion.trust')} </span>
        {t(`trust.level.${trust.level}`)}
      </button>
      <span id={id} className="trust-reasons" hidden={!open}>
        {trust.reasons.map((r) => t(r.key, r.values ?? {})).join(' ')}
      </span>
    </span>
  );
}

function TrustIcon({ level }: { level: TrustLevel }) {
  return (
    <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <path d={ICON[level]} fill="none" stroke="currentColor" strokeWidth="1.6" />
    </svg>
  );
}
