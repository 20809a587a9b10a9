import { type FormEvent, useCallback, useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { RegistryApiError } from './api.ts';
import { DeclarationFacts } from './ApplicantScreen.tsx';
import { ChecksTable } from './ChecksTable.tsx';
import {
  type AuditEventView,
  type AuditorApplication,
  type ConsoleMember,
  type Consensus,
  type KeyStatus,
  type Proposal,
  type Rule,
  type VoteValue,
  consoleApi,
} from './console-api.ts';
import { formatDate } from './format.ts';

type Tab = 'queue' | 'members' | 'revocations' | 'trail' | 'keys';
const TABS: Tab[] = ['queue', 'members', 'revocations', 'trail', 'keys'];

/**
 * The auditors' console: sign in (the session is an HttpOnly cookie, never in page storage), the review queue with
 * checks, evidence, declaration and history; votes with a reason; members with re-check failures, emergency
 * suspension and revocation proposals decided by consensus; the audit trail; the registry keys.
 */
export function ConsoleScreen() {
  const { t } = useTranslation();
  const [who, setWho] = useState<string | null | undefined>(undefined);
  const [tab, setTab] = useState<Tab>('queue');

  useEffect(() => {
    consoleApi.session().then(
      (s) => setWho(s.auditor.name),
      () => setWho(null),
    );
  }, []);

  if (who === undefined) return <p>{t('reg.loading')}</p>;
  if (who === null) return <SignIn onSignedIn={setWho} />;
  return (
    <section aria-labelledby="console-title">
      <div className="reg-console-head">
        <h1 id="console-title">{t('reg.console.title')}</h1>
        <p>
          {t('reg.console.signedInAs', { name: who })}{' '}
          <button
            type="button"
            className="reg-button-secondary"
            onClick={() => void consoleApi.logout().finally(() => setWho(null))}
          >
            {t('reg.console.signOut')}
          </button>
        </p>
      </div>
      <nav aria-label={t('reg.console.sections')} className="reg-tabs">
        {TABS.map((x) => (
          <button
            key={x}
            type="button"
            aria-pressed={tab === x}
            className={tab === x ? 'reg-button' : 'reg-button-secondary'}
            onClick={() => setTab(x)}
          >
            {t(`reg.console.tab.${x}`)}
          </button>
        ))}
      </nav>
      {tab === 'queue' && <QueuePanel />}
      {tab === 'members' && <MembersPanel />}
      {tab === 'revocations' && <RevocationsPanel />}
      {tab === 'trail' && <TrailPanel />}
      {tab === 'keys' && <KeysPanel />}
    </section>
  );
}

function SignIn({ onSignedIn }: { onSignedIn: (name: string) => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await consoleApi.login(name.trim(), password);
      setPassword('');
      onSignedIn(r.auditor.name);
    } catch (err) {
      setError(
        err instanceof RegistryApiError && err.code
          ? t(`reg.problem.${err.code}`, { defaultValue: err.message })
          : String(err),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="signin-title">
      <h1 id="signin-title">{t('reg.console.signInTitle')}</h1>
      <p className="reg-intro">{t('reg.console.signInIntro')}</p>
      <form onSubmit={submit} className="reg-form">
        <label>
          {t('reg.console.name')}
          <input autoComplete="username" value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          {t('reg.console.password')}
          <input
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error && (
          <p role="alert" className="reg-warning">
            {error}
          </p>
        )}
        <button type="submit" className="reg-button" disabled={busy}>
          {t('reg.console.signIn')}
        </button>
      </form>
    </section>
  );
}

/** Loads something for a panel; `reload` after an action. */
function useLoad<T>(load: () => Promise<T>): { data: T | null; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [n, setN] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: reloads on demand
  useEffect(() => {
    load().then(setData, (e: Error) => setError(e.message));
  }, [n]);
  return { data, error, reload: useCallback(() => setN((x) => x + 1), []) };
}

function ConsensusLine({ consensus }: { consensus: Consensus }) {
  const { t } = useTranslation();
  return (
    <p data-testid="consensus">
      <progress
        max={consensus.approvalsRequired}
        value={Math.min(consensus.approvals, consensus.approvalsRequired)}
        aria-label={t('reg.consensus.progress')}
      />{' '}
      {t('reg.consensus.approvals', { count: consensus.approvals, required: consensus.approvalsRequired })} ·{' '}
      {t('reg.consensus.objections', { count: consensus.objections })} ·{' '}
      {t('reg.consensus.abstentions', { count: consensus.abstentions })}
      {consensus.reached && <> · {t('reg.consensus.reached')}</>}
    </p>
  );
}

function RuleLine() {
  const { t } = useTranslation();
  const { data } = useLoad<Rule>(consoleApi.rule);
  if (!data) return null;
  return (
    <p className="reg-hint" data-testid="rule">
      {t('reg.consensus.rule', { count: data.approvalsRequired, hours: data.emergencySuspensionHours })}
    </p>
  );
}

function VoteForm({ label, onVote }: { label: string; onVote: (vote: VoteValue, reason: string) => Promise<unknown> }) {
  const { t } = useTranslation();
  const id = useId();
  const [vote, setVote] = useState<VoteValue>('approve');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onVote(vote, reason);
      setReason('');
    } catch (err) {
      setError(
        err instanceof RegistryApiError && err.code
          ? t(`reg.problem.${err.code}`, { defaultValue: err.message })
          : String(err),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} className="reg-form reg-vote">
      <fieldset>
        <legend>{label}</legend>
        {(['approve', 'object', 'abstain'] as const).map((v) => (
          <label key={v} className="reg-radio">
            <input type="radio" name={`${id}-vote`} value={v} checked={vote === v} onChange={() => setVote(v)} />{' '}
            {t(`reg.vote.${v}`)}
          </label>
        ))}
      </fieldset>
      <label>
        {t('reg.console.reason')}
        <textarea value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2000} rows={2} />
      </label>
      {error && (
        <p role="alert" className="reg-warning">
          {error}
        </p>
      )}
      <button type="submit" className="reg-button" disabled={busy}>
        {t('reg.console.castVote')}
      </button>
    </form>
  );
}

function ReasonAction({
  label,
  button,
  onSubmit,
  danger,
}: {
  label: string;
  button: string;
  onSubmit: (reason: string) => Promise<unknown>;
  danger?: boolean;
}) {
  const { t } = useTranslation();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await onSubmit(reason);
      setReason('');
    } catch (err) {
      setError(
        err instanceof RegistryApiError && err.code
          ? t(`reg.problem.${err.code}`, { defaultValue: err.message })
          : String(err),
      );
    }
  };
  return (
    <form onSubmit={submit} className="reg-form reg-inline-form">
      <label>
        {label}
        <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2000} required />
      </label>
      <button type="submit" className={danger ? 'reg-button reg-button-danger' : 'reg-button'}>
        {button}
      </button>
      {error && (
        <p role="alert" className="reg-warning">
          {error}
        </p>
      )}
    </form>
  );
}

function VotesList({
  votes,
}: {
  votes: { auditor: string; vote: VoteValue; reason: string | null; castAt: string }[];
}) {
  const { t, i18n } = useTranslation();
  if (votes.length === 0) return <p>{t('reg.applicant.noVotes')}</p>;
  return (
    <ul data-testid="votes">
      {votes.map((v) => (
        <li key={`${v.auditor}-${v.castAt}`}>
          <strong>{v.auditor}</strong>: {t(`reg.vote.${v.vote}`)}, {formatDate(v.castAt, i18n.language)}
          {v.reason && <> — « {v.reason} »</>}
        </li>
      ))}
    </ul>
  );
}

function QueuePanel() {
  const { t, i18n } = useTranslation();
  const queue = useLoad(consoleApi.queue);
  const events = useLoad(consoleApi.events);
  const [done, setDone] = useState('');
  return (
    <section aria-labelledby="queue-title">
      <h2 id="queue-title">{t('reg.console.tab.queue')}</h2>
      <RuleLine />
      <div aria-live="polite" className="reg-hint">
        {done}
      </div>
      {queue.error && <p role="alert">{queue.error}</p>}
      {queue.data && queue.data.applications.length === 0 && <p>{t('reg.console.queueEmpty')}</p>}
      {queue.data?.applications.map((a: AuditorApplication) => (
        <article key={a.id} className="reg-card" data-application={a.domain} aria-labelledby={`app-${a.id}`}>
          <h3 id={`app-${a.id}`}>{a.domain}</h3>
          <p className="reg-hint">
            {t('reg.applicant.submitted', { date: formatDate(a.createdAt, i18n.language) })} ·{' '}
            {a.listed ? t('reg.console.listed') : t('reg.console.gated')}
          </p>
          <ConsensusLine consensus={a.consensus} />
          <h4>{t('reg.applicant.checksTitle')}</h4>
          {a.checks ? (
            <ChecksTable run={a.checks} caption={t('reg.applicant.checksTitle')} />
          ) : (
            <p>{t('reg.applicant.noChecksYet')}</p>
          )}
          <h4>{t('reg.applicant.votesTitle')}</h4>
          <VotesList votes={a.votes} />
          <details>
            <summary>{t('reg.console.declaration')}</summary>
            <DeclarationFacts view={a} />
            <pre className="reg-hash reg-pre">{a.declarationJws}</pre>
          </details>
          <details>
            <summary>{t('reg.console.history')}</summary>
            <History events={(events.data?.events ?? []).filter((e) => e.domain === a.domain)} />
          </details>
          <VoteForm
            label={t('reg.console.voteOn', { domain: a.domain })}
            onVote={async (vote, reason) => {
              const r = await consoleApi.vote(a.id, vote, reason);
              setDone(
                r.status === 'approved'
                  ? t('reg.console.approvedNow', { domain: a.domain })
                  : t('reg.console.voteRecorded', { domain: a.domain }),
              );
              queue.reload();
              events.reload();
            }}
          />
        </article>
      ))}
    </section>
  );
}

function MembersPanel() {
  const { t, i18n } = useTranslation();
  const members = useLoad(consoleApi.members);
  const [done, setDone] = useState('');
  const act = (message: string) => {
    setDone(message);
    members.reload();
  };
  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">{t('reg.console.tab.members')}</h2>
      <RuleLine />
      <div aria-live="polite" className="reg-hint">
        {done}
      </div>
      {members.error && <p role="alert">{members.error}</p>}
      {members.data?.members.map((m: ConsoleMember) => (
        <article key={m.domain} className="reg-card" data-member={m.domain} aria-labelledby={`m-${m.domain}`}>
          <h3 id={`m-${m.domain}`}>{m.domain}</h3>
          <p>
            <span className={`reg-status reg-status-${m.status}`}>{t(`reg.status.${m.status}`)}</span>
            {m.status !== 'revoked' && (
              <> · {t('reg.directory.validUntil', { date: formatDate(m.labelExpiresAt, i18n.language) })}</>
            )}
            {m.reason && <> — {m.reason}</>}
          </p>
          {m.renewalBlocked && (
            <p className="reg-warning">{t('reg.member.renewalBlocked', { reason: m.renewalBlocked })}</p>
          )}
          {m.suspension && (
            <p className="reg-warning">
              {t('reg.console.suspendedBy', {
                name: m.suspension.by,
                until: formatDate(m.suspension.until, i18n.language),
                reason: m.suspension.reason,
              })}
            </p>
          )}
          {m.checks && (
            <details open={m.renewalBlocked !== null}>
              <summary>{t('reg.member.checksTitle')}</summary>
              <ChecksTable run={m.checks} caption={t('reg.member.checksTitle')} />
            </details>
          )}
          {m.proposal && (
            <div className="reg-proposal" data-testid="proposal">
              <h4>{t('reg.console.proposalTitle')}</h4>
              <p>
                {t('reg.console.proposedBy', {
                  name: m.proposal.proposedBy,
                  date: formatDate(m.proposal.proposedAt, i18n.language),
                })}{' '}
                « {m.proposal.reason} »
              </p>
              <ConsensusLine consensus={m.proposal.consensus} />
              <VotesList votes={m.proposal.votes} />
              <VoteForm
                label={t('reg.console.voteOnRevocation', { domain: m.domain })}
                onVote={async (vote, reason) => {
                  await consoleApi.voteRevocation(m.domain, vote, reason);
                  act(t('reg.console.voteRecorded', { domain: m.domain }));
                }}
              />
            </div>
          )}
          {m.status !== 'revoked' && (
            <>
              {!m.proposal && (
                <ReasonAction
                  label={t('reg.console.revocationReason', { domain: m.domain })}
                  button={t('reg.console.propose')}
                  onSubmit={async (reason) => {
                    await consoleApi.propose(m.domain, reason);
                    act(t('reg.console.proposed', { domain: m.domain }));
                  }}
                />
              )}
              {!m.suspension && (
                <ReasonAction
                  danger
                  label={t('reg.console.suspensionReason', { domain: m.domain })}
                  button={t('reg.console.suspend')}
                  onSubmit={async (reason) => {
                    await consoleApi.suspend(m.domain, reason);
                    act(t('reg.console.suspended', { domain: m.domain }));
                  }}
                />
              )}
            </>
          )}
        </article>
      ))}
    </section>
  );
}

function RevocationsPanel() {
  const { t, i18n } = useTranslation();
  const proposals = useLoad(consoleApi.proposals);
  return (
    <section aria-labelledby="rev-title">
      <h2 id="rev-title">{t('reg.console.tab.revocations')}</h2>
      <RuleLine />
      {proposals.data && proposals.data.proposals.length === 0 && <p>{t('reg.console.noProposals')}</p>}
      {proposals.data?.proposals.map((p: Proposal) => (
        <article key={p.id} className="reg-card" data-proposal={p.domain} aria-labelledby={`p-${p.id}`}>
          <h3 id={`p-${p.id}`}>
            {p.domain} — {t(`reg.console.proposalStatus.${p.status}`)}
          </h3>
          <p>
            {t('reg.console.proposedBy', { name: p.proposedBy, date: formatDate(p.proposedAt, i18n.language) })} «{' '}
            {p.reason} »
          </p>
          <ConsensusLine consensus={p.consensus} />
          <VotesList votes={p.votes} />
        </article>
      ))}
    </section>
  );
}

function History({ events }: { events: AuditEventView[] }) {
  const { t, i18n } = useTranslation();
  if (events.length === 0) return <p>{t('reg.console.noEvents')}</p>;
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
    <section className="reg-table-wrap" tabIndex={0} aria-label={t('reg.console.tab.trail')}>
      <table className="reg-table">
        <caption className="visually-hidden">{t('reg.console.tab.trail')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('reg.console.when')}</th>
            <th scope="col">{t('reg.console.who')}</th>
            <th scope="col">{t('reg.console.action')}</th>
            <th scope="col">{t('reg.directory.domain')}</th>
            <th scope="col">{t('reg.console.detail')}</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id} data-action={e.action}>
              <td>{formatDate(e.at, i18n.language)}</td>
              <td>{e.auditor ?? t('reg.console.registry')}</td>
              <td>{t(`reg.action.${e.action.replaceAll('.', '_')}`, { defaultValue: e.action })}</td>
              <td>{e.domain}</td>
              <td>
                {Object.entries(e.detail)
                  .filter(([, v]) => v !== null && v !== '')
                  .map(([k, v]) => `${k}: ${String(v)}`)
                  .join(' · ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function TrailPanel() {
  const { t } = useTranslation();
  const events = useLoad(consoleApi.events);
  return (
    <section aria-labelledby="trail-title">
      <h2 id="trail-title">{t('reg.console.tab.trail')}</h2>
      <p className="reg-hint">{t('reg.console.trailIntro')}</p>
      {events.data && <History events={events.data.events} />}
    </section>
  );
}

function KeysPanel() {
  const { t, i18n } = useTranslation();
  const keys = useLoad<KeyStatus>(consoleApi.keys);
  const lng = i18n.language;
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">{t('reg.console.tab.keys')}</h2>
      <p className="reg-hint">{t('reg.console.keysIntro')}</p>
      {keys.data && (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
        <section className="reg-table-wrap" tabIndex={0} aria-label={t('reg.console.tab.keys')}>
          <table className="reg-table">
            <caption className="visually-hidden">{t('reg.console.tab.keys')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('reg.console.kid')}</th>
                <th scope="col">{t('reg.console.keyStatus')}</th>
                <th scope="col">{t('reg.console.validFrom')}</th>
                <th scope="col">{t('reg.console.rotateBy')}</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.keys.map((k) => (
                <tr key={k.kid} data-kid={k.kid}>
                  <th scope="row">
                    <code className="reg-hash">{k.kid}</code>
                  </th>
                  <td>{t(`reg.console.key.${k.status}`, { defaultValue: k.status })}</td>
                  <td>{formatDate(k.notBefore, lng)}</td>
                  <td>{formatDate(k.notAfter, lng)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </section>
  );
}
