import { useEffect, useMemo, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { onLinkClick } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { adminApi } from './admin-api.ts';
import { AccountsSection } from './AccountsSection.tsx';
import { AdminJournalSection } from './AdminJournalSection.tsx';
import { DnsSection } from './DnsSection.tsx';
import { FederationSection } from './FederationSection.tsx';
import { OverviewSection } from './OverviewSection.tsx';
import { QueuesSection } from './QueuesSection.tsx';
import '../privacy/journal.css';
import './admin.css';

export const ADMIN_SECTIONS = ['overview', 'accounts', 'dns', 'queues', 'federation', 'journal'] as const;
export type AdminSection = (typeof ADMIN_SECTIONS)[number];

const pathOf = (s: AdminSection) => (s === 'overview' ? '/admin' : `/admin/${s}`);

/**
 * The operator's console (loaded on demand, for accounts with the admin role only; the API refuses everyone else
 * anyway): accounts, DNS records, label and standing, queues, health and metrics, the admin actions journal.
 */
export default function AdminConsole({ section }: { section: AdminSection }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const admin = useMemo(() => adminApi(api), [api]);
  const headingRef = useRef<HTMLHeadingElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: focus the heading when the section changes
  useEffect(() => headingRef.current?.focus(), [section]);

  return (
    <section className="admin" aria-labelledby="admin-h">
      <div className="screen-head">
        <h1 id="admin-h" ref={headingRef} tabIndex={-1}>
          {t('admin.title')} — {t(`admin.section.${section}`)}
        </h1>
      </div>
      <nav className="admin-nav" aria-label={t('admin.navLabel')}>
        <ul>
          {ADMIN_SECTIONS.map((s) => (
            <li key={s}>
              <a href={pathOf(s)} onClick={onLinkClick(pathOf(s))} aria-current={s === section ? 'page' : undefined}>
                {t(`admin.section.${s}`)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {section === 'overview' && <OverviewSection admin={admin} />}
      {section === 'accounts' && <AccountsSection admin={admin} />}
      {section === 'dns' && <DnsSection admin={admin} />}
      {section === 'queues' && <QueuesSection admin={admin} />}
      {section === 'federation' && <FederationSection admin={admin} />}
      {section === 'journal' && <AdminJournalSection admin={admin} />}
    </section>
  );
}
