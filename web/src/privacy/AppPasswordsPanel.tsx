import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { AppPassword } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { useSession } from '../app/session.tsx';

/**
 * Passwords for mail apps (GET/POST/DELETE /api/v1/me/app-passwords): the list (label, made, last used), a form to
 * make one — its secret shown once, focused so a screen reader reads it — and a revoke button per password.
 */
export function AppPasswordsPanel() {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const [items, setItems] = useState<AppPassword[] | null>(null);
  const [label, setLabel] = useState('');
  const [made, setMade] = useState<{ label: string; password: string } | null>(null);
  const [status, setStatus] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const labelId = useId();
  const madeRef = useRef<HTMLParagraphElement>(null);
  const date = new Intl.DateTimeFormat(i18n.resolvedLanguage ?? 'en', { dateStyle: 'medium' });

  const load = useCallback(() => {
    api.appPasswords().then((r) => setItems(r.items), setError);
  }, [api]);
  useEffect(load, [load]);
  useEffect(() => {
    if (made) madeRef.current?.focus();
  }, [made]);

  return (
    <>
      <p>{t('privacy.appPasswordsHelp', { host: window.location.hostname })}</p>
      {error !== null && <ProblemMessage error={error} />}
      {made && (
        <p ref={madeRef} tabIndex={-1} className="app-password-made">
          {t('privacy.appPasswordShown', { label: made.label })} <code>{made.password}</code>
        </p>
      )}
      {items !== null &&
        (items.length === 0 ? (
          <p className="muted">{t('privacy.appPasswordsNone')}</p>
        ) : (
          <ul className="app-passwords">
            {items.map((p) => (
              <li key={p.id}>
                <strong>{p.label}</strong>{' '}
                <span className="muted small">
                  {t('privacy.appPasswordCreated', { date: date.format(new Date(p.createdAt)) })},{' '}
                  {p.lastUsedAt
                    ? t('privacy.appPasswordUsed', { date: date.format(new Date(p.lastUsedAt)) })
                    : t('privacy.appPasswordNeverUsed')}
                </span>{' '}
                <button
                  type="button"
                  className="button-secondary"
                  aria-label={t('privacy.appPasswordRevokeNamed', { label: p.label })}
                  onClick={() => {
                    setError(null);
                    api.revokeAppPassword(p.id).then(() => {
                      setStatus(t('privacy.appPasswordRevoked', { label: p.label }));
                      if (made?.label === p.label) setMade(null);
                      load();
                    }, setError);
                  }}
                >
                  {t('privacy.appPasswordRevoke')}
                </button>
              </li>
            ))}
          </ul>
        ))}
      <form
        className="key-task"
        aria-label={t('privacy.appPasswordCreate')}
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          setStatus('');
          api
            .createAppPassword(label.trim())
            .then((r) => {
              setMade({ label: r.label, password: r.password });
              setLabel('');
              load();
            })
            .catch(setError)
            .finally(() => setBusy(false));
        }}
      >
        <div className="field">
          <label htmlFor={labelId}>{t('privacy.appPasswordLabel')}</label>
          <input
            id={labelId}
            required
            maxLength={64}
            value={label}
            placeholder="Thunderbird"
            onChange={(e) => setLabel(e.target.value)}
          />
        </div>
        <button type="submit" className="button-primary" disabled={busy}>
          {t('privacy.appPasswordCreate')}
        </button>
      </form>
      <p className="muted small" role="status">
        {status}
      </p>
    </>
  );
}
