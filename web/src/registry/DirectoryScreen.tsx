import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { PiBadge } from '../design-system/PiBadge.tsx';
import { type DirectoryMember, registryApi } from './api.ts';
import { formatDate, formatDay } from './format.ts';
import { Link } from './Link.tsx';

type StatusFilter = 'all' | DirectoryMember['status'];

/** Pure filtering, for the search box and the standing filter. */
export function filterMembers(members: DirectoryMember[], query: string, status: StatusFilter): DirectoryMember[] {
  const q = query.trim().toLowerCase();
  return members.filter((m) => (status === 'all' || m.status === status) && (q === '' || m.domain.includes(q)));
}

export function DirectoryScreen() {
  const { t, i18n } = useTranslation();
  const [members, setMembers] = useState<DirectoryMember[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState('');
  const [status, setStatus] = useState<StatusFilter>('all');

  useEffect(() => {
    registryApi.members().then(
      (r) => setMembers(r.members),
      (e: Error) => setError(e.message),
    );
  }, []);

  const shown = useMemo(() => filterMembers(members ?? [], query, status), [members, query, status]);

  return (
    <section aria-labelledby="dir-title">
      <h1 id="dir-title">{t('reg.directory.title')}</h1>
      <p className="reg-intro">{t('reg.directory.intro')}</p>
      <div className="reg-filters">
        <label>
          {t('reg.directory.search')}
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
        </label>
        <label>
          {t('reg.directory.filter')}
          <select value={status} onChange={(e) => setStatus(e.target.value as StatusFilter)}>
            <option value="all">{t('reg.directory.all')}</option>
            <option value="labelled">{t('reg.status.labelled')}</option>
            <option value="suspended">{t('reg.status.suspended')}</option>
            <option value="revoked">{t('reg.status.revoked')}</option>
          </select>
        </label>
      </div>
      {error && <p role="alert">{t('reg.failed', { message: error })}</p>}
      {members === null && !error && <p>{t('reg.loading')}</p>}
      {members !== null && (
        <>
          <p aria-live="polite">{t('reg.directory.count', { count: shown.length })}</p>
          {shown.length === 0 ? (
            <p>{t('reg.directory.empty')}</p>
          ) : (
            <div className="reg-table-wrap">
              <table className="reg-table">
                <thead>
                  <tr>
                    <th scope="col">{t('reg.directory.domain')}</th>
                    <th scope="col">{t('reg.directory.pi')}</th>
                    <th scope="col">{t('reg.directory.standing')}</th>
                    <th scope="col">{t('reg.directory.label')}</th>
                    <th scope="col">{t('reg.directory.jurisdiction')}</th>
                    <th scope="col">{t('reg.directory.charter')}</th>
                    <th scope="col">{t('reg.directory.lastCheck')}</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((m) => {
                    const pass = m.checks?.results.filter((r) => r.status === 'pass').length ?? 0;
                    const fail = m.checks?.results.filter((r) => r.status === 'fail').length ?? 0;
                    return (
                      <tr key={m.domain} data-domain={m.domain}>
                        <th scope="row">
                          <Link href={`/members/${m.domain}`}>{m.domain}</Link>
                        </th>
                        <td>
                          <PiBadge pi={m.pi} subject={m.domain} size="small" />
                        </td>
                        <td>
                          <span className={`reg-status reg-status-${m.status}`}>{t(`reg.status.${m.status}`)}</span>
                          {m.status === 'revoked' && (
                            <div className="reg-reason">
                              {t('reg.member.revoked', {
                                date: formatDay(m.revokedAt, i18n.language),
                                reason: m.revocationReason ?? '',
                              })}
                            </div>
                          )}
                          {m.status === 'suspended' && m.suspension && (
                            <div className="reg-reason">
                              {t('reg.member.emergencySuspension', {
                                date: formatDay(m.suspension.until, i18n.language),
                                reason: m.suspension.reason,
                              })}
                            </div>
                          )}
                          {m.status === 'suspended' && m.renewalBlocked && (
                            <div className="reg-reason">
                              {t('reg.member.renewalBlocked', { reason: m.renewalBlocked })}
                            </div>
                          )}
                        </td>
                        <td>
                          {m.status === 'revoked'
                            ? '—'
                            : t('reg.directory.validUntil', { date: formatDay(m.labelExpiresAt, i18n.language) })}
                        </td>
                        <td>{m.jurisdiction ?? '—'}</td>
                        <td>{m.charterVersion ?? '—'}</td>
                        <td>
                          {m.lastCheckAt ? formatDate(m.lastCheckAt, i18n.language) : t('reg.directory.never')}
                          {m.checks && (
                            <div className="reg-reason">{t('reg.directory.checksSummary', { pass, fail })}</div>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
