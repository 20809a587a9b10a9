import { useTranslation } from 'react-i18next';
import type { JournalEntry } from '../api/types.ts';
import { formatBytes } from '../app/format-bytes.ts';

/** The words of an entry's details (quota from/to, role, what was created). */
function detailsOf(e: JournalEntry, t: (k: string, o?: Record<string, unknown>) => string, lang: string): string {
  const d = e.details;
  if (e.action === 'account.quota_changed' && typeof d.from === 'number' && typeof d.to === 'number')
    return t('journal.detail.fromTo', { from: formatBytes(d.from, lang), to: formatBytes(d.to, lang) });
  if (e.action === 'account.role_changed')
    return t('journal.detail.fromTo', { from: t(`journal.role.${d.from}`), to: t(`journal.role.${d.to}`) });
  if (e.action === 'account.created' && typeof d.quotaBytes === 'number')
    return t('journal.detail.created', { role: t(`journal.role.${d.role}`), quota: formatBytes(d.quotaBytes, lang) });
  return '';
}

/**
 * Entries of the admin actions journal as a table: when, who, what (and, for the operator's console, about whom).
 * The hash of each entry is shown shortened, for an auditor comparing with an export.
 */
export function JournalList({
  items,
  showSubject,
  labelledBy,
}: {
  items: JournalEntry[];
  showSubject: boolean;
  labelledBy: string;
}) {
  const { t, i18n } = useTranslation();
  const lang = i18n.resolvedLanguage ?? 'en';
  const when = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
  return (
    <div className="table-scroll">
      <table className="data-table journal-table" aria-labelledby={labelledBy}>
        <thead>
          <tr>
            <th scope="col">{t('journal.when')}</th>
            <th scope="col">{t('journal.who')}</th>
            <th scope="col">{t('journal.what')}</th>
            {showSubject && <th scope="col">{t('journal.account')}</th>}
            <th scope="col">{t('journal.details')}</th>
            <th scope="col">{t('journal.seal')}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((e) => (
            <tr key={e.seq} data-action={e.action}>
              <td>
                <time dateTime={e.at}>{when.format(new Date(e.at))}</time>
              </td>
              <td>{e.actor.kind === 'admin' ? e.actor.username : t('journal.byCli')}</td>
              <td>{t(`journal.action.${e.action.replace('.', '_')}`, { defaultValue: e.action })}</td>
              {showSubject && <td>{e.subject?.username ?? t('journal.instanceWide')}</td>}
              <td>{detailsOf(e, t, lang)}</td>
              <td>
                <code title={e.hash}>
                  #{e.seq} {e.hash.slice(0, 12)}
                </code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
