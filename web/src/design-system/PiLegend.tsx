import { useTranslation } from 'react-i18next';
import { PI_LEVELS } from './pi-levels.ts';
import { PiBadge } from './PiBadge.tsx';

/** The six levels of the Privacy Index with what each means (the badge's padlock legend). */
export function PiLegend() {
  const { t } = useTranslation();
  let min = 0;
  return (
    <section className="pi-legend" aria-labelledby="pi-legend-h">
      <h2 id="pi-legend-h">{t('pi.legend')}</h2>
      <ul>
        {PI_LEVELS.map(({ level, max }) => {
          const from = min;
          min = max + 1;
          return (
            <li key={level}>
              <PiBadge pi={{ score: max, level, modelVersion: '' }} interactive={false} size="small" />
              <span>
                <span className="muted small">
                  {from}–{max}
                </span>{' '}
                {t(`pi.meaning.${level}`)}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
