import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Notice } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { onLinkClick } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { deliveryAdvice } from './delivery-advice.ts';
import { refreshNotices, useNotices } from './use-notices.ts';
import './notices.css';

/** What the user should know that is not a message: the instance's standing, failed deliveries; each dismissable. */
export function NoticesScreen() {
  const { t } = useTranslation();
  const { api } = useSession();
  const { items, error, reload } = useNotices(api);
  const [showDismissed, setShowDismissed] = useState(false);
  const [dismissError, setDismissError] = useState<unknown>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);

  const shown = items?.filter((n) => showDismissed || !n.dismissed) ?? [];
  const dismissedCount = items?.filter((n) => n.dismissed).length ?? 0;

  const dismiss = async (n: Notice) => {
    setDismissError(null);
    try {
      await api.dismissNotice(n.id);
      refreshNotices();
      headingRef.current?.focus();
    } catch (e) {
      setDismissError(e);
    }
  };

  return (
    <section className="notices" aria-labelledby="notices-h">
      <div className="screen-head">
        <h1 id="notices-h" ref={headingRef} tabIndex={-1}>
          {t('notices.title')}
        </h1>
        {dismissedCount > 0 && (
          <button
            type="button"
            className="toggle"
            aria-pressed={showDismissed}
            onClick={() => setShowDismissed((s) => !s)}
          >
            {t('notices.showDismissed', { count: dismissedCount })}
          </button>
        )}
      </div>
      {error !== null && <ProblemMessage error={error} onRetry={reload} />}
      {dismissError !== null && <ProblemMessage error={dismissError} />}
      {items === null && error === null && <p role="status">{t('app.loading')}</p>}
      {items !== null && shown.length === 0 && <p className="empty">{t('notices.empty')}</p>}
      {shown.length > 0 && (
        <ul className="notice-list">
          {shown.map((n) => (
            <li key={n.id} className={`notice-card card notice-${n.kind}${n.dismissed ? ' dismissed' : ''}`}>
              {n.kind === 'standing' ? <StandingNotice notice={n} /> : <DeliveryNotice notice={n} />}
              {!n.dismissed && (
                <button
                  type="button"
                  className="button-secondary"
                  onClick={() => void dismiss(n)}
                  aria-label={t('notices.dismissLabel', {
                    what: n.kind === 'standing' ? t('notices.standingTitle') : (n.subject ?? t('notices.yourMessage')),
                  })}
                >
                  {t('notices.dismiss')}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function When({ at }: { at: string | null }) {
  const { i18n } = useTranslation();
  if (at === null) return null;
  const d = new Date(at);
  return (
    <time className="muted small" dateTime={d.toISOString()}>
      {new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'short' }).format(d)}
    </time>
  );
}

function StandingNotice({ notice: n }: { notice: Extract<Notice, { kind: 'standing' }> }) {
  const { t } = useTranslation();
  const status = ['revoked', 'suspended', 'expired', 'absent', 'labelled'].includes(n.status) ? n.status : 'other';
  return (
    <div className="notice-body">
      <h2>{n.change === 'resumed' ? t('notices.standingResumedTitle') : t('notices.standingTitle')}</h2>
      <When at={n.at} />
      <p>{t(`notices.standing.${n.change === 'resumed' ? 'resumed' : status}`)}</p>
      {n.reason && <p>{t('notices.standingReason', { reason: n.reason })}</p>}
      {n.change === 'stopped' && <p>{t('notices.standingMeanwhile')}</p>}
    </div>
  );
}

function DeliveryNotice({ notice: n }: { notice: Extract<Notice, { kind: 'delivery' }> }) {
  const { t } = useTranslation();
  const subject = n.subject ?? t('notices.yourMessage');
  return (
    <div className="notice-body">
      <h2>{t('notices.deliveryTitle', { subject })}</h2>
      <When at={n.at} />
      <ul className="notice-recipients">
        {n.recipients.map((r) => {
          const advice = deliveryAdvice(r.status);
          return (
            <li key={r.address}>
              <p>
                <strong>{r.address}</strong> — {t(`notices.why.${advice}`)}
              </p>
              <p className="muted small">
                {t('notices.theirWords')} <q>{r.diagnostic}</q> ({r.status})
              </p>
              <p>{t(`notices.todo.${advice}`)}</p>
            </li>
          );
        })}
      </ul>
      {n.conversationId && (
        <a href={`/discussions/${n.conversationId}`} onClick={onLinkClick(`/discussions/${n.conversationId}`)}>
          {t('notices.openDiscussion')}
        </a>
      )}
    </div>
  );
}
