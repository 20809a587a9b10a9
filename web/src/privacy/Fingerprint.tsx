import { useTranslation } from 'react-i18next';
import { fingerprintGroups } from './fingerprint.ts';

/**
 * A fingerprint to compare aloud: uppercase groups of four, in a monospace font, each group its own element so that
 * lines break between groups. Screen readers get the groups separated by commas (read one group at a time).
 */
export function Fingerprint({ value }: { value: string }) {
  const { t } = useTranslation();
  const groups = fingerprintGroups(value);
  return (
    <span className="fingerprint">
      <span className="visually-hidden">{t('contacts.fingerprintSpoken', { groups: groups.join(', ') })}</span>
      <code aria-hidden="true">
        {groups.map((g, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: groups repeat; their place is their identity.
          <span key={i} className="fp-group">
            {g}
          </span>
        ))}
      </code>
    </span>
  );
}
