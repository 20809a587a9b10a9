import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { PiBadge } from '../design-system/PiBadge.tsx';
import { dottedKey } from '../i18n/i18n.ts';
import { type InstanceRecord, type LogEntry, RegistryApiError, registryApi } from './api.ts';
import { formatDate, formatDay } from './format.ts';
import { Link } from './Link.tsx';

export function MemberScreen({ domain }: { domain: string }) {
  const { t, i18n } = useTranslation();
  const lng = i18n.language;
  const [record, setRecord] = useState<InstanceRecord | null>(null);
  const [log, setLog] = useState<{ index: number; entry: LogEntry }[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setRecord(null);
    setError(null);
    registryApi
      .instance(domain)
      .then(setRecord, (e: Error) =>
        setError(e instanceof RegistryApiError && e.status === 404 ? t('reg.member.notFound') : e.message),
      );
    registryApi.memberLog(domain).then(
      (r) => setLog(r.entries),
      () => setLog([]),
    );
  }, [domain, t]);

  return (
    <section aria-labelledby="member-title">
      <p>
        <Link href="/">← {t('reg.member.back')}</Link>
      </p>
      <h1 id="member-title">{domain}</h1>
      {error && <p role="alert">{error}</p>}
      {!record && !error && <p>{t('reg.loading')}</p>}
      {record && (
        <>
          <p>
            <span className={`reg-status reg-status-${record.status}`}>{t(`reg.status.${record.status}`)}</span>
            {record.charterVersion && (
              <>
                {' · '}
                {t('reg.directory.charter')} {record.charterVersion}
              </>
            )}
          </p>
          {record.revocation && (
            <p className="reg-warning" role="note">
              {t('reg.member.revoked', {
                date: formatDay(record.revocation.at, lng),
                reason: record.revocation.reason ?? '',
              })}
            </p>
          )}
          {record.renewalBlocked && (
            <p className="reg-warning">{t('reg.member.renewalBlocked', { reason: record.renewalBlocked })}</p>
          )}

          <h2>{t('reg.member.piTitle')}</h2>
          <p>
            <PiBadge pi={record.pi} subject={domain} /> <span className="reg-hint">{t('reg.member.piHint')}</span>
          </p>
          <table className="reg-table reg-factors">
            <caption className="visually-hidden">{t('reg.member.piTitle')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('reg.member.factor')}</th>
                <th scope="col" className="num">
                  {t('reg.member.points')}
                </th>
                <th scope="col">{t('reg.member.evidence')}</th>
              </tr>
            </thead>
            <tbody>
              {record.pi.factors.map((f) => (
                <tr key={f.id}>
                  <th scope="row">{t(`pi.factorName.${dottedKey(f.id)}`, { defaultValue: f.id })}</th>
                  <td className="num">{f.contribution > 0 ? `+${f.contribution}` : f.contribution}</td>
                  <td>{f.evidence}</td>
                </tr>
              ))}
            </tbody>
          </table>

          <h2>{t('reg.member.labelTitle')}</h2>
          {record.label && (
            <dl className="reg-dl">
              <dt>{t('reg.member.labelId')}</dt>
              <dd>
                <code>{record.label.id}</code>
              </dd>
              <dt>{t('reg.member.issued')}</dt>
              <dd>{formatDate(record.label.issuedAt, lng)}</dd>
              <dt>{t('reg.member.expires')}</dt>
              <dd>{formatDate(record.label.expiresAt, lng)}</dd>
              <dt>{t('reg.member.certificate')}</dt>
              <dd>
                <code className="reg-hash">{record.certFingerprint}</code>
              </dd>
            </dl>
          )}

          <h2>{t('reg.member.checksTitle')}</h2>
          {record.checks === null ? (
            <p>{t('reg.member.noChecks')}</p>
          ) : (
            <>
              <p>
                {t('reg.member.checksAt', { date: formatDate(record.checks.finishedAt, lng) })} —{' '}
                {record.checks.mandatoryPassed ? t('reg.member.mandatoryPassed') : t('reg.member.mandatoryFailed')}
              </p>
              <table className="reg-table">
                <thead>
                  <tr>
                    <th scope="col">{t('reg.member.check')}</th>
                    <th scope="col">{t('reg.member.result')}</th>
                    <th scope="col" className="num">
                      {t('reg.member.points')}
                    </th>
                    <th scope="col">{t('reg.member.evidence')}</th>
                  </tr>
                </thead>
                <tbody>
                  {record.checks.results.map((r) => (
                    <tr key={r.id}>
                      <th scope="row">
                        <code>{r.id}</code>
                      </th>
                      <td>
                        <span className={`reg-check reg-check-${r.status}`}>{t(`reg.checkStatus.${r.status}`)}</span>
                      </td>
                      <td className="num">
                        {r.points}/{r.maxPoints}
                      </td>
                      <td>{r.evidence}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}

          <h2>{t('reg.member.historyTitle')}</h2>
          <ul>
            {record.labelHistory.map((l) => (
              <li key={l.id}>
                <code>{l.id.slice(0, 8)}</code> — {t(`reg.status.${l.status}`, { defaultValue: l.status })},{' '}
                {formatDay(l.issuedAt, lng)} → {formatDay(l.expiresAt, lng)}
                {l.revokedAt &&
                  ` (${t('reg.member.revoked', { date: formatDay(l.revokedAt, lng), reason: l.revocationReason ?? '' })})`}
              </li>
            ))}
          </ul>

          <h2>{t('reg.member.logTitle')}</h2>
          {log === null ? (
            <p>{t('reg.loading')}</p>
          ) : log.length === 0 ? (
            <p>{t('reg.member.noLog')}</p>
          ) : (
            <ul className="reg-log-links">
              {log.map((e) => (
                <li key={e.index}>
                  <Link href={`/log?entry=${e.index}`}>
                    {t(e.entry.at ? 'reg.member.logEntry' : 'reg.member.logEntryUndated', {
                      index: e.index,
                      type: t(`reg.log.entryTypes.${e.entry.type}`, { defaultValue: e.entry.type }),
                      date: formatDate(e.entry.at, lng),
                    })}
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
