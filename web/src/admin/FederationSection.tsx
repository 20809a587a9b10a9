import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import type { AdminApi } from './admin-api.ts';
import { StatusWord } from './StatusWord.tsx';
import { useLoad } from './use-load.ts';

/** The instance's own label and standing at the registry, and the peers its verified feed lists. */
export function FederationSection({ admin }: { admin: AdminApi }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.resolvedLanguage ?? 'en';
  const date = new Intl.DateTimeFormat(lang, { dateStyle: 'medium' });
  const status = useLoad(useCallback(() => admin.federation(), [admin]));
  const peers = useLoad(useCallback(() => admin.peers(), [admin]));
  const s = status.value;
  return (
    <>
      <section className="card" aria-labelledby="standing-h">
        <h2 id="standing-h">{t('admin.federation.standing')}</h2>
        {status.error !== null && <ProblemMessage error={status.error} onRetry={status.reload} />}
        {s && (
          <dl>
            <dt>{t('admin.federation.registry')}</dt>
            <dd>{s.registry ?? t('admin.federation.off')}</dd>
            <dt>{t('admin.federation.status')}</dt>
            <dd>
              <StatusWord
                tone={
                  s.standing.labelValid
                    ? 'ok'
                    : s.standing.status === 'revoked' || s.standing.status === 'suspended'
                      ? 'bad'
                      : 'warn'
                }
              >
                {t(`admin.federation.standingWord.${s.standing.status}`, { defaultValue: s.standing.status })}
              </StatusWord>
            </dd>
            {s.standing.labelExpiresAt && (
              <>
                <dt>{t('admin.federation.expires')}</dt>
                <dd>{date.format(new Date(s.standing.labelExpiresAt))}</dd>
              </>
            )}
            {s.standing.instancePi !== null && (
              <>
                <dt>{t('admin.federation.instancePi')}</dt>
                <dd>{s.standing.instancePi}</dd>
              </>
            )}
            <dt>{t('admin.federation.routes')}</dt>
            <dd>{t(`admin.federation.routesWord.${s.federationRoutes}`)}</dd>
            <dt>{t('admin.federation.why')}</dt>
            <dd>{s.explanation}</dd>
          </dl>
        )}
      </section>
      <section className="card" aria-labelledby="peers-h">
        <h2 id="peers-h">{t('admin.federation.peers')}</h2>
        {peers.error !== null && <ProblemMessage error={peers.error} onRetry={peers.reload} />}
        {peers.value && !peers.value.enabled && <p>{t('admin.federation.noFeed')}</p>}
        {peers.value?.enabled && peers.value.items.length === 0 && <p>{t('admin.federation.noPeers')}</p>}
        {peers.value && peers.value.items.length > 0 && (
          <div className="table-scroll">
            <table className="data-table" aria-labelledby="peers-h">
              <thead>
                <tr>
                  <th scope="col">{t('admin.federation.domain')}</th>
                  <th scope="col">{t('admin.federation.status')}</th>
                  <th scope="col">{t('admin.federation.expires')}</th>
                  <th scope="col">{t('admin.federation.instancePi')}</th>
                </tr>
              </thead>
              <tbody>
                {peers.value.items.map((p) => (
                  <tr key={p.domain}>
                    <th scope="row">{p.domain}</th>
                    <td>
                      <StatusWord tone={p.labelValid ? 'ok' : 'bad'}>
                        {t(`admin.federation.standingWord.${p.status}`, { defaultValue: p.status })}
                      </StatusWord>
                    </td>
                    <td>{date.format(new Date(p.labelExpiresAt))}</td>
                    <td>{p.instancePi}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
