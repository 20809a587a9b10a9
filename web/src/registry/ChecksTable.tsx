import { useTranslation } from 'react-i18next';
import type { CheckRunView } from './api.ts';
import { formatDate } from './format.ts';

/** The i18n key of what to do about a check that did not pass (`reg.fix.<id with underscores>`). */
export const fixKey = (id: string): string => `reg.fix.${id.replaceAll('.', '_')}`;

/** One check run: each check with its result, points, evidence, and (when it did not pass) what to fix. */
export function ChecksTable({ run, caption }: { run: CheckRunView; caption: string }) {
  const { t, i18n } = useTranslation();
  return (
    <>
      <p>
        {t('reg.member.checksAt', { date: formatDate(run.finishedAt, i18n.language) })} —{' '}
        {run.mandatoryPassed ? t('reg.member.mandatoryPassed') : t('reg.member.mandatoryFailed')}
      </p>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
      <section className="reg-table-wrap" tabIndex={0} aria-label={caption}>
        <table className="reg-table reg-checks">
          <caption className="visually-hidden">{caption}</caption>
          <thead>
            <tr>
              <th scope="col">{t('reg.member.check')}</th>
              <th scope="col">{t('reg.member.result')}</th>
              <th scope="col">{t('reg.checks.mandatory')}</th>
              <th scope="col">{t('reg.member.evidence')}</th>
              <th scope="col">{t('reg.checks.fix')}</th>
            </tr>
          </thead>
          <tbody>
            {run.results.map((r) => (
              <tr key={r.id} data-check={r.id} data-status={r.status}>
                <th scope="row">
                  <code>{r.id}</code>
                </th>
                <td>
                  <span className={`reg-check reg-check-${r.status}`}>{t(`reg.checkStatus.${r.status}`)}</span>
                </td>
                <td>{r.mandatory ? t('reg.checks.yes') : t('reg.checks.no')}</td>
                <td>{r.evidence}</td>
                <td>
                  {r.status === 'pass' || r.status === 'info'
                    ? '—'
                    : t(fixKey(r.id), { defaultValue: t('reg.fix.generic') })}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
