import { type ReactNode, useCallback, useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client.ts';
import type { KeysReply, PrivacyOverview, RankedSuggestion } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { AccountExportPanel } from '../privacy/AccountExportPanel.tsx';
import { AccountDeletionPanel } from '../privacy/AccountDeletionPanel.tsx';
import { navigate, onLinkClick } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { BreakdownDetails, PiBadge } from '../design-system/PiBadge.tsx';
import { dottedKey } from '../i18n/i18n.ts';
import {
  ClientGenerateForm,
  ClientImportForm,
  clientKeyProblem,
  keepExported,
  ThisBrowserKey,
} from '../client-keys/ClientKeyPanel.tsx';
import { MIN_PASSPHRASE_LENGTH, Sentence } from '../client-keys/client-key.errors.ts';
import { Fingerprint } from '../privacy/Fingerprint.tsx';
import { TotpQr } from '../privacy/TotpQr.tsx';
import { AppPasswordsPanel } from '../privacy/AppPasswordsPanel.tsx';
import { groupFingerprint } from '../privacy/fingerprint.ts';
import { rankSuggestions, type SuggestionAction, suggestionAction } from '../privacy/suggestions.ts';

type KeyTask = 'generate' | 'import' | 'export' | 'toClient' | 'toServer' | 'clientGenerate' | 'clientImport';

/** A password asked again answers invalid_credentials when wrong: here that means the password alone. */
function passwordProblem(t: (k: string) => string, e: unknown): string {
  if (e instanceof ApiError && e.code === 'invalid_credentials') return t('problem.wrong_password');
  return clientKeyProblem(t, e);
}

/**
 * My privacy: the account's PI with its breakdown, the ranked suggestions (largest gain first) each with a button
 * where the app can act, the encryption key (generate, import, export, where it lives), two-factor authentication
 * and the trust-sharing choice.
 */
export function PrivacyScreen() {
  const { t } = useTranslation();
  const { api } = useSession();
  const [overview, setOverview] = useState<PrivacyOverview | null>(null);
  const [keys, setKeys] = useState<KeysReply | null>(null);
  const [totpEnabled, setTotpEnabled] = useState<boolean | null>(null);
  const [sharing, setSharing] = useState<boolean | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [task, setTask] = useState<KeyTask | null>(null);
  const [totpStart, setTotpStart] = useState(0);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const keysRef = useRef<HTMLHeadingElement>(null);
  const totpRef = useRef<HTMLHeadingElement>(null);

  const load = useCallback(() => {
    let cancelled = false;
    setError(null);
    Promise.all([api.privacy(), api.keys(), api.me(), api.sharing()]).then(
      ([o, k, me, s]) => {
        if (cancelled) return;
        setOverview(o);
        setKeys(k);
        setTotpEnabled(me.totpEnabled);
        setSharing(s.shareTrust);
      },
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [api]);
  useEffect(load, [load]);
  useEffect(() => headingRef.current?.focus(), []);

  /** What a suggestion's button does: open the right form here, or go to the contact or device. */
  const act = async (a: NonNullable<SuggestionAction>) => {
    switch (a.kind) {
      case 'enable_totp':
        setTotpStart((n) => n + 1);
        totpRef.current?.focus();
        return;
      case 'create_key':
        setTask('generate');
        keysRef.current?.focus();
        return;
      case 'keep_keys_on_devices':
        setTask('toClient');
        keysRef.current?.focus();
        return;
      case 'device':
        navigate(`/devices#device-${a.deviceId}`);
        return;
      case 'contact': {
        const id = await findContact(a.address);
        navigate(id ? `/contacts/${id}${a.what === 'resolve_conflict' ? '#key-alerts' : ''}` : '/contacts');
        return;
      }
    }
  };
  const findContact = async (ref: string): Promise<string | null> => {
    if (/^[0-9a-f-]{36}$/i.test(ref)) return ref;
    let cursor: string | undefined;
    do {
      const page = await api.contacts(cursor);
      const hit = page.items.find((c) => c.identities.some((i) => i.address.toLowerCase() === ref.toLowerCase()));
      if (hit) return hit.id;
      cursor = page.next ?? undefined;
    } while (cursor);
    return null;
  };

  const ranked = overview ? rankSuggestions(overview.suggestions) : [];

  return (
    <section className="privacy" aria-labelledby="privacy-h">
      <div className="screen-head">
        <h1 id="privacy-h" ref={headingRef} tabIndex={-1}>
          {t('privacy.title')}
        </h1>
      </div>
      {error !== null && <ProblemMessage error={error} onRetry={load} />}
      {!overview && error === null && <p role="status">{t('app.loading')}</p>}
      {overview && keys && (
        <>
          <section className="card" aria-labelledby="account-pi-h">
            <h2 id="account-pi-h">{t('privacy.accountPi')}</h2>
            <div className="account-pi">
              <PiBadge pi={overview.account} interactive={false} />
              <p>{t(`pi.meaning.${overview.account.level}`, { defaultValue: '' })}</p>
            </div>
            <BreakdownDetails breakdown={overview.account} suggestions={false} />
          </section>

          <section className="card" aria-labelledby="suggestions-h">
            <h2 id="suggestions-h">{t('privacy.suggestions')}</h2>
            {ranked.length === 0 ? (
              <p>{t('privacy.noSuggestions')}</p>
            ) : (
              <ol className="suggestion-list">
                {ranked.map((s) => (
                  <SuggestionItem
                    key={`${s.action}:${s.element}`}
                    s={s}
                    keyMode={keys.mode}
                    onAct={(a) => void act(a)}
                  />
                ))}
              </ol>
            )}
          </section>

          <section className="card" aria-labelledby="keys-h">
            <h2 id="keys-h" ref={keysRef} tabIndex={-1}>
              {t('privacy.keys')}
            </h2>
            <KeysPanel keys={keys} task={task} setTask={setTask} onChanged={load} />
          </section>

          <section className="card" aria-labelledby="totp-h">
            <h2 id="totp-h" ref={totpRef} tabIndex={-1}>
              {t('privacy.totp')}
            </h2>
            <TotpPanel enabled={totpEnabled === true} start={totpStart} onEnabled={load} />
          </section>

          <section className="card" aria-labelledby="app-passwords-h">
            <h2 id="app-passwords-h">{t('privacy.appPasswords')}</h2>
            <AppPasswordsPanel />
          </section>
          <section className="card" aria-labelledby="sharing-h">
            <h2 id="sharing-h">{t('privacy.sharing')}</h2>
            <SharingPanel value={sharing === true} onChange={setSharing} />
          </section>

          <AccountExportPanel />

          <AccountDeletionPanel totpEnabled={totpEnabled === true} />

          <section className="card" aria-labelledby="journal-link-h">
            <h2 id="journal-link-h">{t('journal.title')}</h2>
            <p>{t('journal.summary')}</p>
            <a href="/privacy/journal" onClick={onLinkClick('/privacy/journal')}>
              {t('journal.link')}
            </a>
          </section>
        </>
      )}
    </section>
  );
}

function SuggestionItem({
  s,
  keyMode,
  onAct,
}: {
  s: RankedSuggestion;
  keyMode: KeysReply['mode'];
  onAct: (a: NonNullable<SuggestionAction>) => void;
}) {
  const { t } = useTranslation();
  const a = suggestionAction(s, { keyMode });
  const label = t(`pi.action.${dottedKey(s.action)}`, { defaultValue: s.action });
  const [kind, ref] = s.element.includes(':') ? s.element.split(':', 2) : [s.element, ''];
  const element =
    kind === 'account'
      ? t('privacy.elementAccount')
      : kind === 'contact'
        ? t('privacy.elementContact', { ref })
        : t('privacy.elementDevice');
  const button = a === null ? null : t(`privacy.act.${a.kind}`);
  return (
    <li className="suggestion">
      <span className="pi-gain" aria-hidden="true">
        {t('pi.gain', { gain: s.gain })}
      </span>
      <span className="suggestion-text">
        <span className="visually-hidden">{t('pi.gainLabel', { gain: s.gain })}: </span>
        {label} <span className="muted small">({element})</span>
      </span>
      {a !== null && button && (
        <button type="button" className="button-secondary" onClick={() => onAct(a)}>
          {button}
          <span className="visually-hidden"> — {label}</span>
        </button>
      )}
    </li>
  );
}

/** A form that asks the password again (and maybe more), for the key routes that need it. */
function PasswordForm({
  title,
  help,
  children,
  onSubmit,
  onCancel,
}: {
  title: string;
  help?: string;
  children?: ReactNode;
  onSubmit: (password: string) => Promise<void>;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const pwId = useId();
  return (
    <form
      className="key-task"
      aria-label={title}
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        onSubmit(password)
          .catch(setError)
          .finally(() => setBusy(false));
      }}
    >
      <h3>{title}</h3>
      {help && <p className="muted">{help}</p>}
      {children}
      <div className="field">
        <label htmlFor={pwId}>{t('privacy.passwordAgain')}</label>
        <input
          id={pwId}
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </div>
      {error !== null && (
        <p className="problem" role="alert">
          {passwordProblem(t, error)}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? t('privacy.working') : t('privacy.confirm')}
        </button>
        <button type="button" className="button-secondary" onClick={onCancel}>
          {t('privacy.cancel')}
        </button>
      </div>
    </form>
  );
}

function KeysPanel({
  keys,
  task,
  setTask,
  onChanged,
}: {
  keys: KeysReply;
  task: KeyTask | null;
  setTask: (t: KeyTask | null) => void;
  onChanged: () => void;
}) {
  const { t } = useTranslation();
  const { api, session } = useSession();
  const [notice, setNotice] = useState('');
  const [exported, setExported] = useState<string | null>(null);
  const [armored, setArmored] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [exportPassphrase, setExportPassphrase] = useState('');
  const ids = { armored: useId(), passphrase: useId(), exportPassphrase: useId() };
  const [downloadUrl, setDownloadUrl] = useState<string | null>(null);
  useEffect(() => {
    if (exported === null) return;
    const url = URL.createObjectURL(new Blob([exported], { type: 'application/pgp-keys' }));
    setDownloadUrl(url);
    return () => URL.revokeObjectURL(url);
  }, [exported]);

  const done = (message: string) => {
    setTask(null);
    setArmored('');
    setPassphrase('');
    setExportPassphrase('');
    setNotice(message);
    onChanged();
  };
  const active = keys.items.find((k) => k.status === 'active');
  const exportField = (
    <div className="field">
      <label htmlFor={ids.exportPassphrase}>{t('privacy.exportPassphrase')}</label>
      <input
        id={ids.exportPassphrase}
        type="password"
        autoComplete="new-password"
        value={exportPassphrase}
        onChange={(e) => setExportPassphrase(e.target.value)}
      />
    </div>
  );
  const browserPassphraseField = (
    <div className="field">
      <label htmlFor={ids.exportPassphrase}>{t('clientKeys.browserPassphrase')}</label>
      <input
        id={ids.exportPassphrase}
        type="password"
        autoComplete="new-password"
        required
        value={exportPassphrase}
        onChange={(e) => setExportPassphrase(e.target.value)}
      />
    </div>
  );
  const privateFields = (
    <>
      <div className="field">
        <label htmlFor={ids.armored}>{t('privacy.importKey')}</label>
        <textarea
          id={ids.armored}
          rows={6}
          required
          spellCheck={false}
          value={armored}
          onChange={(e) => setArmored(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={ids.passphrase}>{t('privacy.importPassphrase')}</label>
        <input
          id={ids.passphrase}
          type="password"
          autoComplete="off"
          value={passphrase}
          onChange={(e) => setPassphrase(e.target.value)}
        />
      </div>
    </>
  );

  return (
    <>
      <p>{t(`privacy.mode.${keys.mode}`)}</p>
      {keys.mode === 'server' && <p className="muted">{keys.unlocked ? t('privacy.unlocked') : t('privacy.locked')}</p>}
      <ul className="key-list">
        {keys.items.map((k) => (
          <li key={k.fingerprint} className={`key-item key-${k.status}`}>
            <div className="key-line">
              <span>{k.userIds.join(', ')}</span>
              <span className="key-status">{t(`privacy.keyStatus.${k.status}`)}</span>
              <span className="muted">{t(`privacy.heldBy.${k.heldBy}`)}</span>
            </div>
            <Fingerprint value={k.fingerprint} />
          </li>
        ))}
      </ul>
      <div role="status">{notice && <p className="notice">{notice}</p>}</div>
      {keys.mode === 'client' && <ThisBrowserKey keys={keys} />}
      {exported !== null && (
        <div className="exported">
          <label>
            {t('privacy.exported')}
            <textarea readOnly rows={6} value={exported} spellCheck={false} />
          </label>
          {downloadUrl && (
            <a className="button-secondary" href={downloadUrl} download="private-key.asc">
              {t('privacy.download')}
            </a>
          )}
        </div>
      )}
      {task === null && (
        <div className="actions wrap">
          {keys.mode === 'none' && (
            <button type="button" className="button-primary" onClick={() => setTask('clientGenerate')}>
              {t('clientKeys.generate')}
            </button>
          )}
          {keys.mode === 'none' && (
            <button type="button" className="button-secondary" onClick={() => setTask('clientImport')}>
              {t('clientKeys.importNew')}
            </button>
          )}
          {keys.mode !== 'client' && (
            <button type="button" className="button-secondary" onClick={() => setTask('generate')}>
              {t('privacy.generate')}
            </button>
          )}
          {keys.mode !== 'client' && (
            <button type="button" className="button-secondary" onClick={() => setTask('import')}>
              {t('privacy.import')}
            </button>
          )}
          {keys.mode === 'server' && (
            <button type="button" className="button-secondary" onClick={() => setTask('export')}>
              {t('privacy.export')}
            </button>
          )}
          {keys.mode === 'server' && (
            <button type="button" className="button-secondary" onClick={() => setTask('toClient')}>
              {t('privacy.toClient')}
            </button>
          )}
          {keys.mode === 'client' && (
            <button type="button" className="button-secondary" onClick={() => setTask('toServer')}>
              {t('privacy.toServer')}
            </button>
          )}
        </div>
      )}
      {task === 'generate' && (
        <PasswordForm
          title={t('privacy.generate')}
          onCancel={() => setTask(null)}
          onSubmit={async (pw) => {
            const r = await api.addServerKey(pw);
            done(t('privacy.generated', { fingerprint: groupFingerprint(r.key.fingerprint) }));
          }}
        />
      )}
      {task === 'import' && (
        <PasswordForm
          title={t('privacy.import')}
          onCancel={() => setTask(null)}
          onSubmit={async (pw) => {
            const r = await api.addServerKey(pw, armored, passphrase || undefined);
            done(t('privacy.imported', { fingerprint: groupFingerprint(r.key.fingerprint) }));
          }}
        >
          {privateFields}
        </PasswordForm>
      )}
      {task === 'export' && active && (
        <PasswordForm
          title={t('privacy.export')}
          onCancel={() => setTask(null)}
          onSubmit={async (pw) => {
            const r = await api.exportKey(pw, exportPassphrase || undefined);
            setExported(r.armored);
            done(t('privacy.exported'));
          }}
        >
          {exportField}
        </PasswordForm>
      )}
      {task === 'toClient' && (
        <PasswordForm
          title={t('privacy.toClient')}
          help={t('privacy.toClientHelp')}
          onCancel={() => setTask(null)}
          onSubmit={async (pw) => {
            if (exportPassphrase.length < MIN_PASSPHRASE_LENGTH)
              throw new Sentence(t('clientKeys.passphraseShort', { min: MIN_PASSPHRASE_LENGTH }));
            const r = await api.setKeyMode('client', pw, { exportPassphrase });
            // The instance no longer has the key: it is kept in this browser, and shown once to download.
            if (r.exported) {
              setExported(r.exported);
              try {
                await keepExported(session?.username ?? '', r.exported, exportPassphrase);
              } catch (e) {
                done(`${t('clientKeys.keepFailed')} ${clientKeyProblem(t, e)}`);
                return;
              }
            }
            done(t('clientKeys.movedToClient'));
          }}
        >
          {browserPassphraseField}
        </PasswordForm>
      )}
      {task === 'clientGenerate' && (
        <ClientGenerateForm
          keys={keys}
          onCancel={() => setTask(null)}
          onDone={(fp) => done(t('clientKeys.generated', { fingerprint: groupFingerprint(fp) }))}
        />
      )}
      {task === 'clientImport' && (
        <ClientImportForm
          keys={keys}
          register
          onCancel={() => setTask(null)}
          onDone={(fp) => done(t('privacy.imported', { fingerprint: groupFingerprint(fp) }))}
        />
      )}
      {task === 'toServer' && (
        <PasswordForm
          title={t('privacy.toServer')}
          onCancel={() => setTask(null)}
          onSubmit={async (pw) => {
            await api.setKeyMode('server', pw, { armoredPrivateKey: armored, ...(passphrase ? { passphrase } : {}) });
            done(t('privacy.movedToServer'));
          }}
        >
          {privateFields}
        </PasswordForm>
      )}
    </>
  );
}

function TotpPanel({ enabled, start, onEnabled }: { enabled: boolean; start: number; onEnabled: () => void }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauthUri: string } | null>(null);
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const codeId = useId();
  const codeRef = useRef<HTMLInputElement>(null);

  const begin = useCallback(() => {
    setError(null);
    api.beginTotp().then(setEnrolment, setError);
  }, [api]);
  // A suggestion's "Turn it on" starts the enrolment here.
  // biome-ignore lint/correctness/useExhaustiveDependencies: start is a trigger counter.
  useEffect(() => {
    if (start > 0 && !enabled) begin();
  }, [start]);
  useEffect(() => {
    if (enrolment) codeRef.current?.focus();
  }, [enrolment]);

  if (enabled || done) return <p role="status">{done ? t('privacy.totpDone') : t('privacy.totpOn')}</p>;
  return (
    <>
      <p>{t('privacy.totpOff')}</p>
      {error !== null && <ProblemMessage error={error} />}
      {!enrolment ? (
        <button type="button" className="button-primary" onClick={begin}>
          {t('privacy.totpStart')}
        </button>
      ) : (
        <form
          className="key-task"
          aria-label={t('privacy.totpStart')}
          onSubmit={(e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            api
              .confirmTotp(code.replace(/\s/g, ''))
              .then(() => {
                setDone(true);
                onEnabled();
              })
              .catch(setError)
              .finally(() => setBusy(false));
          }}
        >
          <p>{t('privacy.totpScan')}</p>
          <TotpQr uri={enrolment.otpauthUri} />
          <dl className="totp-facts">
            <dt>{t('privacy.totpSecret')}</dt>
            <dd>
              <code className="totp-secret">{enrolment.secret}</code>
            </dd>
            <dt>{t('privacy.totpUri')}</dt>
            <dd>
              <a href={enrolment.otpauthUri} className="totp-uri">
                {enrolment.otpauthUri}
              </a>
            </dd>
          </dl>
          <div className="field">
            <label htmlFor={codeId}>{t('privacy.totpCode')}</label>
            <input
              id={codeId}
              ref={codeRef}
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9 ]{6,8}"
              required
              value={code}
              onChange={(e) => setCode(e.target.value)}
            />
          </div>
          <button type="submit" className="button-primary" disabled={busy}>
            {t('privacy.totpConfirm')}
          </button>
        </form>
      )}
    </>
  );
}

function SharingPanel({ value, onChange }: { value: boolean; onChange: (v: boolean) => void }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const helpId = useId();
  return (
    <>
      <p id={helpId}>{t('privacy.sharingHelp')}</p>
      <label className="checkbox">
        <input
          type="checkbox"
          checked={value}
          aria-describedby={helpId}
          onChange={(e) => {
            const next = e.target.checked;
            // Shown at once; put back if the instance refuses.
            onChange(next);
            setError(null);
            setSaved(false);
            api.setSharing(next).then(
              (r) => {
                onChange(r.shareTrust);
                setSaved(true);
              },
              (err) => {
                onChange(!next);
                setError(err);
              },
            );
          }}
        />
        {t('privacy.sharingOn')}
      </label>
      <p className="muted small" role="status">
        {saved ? t('privacy.sharingSaved') : ''}
      </p>
      {error !== null && <ProblemMessage error={error} />}
    </>
  );
}
