import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import type { PeerInstance } from '../api/types.ts';
import { PiBadge } from '../design-system/PiBadge.tsx';

/**
 * The card's promise (issue 12, "Cross-instance trust"): for a correspondent on a member instance, the instance's
 * name, its label — issuer, valid until, standing (valid / suspended / revoked / expired) with the reason the registry
 * gives — and its instance PI with the breakdown, all from the registry's verified feed. A label that is no longer
 * valid is said plainly, as an alert.
 */
export function PeerCard({ peer }: { peer: PeerInstance }) {
  const { t, i18n } = useTranslation();
  const id = useId();
  const e = peer.entry;
  if (e === null) return null;
  const until = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'long' }).format(new Date(e.labelExpiresAt));
  const standing = e.standing === 'labelled' ? 'valid' : e.standing;
  return (
    <section className={`peer-card peer-${standing}`} aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`} className="peer-card-title">
        {t('peer.title', { instance: peer.domain })}
      </h2>
      {!e.labelValid && (
        <p className="peer-alert" role="alert">
          {t(`peer.lost.${standing}`, { instance: peer.domain })}
          {e.revocation?.reason ? ` ${t('peer.reason', { reason: e.revocation.reason })}` : ''}
        </p>
      )}
      <dl className="peer-facts">
        <div>
          <dt>{t('peer.standing')}</dt>
          <dd>
            <strong className={`peer-standing peer-standing-${standing}`}>{t(`peer.status.${standing}`)}</strong>
          </dd>
        </div>
        <div>
          <dt>{t('peer.issuer')}</dt>
          <dd>{e.issuer ?? t('peer.unknownIssuer')}</dd>
        </div>
        <div>
          <dt>{t('peer.validUntil')}</dt>
          <dd>
            <time dateTime={e.labelExpiresAt}>{until}</time>
          </dd>
        </div>
        <div>
          <dt>{t('peer.instancePi')}</dt>
          <dd>
            <PiBadge pi={e.instancePi} size="small" subject={t('peer.instancePiOf', { instance: peer.domain })} />
          </dd>
        </div>
      </dl>
    </section>
  );
}
