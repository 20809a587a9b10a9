import { useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { PiBreakdown, PiSummary } from '../api/types.ts';
import { dottedKey } from '../i18n/i18n.ts';
import { PiIcon } from './PiIcon.tsx';
import { piLevelOf } from './pi-levels.ts';

export interface PiBadgeProps {
  /** The PI as the API gave it: a summary (lists) or the full breakdown (a message). null: not computed yet. */
  pi: PiSummary | PiBreakdown | null;
  /** For a summary: fetches the breakdown when the badge is opened. */
  loadBreakdown?: () => Promise<{ breakdown: PiBreakdown; note?: string }>;
  /** What the PI is about, for the dialog's title (e.g. a subject or a person). */
  subject?: string;
  size?: 'small' | 'normal';
  /** false: the badge only shows the level (a legend), without opening a breakdown. */
  interactive?: boolean;
}

const hasBreakdown = (pi: PiSummary | PiBreakdown): pi is PiBreakdown => 'factors' in pi && Array.isArray(pi.factors);

/**
 * The one Privacy Index badge (WEB.md): colour + level word + number + icon, never colour alone. It is a button that
 * opens the breakdown in a modal dialog: factors with their points and the verified fact behind each, the caps that
 * hold the index down, and the suggestions with the gain each would bring.
 */
export function PiBadge({ pi, loadBreakdown, subject, size = 'normal', interactive = true }: PiBadgeProps) {
  const { t } = useTranslation();
  const dialogRef = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const [loaded, setLoaded] = useState<{ breakdown: PiBreakdown; note?: string } | null>(null);
  const [failed, setFailed] = useState(false);
  const titleId = useId();

  useEffect(() => {
    const d = dialogRef.current;
    if (!d) return;
    if (open && !d.open) d.showModal?.();
    if (!open && d.open) d.close();
  }, [open]);

  if (pi === null) {
    return (
      <span className={`pi-badge pi-none pi-${size}`} role="img" aria-label={t('pi.none')}>
        <span aria-hidden="true">–</span>
      </span>
    );
  }
  const level = piLevelOf(pi);
  const levelWord = t(`pi.level.${level}`);
  const breakdown = hasBreakdown(pi) ? { breakdown: pi } : loaded;

  if (!interactive) {
    return (
      <span className={`pi-badge pi-${level} pi-${size}`}>
        <span className="visually-hidden">{t('pi.badgePrefix')} </span>
        <PiIcon level={level} />
        <span className="pi-word">{levelWord}</span> <span className="pi-score">{pi.score}</span>
      </span>
    );
  }

  const onOpen = () => {
    setOpen(true);
    if (!breakdown && loadBreakdown) {
      setFailed(false);
      loadBreakdown().then(setLoaded, () => setFailed(true));
    }
  };

  return (
    <>
      <button
        type="button"
        className={`pi-badge pi-${level} pi-${size}`}
        aria-haspopup="dialog"
        onClick={(e) => {
          e.stopPropagation();
          onOpen();
        }}
      >
        {/* The accessible name is the visible text with its context around it ("Privacy Index: Guarded 42 out of
            100. Show why."), so that what is seen is what a voice user says (WCAG 2.5.3). */}
        <span className="visually-hidden">{t('pi.badgePrefix')} </span>
        <PiIcon level={level} />
        <span className="pi-word">{levelWord}</span> <span className="pi-score">{pi.score}</span>
        <span className="visually-hidden"> {t('pi.badgeSuffix')}</span>
      </button>
      {/* biome-ignore lint/a11y/useKeyWithClickEvents: the backdrop click is a mouse shortcut; Escape and the Close button close it by keyboard. */}
      <dialog
        ref={dialogRef}
        className="pi-dialog"
        aria-labelledby={titleId}
        onClose={() => setOpen(false)}
        onClick={(e) => {
          // A click on the backdrop (the dialog element itself, outside its content) closes it.
          if (e.target === dialogRef.current) setOpen(false);
        }}
      >
        {open && (
          <div className="pi-dialog-body">
            <header className="pi-dialog-header">
              <h2 id={titleId}>{t('pi.breakdown')}</h2>
              <button type="button" className="button-secondary" onClick={() => setOpen(false)}>
                {t('pi.close')}
              </button>
            </header>
            {subject && <p className="pi-subject">{subject}</p>}
            <div className={`pi-summary pi-${level}`}>
              <PiIcon level={level} />
              <span className="pi-word">{levelWord}</span>
              <span className="pi-score">{t('pi.score', { score: pi.score })}</span>
            </div>
            <p>{t(`pi.meaning.${level}`)}</p>
            {breakdown ? (
              <BreakdownDetails breakdown={breakdown.breakdown} note={breakdown.note} />
            ) : failed ? (
              <p role="alert">{t('problem.unexpected')}</p>
            ) : (
              <p role="status">{t('app.loading')}</p>
            )}
          </div>
        )}
      </dialog>
    </>
  );
}

/** The factors, caps and (unless `suggestions` is false) suggestions of a PI: the dialog's body, or inline on a page. */
export function BreakdownDetails({
  breakdown,
  note,
  suggestions = true,
}: {
  breakdown: PiBreakdown;
  note?: string | undefined;
  suggestions?: boolean;
}) {
  const { t } = useTranslation();
  const isCap = (f: { id: string; contribution: number }) => f.id.startsWith('cap.') || f.contribution < 0;
  const factors = breakdown.factors.filter((f) => !isCap(f));
  const caps = breakdown.factors.filter(isCap);
  const factorName = (id: string) => t(`pi.factorName.${dottedKey(id)}`, { defaultValue: id });
  return (
    <>
      {note && <p className="pi-note">{note}</p>}
      <section aria-labelledby="pi-factors-h">
        <h3 id="pi-factors-h">{t('pi.factors')}</h3>
        <table className="pi-factors">
          <thead>
            <tr>
              <th scope="col">{t('pi.factor')}</th>
              <th scope="col" className="num">
                {t('pi.points')}
              </th>
              <th scope="col">{t('pi.fact')}</th>
            </tr>
          </thead>
          <tbody>
            {factors.map((f) => (
              <tr key={f.id}>
                <th scope="row">{factorName(f.id)}</th>
                <td className="num">{f.contribution >= 0 ? `+${f.contribution}` : f.contribution}</td>
                {/* The API states the facts in English: marked so that a screen reader reads them as English. */}
                <td lang="en">{f.evidence}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="pi-caps-h">
        <h3 id="pi-caps-h">{t('pi.caps')}</h3>
        {caps.length === 0 ? (
          <p>{t('pi.noCaps')}</p>
        ) : (
          <>
            <p className="muted">{t('pi.capsHelp')}</p>
            <ul className="pi-caps">
              {caps.map((f) => (
                <li key={f.id}>
                  <strong>{factorName(f.id)}</strong> <span className="num">({f.contribution})</span> —{' '}
                  <span lang="en">{f.evidence}</span>
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
      {suggestions && (
        <section aria-labelledby="pi-suggestions-h">
          <h3 id="pi-suggestions-h">{t('pi.suggestions')}</h3>
          {breakdown.suggestions.length === 0 ? (
            <p>{t('pi.noSuggestions')}</p>
          ) : (
            <ul className="pi-suggestions">
              {breakdown.suggestions.map((s) => (
                <li key={`${s.action}:${s.element}`}>
                  <span className="pi-gain" aria-hidden="true">
                    {t('pi.gain', { gain: s.gain })}
                  </span>
                  <span className="visually-hidden">{t('pi.gainLabel', { gain: s.gain })}: </span>{' '}
                  {t(`pi.action.${dottedKey(s.action)}`, { defaultValue: s.action })}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      <p className="muted small">{t('pi.model', { version: breakdown.modelVersion })}</p>
    </>
  );
}
