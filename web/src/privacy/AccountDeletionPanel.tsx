import { type FormEvent, useCallback, useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { AccountDeletionStatus } from '../api/client.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { useSession } from '../app/session.tsx';

/**
 * "Delete my account": the password (and the two-factor code when enabled) asks for the deletion, which signs the
 * user out everywhere; signing in again during the grace period shows the date and a button that cancels it.
 */
export function AccountDeletionPanel({ totpEnabled }: { totpEnabled: boolean }) {
  const { t, i18n } = useTranslation();
  const { api, signOut } = useSession();
  const [status, setStatus] = useState<AccountDeletionStatus | null>(null);
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [cancelled, setCancelled] = useState(false);
  const passwordId = useId();
  const codeId = useId();

  const load = useCallback(async () => {
    try {
      setStatus(await api.accountDeletion());
    } catch (e) {
      setError(e);
    }
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);

  const when = (iso: string) =>
    new Intl.DateTimeFormat(i18n.language, { dateStyle: 'long', timeStyle: 'short' }).format(new Date(iso));

  const ask = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await api.requestAccountDeletion(password, totpEnabled ? code : undefined);
      setPassword('');
      await signOut();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const cancel = async () => {
    setError(null);
    setBusy(true);
    try {
      await api.cancelAccountDeletion();
      setCancelled(true);
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="account-deletion-h">
      <h2 id="account-deletion-h">{t('accountDeletion.title')}</h2>
      {status?.pending === true ? (
        <>
          <p role="alert">{t('accountDeletion.pending', { date: when(status.dueAt) })}</p>
          <button type="button" onClick={() => void cancel()} disabled={busy} aria-busy={busy}>
            {t('accountDeletion.cancel')}
          </button>
        </>
      ) : (
        <form onSubmit={(e) => void ask(e)}>
          <p>{t('accountDeletion.summary')}</p>
          <label htmlFor={passwordId}>{t('accountDeletion.password')}</label>
          <input
            id={passwordId}
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          {totpEnabled && (
            <>
              <label htmlFor={codeId}>{t('accountDeletion.code')}</label>
              <input
                id={codeId}
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9]{6}"
                required
                value={code}
                onChange={(e) => setCode(e.target.value)}
              />
            </>
          )}
          <button type="submit" className="button-primary danger" disabled={busy || status === null} aria-busy={busy}>
            {t('accountDeletion.submit')}
          </button>
        </form>
      )}
      <p role="status" aria-live="polite">
        {cancelled && status?.pending === false ? t('accountDeletion.cancelled') : ''}
      </p>
      {error !== null && <ProblemMessage error={error} />}
    </section>
  );
}
