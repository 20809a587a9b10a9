import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import type { AdminApi } from './admin-api.ts';
import { useLoad } from './use-load.ts';

/** The job queues: SMTP and federation deliveries (pending, retrying, failed), indexing and PI recomputation. */
export function QueuesSection({ admin }: { admin: AdminApi }) {
  const { t } = useTranslation();
  const queues = useLoad(useCallback(() => admin.queues(), [admin]));
  return (
    <section className="card" aria-labelledby="queues-h">
      <h2 id="queues-h">{t('admin.queues.title')}</h2>
      <p>{t('admin.queues.intro')}</p>
      <button type="button" className="button-secondary" onClick={queues.reload}>
        {t('admin.queues.refresh')}
      </button>
      {queues.error !== null && <ProblemMessage error={queues.error} onRetry={queues.reload} />}
      {queues.value && (
        <>
          <div className="table-scroll">
            <table className="data-table" aria-labelledby="queues-h">
              <thead>
                <tr>
                  <th scope="col">{t('admin.queues.queue')}</th>
                  <th scope="col">{t('admin.queues.pending')}</th>
                  <th scope="col">{t('admin.queues.retrying')}</th>
                  <th scope="col">{t('admin.queues.failed')}</th>
                </tr>
              </thead>
              <tbody>
                {queues.value.queues.map((q) => (
                  <tr key={q.name} data-queue={q.kind}>
                    <th scope="row">{t(`admin.queues.kind.${q.kind}`)}</th>
                    <td>{q.pending}</td>
                    <td>{q.retrying}</td>
                    <td>{q.failed}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {queues.value.queues
            .filter((q) => q.recentFailures.length > 0)
            .map((q) => (
              <section key={q.name} aria-labelledby={`fail-${q.name}`}>
                <h3 id={`fail-${q.name}`}>{t('admin.queues.failures', { queue: t(`admin.queues.kind.${q.kind}`) })}</h3>
                <ul>
                  {q.recentFailures.map((f) => (
                    <li key={f.id}>
                      {t('admin.queues.failure', { attempts: f.attempts })} <code>{f.error ?? '—'}</code>
                    </li>
                  ))}
                </ul>
              </section>
            ))}
        </>
      )}
    </section>
  );
}
