import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { JournalEntry } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { useSession } from '../app/session.tsx';
import { JournalList } from '../privacy/JournalList.tsx';
import { type AdminApi, downloadJournal, type JournalFilters } from './admin-api.ts';
import { StatusWord } from './StatusWord.tsx';

const ACTIONS = [
  'account.created',
  'account.disabled',
  'account.enabled',
  'account.password_reset',
  'account.quota_changed',
  'account.role_changed',
  'account.display_name_changed',
  'account.key_reset',
  'config.changed',
];

/** A day in the date field -> the start of that day, UTC (the API takes date-times). */
const dayStart = (d: string) => (d ? `${d}T00:00:00Z` : undefined);
const dayAfter = (d: string) => (d ? new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString() : undefined);

/** The admin actions journal: every entry, filters, older pages, the JSON Lines export, the chain's verification. */
export function AdminJournalSection({ admin }: { admin: AdminApi }) {
  const { t } = useTranslation();
  const { session } = useSession();
  const [action, setAction] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [filters, setFilters] = useState<JournalFilters>({});
  const [items, setItems] = useState<JournalEntry[] | null>(null);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [verdict, setVerdict] = useState<Awaited<ReturnType<AdminApi['verifyJournal']>> | null>(null);

  const load = useCallback(
    (f: JournalFilters, before?: number) => {
      setError(null);
      admin.journal(f, before).then(
        (r) => {
          setItems((old) => (before && old ? [...old, ...r.items] : r.items));
          setNext(r.next);
        },
        (e) => setError(e),
      );
    },
    [admin],
  );
  useEffect(() => load(filters), [load, filters]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters({
      ...(action ? { action } : {}),
      ...(since ? { since: dayStart(since)! } : {}),
      ...(until ? { until: dayAfter(until)! } : {}),
    });
  };

  return (
    <section className="card" aria-labelledby="admin-journal-h">
      <h2 id="admin-journal-h">{t('admin.journal.title')}</h2>
      <p>{t('admin.journal.intro')}</p>
      <form className="admin-form" onSubmit={apply} aria-label={t('admin.journal.filters')}>
        <div className="field">
          <label htmlFor="journal-action">{t('admin.journal.action')}</label>
          <select id="journal-action" value={action} onChange={(e) => setAction(e.target.value)}>
            <option value="">{t('admin.journal.anyAction')}</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {t(`journal.action.${a.replace('.', '_')}`)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="journal-since">{t('admin.journal.since')}</label>
          <input id="journal-since" type="date" value={since} onChange={(e) => setSince(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="journal-until">{t('admin.journal.until')}</label>
          <input id="journal-until" type="date" value={until} onChange={(e) => setUntil(e.target.value)} />
        </div>
        <button type="submit" className="button-secondary">
          {t('admin.journal.apply')}
        </button>
        <button
          type="button"
          className="button-secondary"
          onClick={() => session && void downloadJournal(session.token, filters).catch((e: unknown) => setError(e))}
        >
          {t('admin.journal.export')}
        </button>
        <button
          type="button"
          className="button-secondary"
          onClick={() => void admin.verifyJournal().then(setVerdict, setError)}
        >
          {t('admin.journal.verify')}
        </button>
      </form>
      <div role="status">
        {verdict &&
          (verdict.ok ? (
            <p>
              <StatusWord tone="ok">{t('admin.journal.intact', { count: verdict.entries })}</StatusWord>{' '}
              <code>{verdict.head}</code>
            </p>
          ) : (
            <p>
              <StatusWord tone="bad">
                {t('admin.journal.broken', { seq: verdict.seq, problem: verdict.problem })}
              </StatusWord>
            </p>
          ))}
      </div>
      {error !== null && <ProblemMessage error={error} onRetry={() => load(filters)} />}
      {items !== null && items.length === 0 && <p className="empty">{t('admin.journal.empty')}</p>}
      {items !== null && items.length > 0 && <JournalList items={items} showSubject labelledBy="admin-journal-h" />}
      {next !== null && (
        <button type="button" className="button-secondary" onClick={() => load(filters, next)}>
          {t('journal.more')}
        </button>
      )}
    </section>
  );
}
