import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { RegistryApiError } from './api.ts';
import { ChecksTable } from './ChecksTable.tsx';
import { type ApplicantView, applicantApi } from './console-api.ts';
import { formatDate } from './format.ts';

/** The applicant's token, in memory only: from the follow URL's fragment, or typed in. */
const tokens = new Map<string, string>();

function tokenFromFragment(): string | null {
  const m = /(?:^#|&)token=([A-Za-z0-9_-]{10,200})(?:&|$)/.exec(window.location.hash);
  return m?.[1] ?? null;
}

/**
 * The applicant follows its application: status, the domain-control challenge, each automated check with its
 * evidence and what to fix (and a button to run them again), votes cast so far, the signed declaration, the label
 * and its renewal dates. No sign-in: the capability is the token of the application.
 */
export function ApplicantScreen({ id }: { id: string }) {
  const { t, i18n } = useTranslation();
  const lng = i18n.language;
  const [token, setToken] = useState<string | null>(() => tokenFromFragment() ?? tokens.get(id) ?? null);
  const [typed, setTyped] = useState('');
  const [view, setView] = useState<ApplicantView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [announce, setAnnounce] = useState('');

  const load = useCallback(
    async (tk: string) => {
      setError(null);
      try {
        setView(await applicantApi.view(id, tk));
        tokens.set(id, tk);
      } catch (e) {
        setView(null);
        setError(
          e instanceof RegistryApiError && e.status === 401 ? t('reg.applicant.badToken') : (e as Error).message,
        );
        if (e instanceof RegistryApiError && (e.status === 401 || e.status === 404)) setToken(null);
      }
    },
    [id, t],
  );

  useEffect(() => {
    if (token) void load(token);
  }, [token, load]);

  const onToken = (e: FormEvent) => {
    e.preventDefault();
    if (typed.trim()) setToken(typed.trim());
  };

  const recheck = async () => {
    if (!token) return;
    setBusy(true);
    setAnnounce('');
    try {
      const r = await applicantApi.verify(id, token);
      setView(r.application);
      setAnnounce(
        r.application.checks?.mandatoryPassed ? t('reg.applicant.recheckPassed') : t('reg.applicant.recheckFailed'),
      );
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="applicant-title">
      <h1 id="applicant-title">
        {view ? t('reg.applicant.titleFor', { domain: view.domain }) : t('reg.applicant.title')}
      </h1>
      <p className="reg-intro">{t('reg.applicant.intro')}</p>
      {error && (
        <p role="alert" className="reg-warning">
          {error}
        </p>
      )}
      {!token && (
        <form onSubmit={onToken} className="reg-form">
          <label>
            {t('reg.applicant.tokenLabel')}
            <input
              type="password"
              autoComplete="off"
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
              aria-describedby="token-hint"
            />
          </label>
          <p id="token-hint" className="reg-hint">
            {t('reg.applicant.tokenHint')}
          </p>
          <button type="submit" className="reg-button">
            {t('reg.applicant.open')}
          </button>
        </form>
      )}
      {token && !view && !error && <p>{t('reg.loading')}</p>}
      {view && (
        <>
          <p>
            <span className={`reg-app-status reg-app-status-${view.status}`} data-testid="application-status">
              {t(`reg.applicationStatus.${view.status}`)}
            </span>
            {' · '}
            {t('reg.applicant.submitted', { date: formatDate(view.createdAt, lng) })}
            {view.closedReason && <> · {view.closedReason}</>}
          </p>

          <h2>{t('reg.applicant.decisionTitle')}</h2>
          <ul data-testid="decision">
            <li>
              {t('reg.consensus.approvals', { count: view.votes.approvals, required: view.votes.approvalsRequired })}
            </li>
            <li>{t('reg.consensus.objections', { count: view.votes.objections })}</li>
            <li>
              {view.checks === null
                ? t('reg.consensus.noChecks')
                : view.checks.mandatoryPassed
                  ? t('reg.consensus.checksPass')
                  : t('reg.consensus.checksFail')}
            </li>
            <li>{view.compliance.mandatoryMet ? t('reg.consensus.charterMet') : t('reg.consensus.charterUnmet')}</li>
          </ul>
          {view.decision.reached && <p>{t('reg.applicant.decided')}</p>}

          <h2>{t('reg.applicant.checksTitle')}</h2>
          <div aria-live="polite" className="reg-hint">
            {announce}
          </div>
          {view.checks === null ? (
            <p>{t('reg.applicant.noChecksYet')}</p>
          ) : (
            <ChecksTable run={view.checks} caption={t('reg.applicant.checksTitle')} />
          )}
          {view.status === 'pending' && (
            <p>
              <button type="button" className="reg-button" onClick={recheck} disabled={busy} aria-busy={busy}>
                {busy ? t('reg.applicant.rechecking') : t('reg.applicant.recheck')}
              </button>
            </p>
          )}
          {view.status === 'pending' && (
            <>
              <h3>{t('reg.applicant.challengeTitle')}</h3>
              <p>{t('reg.applicant.challengeIntro')}</p>
              <dl className="reg-dl">
                <dt>{t('reg.applicant.dnsTxt')}</dt>
                <dd>
                  <code className="reg-hash">{view.challenge.dns.name}</code> ={' '}
                  <code className="reg-hash">{view.challenge.dns.value}</code>
                </dd>
                <dt>{t('reg.applicant.httpsFile')}</dt>
                <dd>
                  <code className="reg-hash">{view.challenge.https.url}</code> →{' '}
                  <code className="reg-hash">{view.challenge.https.body}</code>
                </dd>
              </dl>
            </>
          )}

          <h2>{t('reg.applicant.votesTitle')}</h2>
          {!view.votes.auditorNamesShown && <p className="reg-hint">{t('reg.applicant.namesHidden')}</p>}
          {view.votes.cast.length === 0 ? (
            <p>{t('reg.applicant.noVotes')}</p>
          ) : (
            <ul data-testid="votes">
              {view.votes.cast.map((v) => (
                <li key={`${v.castAt}-${v.vote}-${v.reason ?? ''}`}>
                  <strong>{t(`reg.vote.${v.vote}`)}</strong> — {v.auditor ?? t('reg.applicant.anAuditor')},{' '}
                  {formatDate(v.castAt, lng)}
                  {v.reason && <> : « {v.reason} »</>}
                </li>
              ))}
            </ul>
          )}

          <h2>{t('reg.applicant.labelTitle')}</h2>
          {view.renewal === null ? (
            <p>{t('reg.applicant.noLabel')}</p>
          ) : (
            <dl className="reg-dl" data-testid="renewal">
              <dt>{t('reg.directory.standing')}</dt>
              <dd>
                <span className={`reg-status reg-status-${view.renewal.standing}`}>
                  {t(`reg.status.${view.renewal.standing}`)}
                </span>
                {view.renewal.revocationReason && <> — {view.renewal.revocationReason}</>}
                {view.renewal.suspension && (
                  <>
                    {' '}
                    —{' '}
                    {t('reg.applicant.suspendedUntil', {
                      date: formatDate(view.renewal.suspension.until, lng),
                      reason: view.renewal.suspension.reason,
                    })}
                  </>
                )}
              </dd>
              <dt>{t('reg.member.issued')}</dt>
              <dd>{formatDate(view.renewal.labelIssuedAt, lng)}</dd>
              <dt>{t('reg.applicant.renewsFrom')}</dt>
              <dd>{formatDate(view.renewal.renewsFrom, lng)}</dd>
              <dt>{t('reg.member.expires')}</dt>
              <dd>{formatDate(view.renewal.labelExpiresAt, lng)}</dd>
              {view.renewal.renewalBlocked && (
                <>
                  <dt>{t('reg.applicant.renewalBlocked')}</dt>
                  <dd>{view.renewal.renewalBlocked}</dd>
                </>
              )}
            </dl>
          )}

          <h2>{t('reg.applicant.declarationTitle')}</h2>
          <DeclarationFacts view={view} />
          <details>
            <summary>{t('reg.applicant.signedJws')}</summary>
            <p className="reg-hint">{t('reg.applicant.signedJwsHint', { kid: view.keyThumbprints.signing })}</p>
            <pre className="reg-hash reg-pre">{view.declarationJws}</pre>
          </details>
        </>
      )}
    </section>
  );
}

/** The commitments a declaration makes, in words. */
export function DeclarationFacts({ view }: { view: Pick<ApplicantView, 'declaration' | 'charterVersion'> }) {
  const { t } = useTranslation();
  const d = view.declaration;
  const yes = (b: boolean) => (b ? t('reg.checks.yes') : t('reg.checks.no'));
  return (
    <dl className="reg-dl" data-testid="declaration">
      <dt>{t('reg.directory.charter')}</dt>
      <dd>{view.charterVersion}</dd>
      <dt>{t('reg.directory.jurisdiction')}</dt>
      <dd>{d.jurisdiction}</dd>
      <dt>{t('reg.declaration.noResale')}</dt>
      <dd>{yes(d.noResaleOfUserData)}</dd>
      <dt>{t('reg.declaration.noProfiling')}</dt>
      <dd>{yes(d.noProfilingOrAds)}</dd>
      <dt>{t('reg.declaration.logsIp')}</dt>
      <dd>{yes(d.logging.ipAddresses)}</dd>
      <dt>{t('reg.declaration.logRetention')}</dt>
      <dd>{t('reg.declaration.days', { count: d.logging.retentionDays })}</dd>
      <dt>{t('reg.declaration.keyStorage')}</dt>
      <dd>{d.keyStorageOptions.join(', ')}</dd>
      <dt>{t('reg.declaration.incident')}</dt>
      <dd>{t('reg.declaration.days', { count: d.incidentDisclosureDays })}</dd>
      <dt>{t('reg.declaration.email')}</dt>
      <dd>{yes(d.doesEmail)}</dd>
      <dt>{t('reg.declaration.contact')}</dt>
      <dd>
        {d.adminContact.name} &lt;{d.adminContact.email}&gt;
      </dd>
    </dl>
  );
}
