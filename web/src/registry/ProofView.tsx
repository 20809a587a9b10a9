import { useTranslation } from 'react-i18next';
import type { ProofReplay } from './proofs/proof-steps.ts';

function Hash({ value }: { value: string | null | undefined }) {
  return <code className="reg-hash">{value ?? '—'}</code>;
}

/** A proof replayed in the browser: the verdict first, then each hashing step, then the roots compared. */
export function ProofView({
  kind,
  title,
  replay,
  start,
}: {
  kind: 'inclusion' | 'consistency';
  title: string;
  replay: ProofReplay;
  /** The hash the steps start from (the leaf hash; for consistency, the first path node). */
  start: string | null;
}) {
  const { t } = useTranslation();
  const verdict = replay.ok ? 'verified' : 'failed';
  return (
    <section className={`reg-proof reg-proof-${verdict}`} data-proof={kind} data-verdict={verdict} aria-label={title}>
      <h3>{title}</h3>
      <p className={`reg-verdict reg-verdict-${verdict}`} role="status">
        <span aria-hidden="true">{replay.ok ? '✔' : '✘'}</span>{' '}
        {replay.ok
          ? t('reg.log.verified')
          : replay.problem === 'malformed'
            ? t('reg.log.malformed')
            : t('reg.log.failedProof')}
      </p>
      {start !== null && replay.steps.length > 0 && (
        <p>
          {kind === 'inclusion' ? t('reg.log.start') : t('reg.log.startConsistency')}: <Hash value={start} />
        </p>
      )}
      {replay.steps.length === 0 && replay.problem === null && <p>{t('reg.log.noSteps')}</p>}
      {replay.steps.length > 0 && (
        <ol className="reg-steps">
          {replay.steps.map((s) => (
            <li key={s.n} data-side={s.side}>
              <strong>{t('reg.log.step', { n: s.n })}</strong>{' '}
              <span className="reg-formula">{s.side === 'left' ? t('reg.log.stepLeft') : t('reg.log.stepRight')}</span>
              <dl className="reg-dl">
                <dt>{t('reg.log.proofHash')}</dt>
                <dd>
                  <Hash value={s.sibling} />
                </dd>
                <dt>{t('reg.log.running')}</dt>
                <dd>
                  <Hash value={s.after} />
                </dd>
                {s.oldAfter && (
                  <>
                    <dt>{t('reg.log.oldRunning')}</dt>
                    <dd>
                      <Hash value={s.oldAfter} />
                    </dd>
                  </>
                )}
              </dl>
            </li>
          ))}
        </ol>
      )}
      <dl className="reg-dl reg-roots">
        {kind === 'consistency' && (
          <>
            <dt>{t('reg.log.computedOld')}</dt>
            <dd>
              <Hash value={replay.computedOldRoot} />
            </dd>
            <dt>{t('reg.log.expectedOld')}</dt>
            <dd>
              <Hash value={replay.expectedOldRoot} />
            </dd>
          </>
        )}
        <dt>{t('reg.log.computed')}</dt>
        <dd>
          <Hash value={replay.computedRoot} />
        </dd>
        <dt>{t('reg.log.expected')}</dt>
        <dd>
          <Hash value={replay.expectedRoot} />
        </dd>
      </dl>
    </section>
  );
}
