import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import type { AdminApi, DnsCheck } from './admin-api.ts';
import { StatusWord } from './StatusWord.tsx';
import { useLoad } from './use-load.ts';

const TONE = { ok: 'ok', different: 'bad', missing: 'warn', error: 'bad' } as const;

/** The records to publish (as `caliopen instance dns` prints them), each checked now through the instance's resolver. */
export function DnsSection({ admin }: { admin: AdminApi }) {
  const { t, i18n } = useTranslation();
  const dns = useLoad(useCallback(() => admin.dns(), [admin]));
  const when = new Intl.DateTimeFormat(i18n.resolvedLanguage ?? 'en', { timeStyle: 'medium' });
  return (
    <section className="card" aria-labelledby="dns-h">
      <h2 id="dns-h">{t('admin.dns.title')}</h2>
      <p>{t('admin.dns.intro')}</p>
      <button type="button" className="button-secondary" onClick={dns.reload}>
        {t('admin.dns.recheck')}
      </button>
      {dns.error !== null && <ProblemMessage error={dns.error} onRetry={dns.reload} />}
      {dns.value === null && dns.error === null && <p role="status">{t('admin.dns.checking')}</p>}
      {dns.value && (
        <>
          <p role="status" className="small">
            {t('admin.dns.checkedAt', { at: when.format(new Date(dns.value.checkedAt)) })}
          </p>
          <DnsTable records={dns.value.records} />
        </>
      )}
    </section>
  );
}

function DnsTable({ records }: { records: DnsCheck['records'] }) {
  const { t } = useTranslation();
  return (
    <div className="table-scroll">
      <table className="data-table" aria-labelledby="dns-h">
        <thead>
          <tr>
            <th scope="col">{t('admin.dns.name')}</th>
            <th scope="col">{t('admin.dns.type')}</th>
            <th scope="col">{t('admin.dns.value')}</th>
            <th scope="col">{t('admin.dns.status')}</th>
            <th scope="col">{t('admin.dns.published')}</th>
          </tr>
        </thead>
        <tbody>
          {records.map((r) => (
            <tr key={`${r.name} ${r.type} ${r.value}`} data-status={r.status}>
              <td>
                <code>{r.name}</code>
                <div className="small muted">{r.why}</div>
              </td>
              <td>{r.type}</td>
              <td className="value-cell">
                <code>{r.value}</code>
              </td>
              <td>
                <StatusWord tone={TONE[r.status]}>{t(`admin.dns.statusWord.${r.status}`)}</StatusWord>
              </td>
              <td className="value-cell">
                {r.error ? (
                  <span>{r.error}</span>
                ) : r.published.length === 0 ? (
                  <span className="muted">{t('admin.dns.nothing')}</span>
                ) : (
                  r.published.map((p) => <code key={p}>{p}</code>)
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
