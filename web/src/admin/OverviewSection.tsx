import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { formatBytes } from '../app/format-bytes.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { type AdminApi, health, metricSamples } from './admin-api.ts';
import { StatusWord } from './StatusWord.tsx';
import { useLoad } from './use-load.ts';

/** Health, storage use, the inbound spool and the index lag, and the instance's own metrics. */
export function OverviewSection({ admin }: { admin: AdminApi }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.resolvedLanguage ?? 'en';
  const overview = useLoad(useCallback(() => admin.overview(), [admin]));
  const healthz = useLoad(useCallback(() => health(), []));
  const metrics = useLoad(useCallback(() => metricSamples(), []));
  const o = overview.value;
  const when = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
  return (
    <div className="admin-grid">
      <section className="card" aria-labelledby="health-h">
        <h2 id="health-h">{t('admin.overview.health')}</h2>
        {healthz.value ? (
          <dl>
            <dt>{t('admin.overview.status')}</dt>
            <dd>
              {healthz.value.status === 'ok' ? (
                <StatusWord tone="ok">{t('admin.overview.ready')}</StatusWord>
              ) : (
                <StatusWord tone="bad">{t('admin.overview.unavailable')}</StatusWord>
              )}
            </dd>
            {Object.entries(healthz.value.engines ?? {}).map(([k, v]) => (
              <Row key={k} term={t(`admin.overview.engine.${k}`, { defaultValue: k })} value={v} />
            ))}
          </dl>
        ) : (
          <p role="status">{t('app.loading')}</p>
        )}
      </section>

      <section className="card" aria-labelledby="storage-h">
        <h2 id="storage-h">{t('admin.overview.storage')}</h2>
        {overview.error !== null && <ProblemMessage error={overview.error} onRetry={overview.reload} />}
        {o && (
          <dl>
            <Row
              term={t('admin.overview.accounts')}
              value={t('admin.overview.accountsValue', {
                total: o.accounts.total,
                admins: o.accounts.admins,
                disabled: o.accounts.disabled,
              })}
            />
            <Row
              term={t('admin.overview.used')}
              value={t('admin.overview.usedValue', {
                used: formatBytes(o.accounts.usedBytes, lang),
                quota: formatBytes(o.accounts.quotaBytes, lang),
              })}
            />
            {o.disk && (
              <Row
                term={t('admin.overview.disk')}
                value={t('admin.overview.diskValue', {
                  free: formatBytes(o.disk.freeBytes, lang),
                  total: formatBytes(o.disk.totalBytes, lang),
                })}
              />
            )}
          </dl>
        )}
      </section>

      <section className="card" aria-labelledby="lag-h">
        <h2 id="lag-h">{t('admin.overview.lag')}</h2>
        {o && (
          <dl>
            <Row
              term={t('admin.overview.spool')}
              value={
                o.spool === null
                  ? t('admin.overview.spoolOff')
                  : t('admin.overview.spoolValue', { queued: o.spool.queued, dead: o.spool.dead }) +
                    (o.spool.oldestQueuedAt
                      ? ` ${t('admin.overview.oldest', { at: when.format(new Date(o.spool.oldestQueuedAt)) })}`
                      : '')
              }
            />
            <Row
              term={t('admin.overview.index')}
              value={t('admin.overview.indexValue', { pending: o.index.pending, failed: o.index.failed })}
            />
          </dl>
        )}
      </section>

      <section className="card admin-wide" aria-labelledby="metrics-h">
        <h2 id="metrics-h">{t('admin.overview.metrics')}</h2>
        <p className="small">
          {t('admin.overview.metricsIntro')} <a href="/metrics">/metrics</a>
        </p>
        {metrics.value && (
          <div className="table-scroll">
            <table className="data-table" aria-labelledby="metrics-h">
              <thead>
                <tr>
                  <th scope="col">{t('admin.overview.metric')}</th>
                  <th scope="col">{t('admin.overview.value')}</th>
                </tr>
              </thead>
              <tbody>
                {metrics.value.map((m) => (
                  <tr key={m.name}>
                    <td>
                      <code>{m.name}</code>
                    </td>
                    <td>{m.value}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}

function Row({ term, value }: { term: string; value: string }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </>
  );
}
