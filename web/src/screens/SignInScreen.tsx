import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client.ts';
import { problemText } from '../app/ProblemMessage.tsx';
import { useSession } from '../app/session.tsx';
import { PiLegend } from '../design-system/PiLegend.tsx';

/**
 * Sign in: username and password, then the two-factor code when the API answers `totp_required`. Errors are sentences
 * mapped from the problem's code. `alice@alpha.test` is accepted as well as `alice` (the instance's own accounts).
 */
export function SignInScreen({ notice }: { notice: 'sessionEnded' | 'signedOut' | null }) {
  const { t } = useTranslation();
  const { api, signedIn } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [step, setStep] = useState<'password' | 'totp'>('password');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const totpRef = useRef<HTMLInputElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (step === 'totp') totpRef.current?.focus();
  }, [step]);
  useEffect(() => {
    headingRef.current?.focus();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const user = username.trim().replace(/@[^@]*$/, '');
    try {
      const r = await api.login(user, password, step === 'totp' ? totp.trim() : undefined);
      signedIn({
        token: r.token,
        expiresAt: r.expiresAt,
        username: r.account.username,
        displayName: r.account.displayName,
        role: r.account.role,
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'totp_required' && step === 'password') {
        setStep('totp');
      } else {
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="sign-in">
      <div className="card sign-in-card">
        <h1 ref={headingRef} tabIndex={-1}>
          {t('signIn.title')}
        </h1>
        <p className="muted">{t('signIn.intro')}</p>
        {notice && !error && (
          <p className="notice" role="status">
            {t(`signIn.${notice}`)}
          </p>
        )}
        {step === 'totp' && !error && (
          <p className="notice" role="status">
            {t('problem.totp_required')}
          </p>
        )}
        {error !== null && (
          <p className="problem" role="alert">
            {problemText(t, error)}
          </p>
        )}
        <form onSubmit={(e) => void submit(e)} noValidate>
          {step === 'password' ? (
            <>
              <div className="field">
                <label htmlFor="username">{t('signIn.username')}</label>
                <input
                  id="username"
                  name="username"
                  autoComplete="username"
                  autoCapitalize="none"
                  spellCheck={false}
                  required
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor="password">{t('signIn.password')}</label>
                <input
                  id="password"
                  name="password"
                  type="password"
                  autoComplete="current-password"
                  required
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
              </div>
            </>
          ) : (
            <div className="field">
              <label htmlFor="totp">{t('signIn.totp')}</label>
              <input
                id="totp"
                name="totp"
                ref={totpRef}
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9]*"
                maxLength={16}
                required
                aria-describedby="totp-help"
                value={totp}
                onChange={(e) => setTotp(e.target.value)}
              />
              <p id="totp-help" className="muted small">
                {t('signIn.totpHelp')}
              </p>
            </div>
          )}
          <div className="actions">
            <button type="submit" className="button-primary" disabled={busy}>
              {busy ? t('signIn.submitting') : t('signIn.submit')}
            </button>
            {step === 'totp' && (
              <button
                type="button"
                className="button-secondary"
                onClick={() => {
                  setStep('password');
                  setTotp('');
                  setError(null);
                }}
              >
                {t('signIn.back')}
              </button>
            )}
          </div>
        </form>
      </div>
      <PiLegend />
    </div>
  );
}
