import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { JournalEntry } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { onLinkClick } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { JournalList } from '../privacy/JournalList.tsx';
import '../privacy/journal.css';

/** My privacy > Journal: what the instance's operators did to the user's account (GET /api/v1/me/journal). */
export function JournalScreen() {
  const { t } = useTranslation();
  const { api } = useSession();
  const [items, setItems] = useState<JournalEntry[] | null>(null);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);

  const load = useCallback(
    (before?: number) => {
      setError(null);
      api.myJournal(before).then(
        (r) => {
          setItems((old) => (before && old ? [...old, ...r.items] : r.items));
          setNext(r.next);
        },
        (e) => setError(e),
      );
    },
    [api],
  );
  useEffect(() => load(), [load]);
  useEffect(() => headingRef.current?.focus(), []);

  return (
    <section className="journal" aria-labelledby="journal-h">
      <a className="back-link" href="/privacy" onClick={onLinkClick('/privacy')}>
        {t('journal.back')}
      </a>
      <div className="screen-head">
        <h1 id="journal-h" ref={headingRef} tabIndex={-1}>
          {t('journal.title')}
        </h1>
      </div>
      <p>{t('journal.intro')}</p>
      {error !== null && <ProblemMessage error={error} onRetry={() => load()} />}
      {items === null && error === null && <p role="status">{t('app.loading')}</p>}
      {items !== null && items.length === 0 && <p className="empty">{t('journal.empty')}</p>}
      {items !== null && items.length > 0 && <JournalList items={items} showSubject={false} labelledBy="journal-h" />}
      {next !== null && (
        <button type="button" className="button-secondary" onClick={() => load(next)}>
          {t('journal.more')}
        </button>
      )}
    </section>
  );
}
