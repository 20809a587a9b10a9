import { type ReactNode, useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { KeysReply } from '../api/types.ts';
import { problemText } from '../app/ProblemMessage.tsx';
import { useSession } from '../app/session.tsx';
import { ClientKeyError, MIN_PASSPHRASE_LENGTH, Sentence } from './client-key.errors.ts';
import { holdUnlocked, loadPgp, lock, unlock, useStoredKeys, useUnlocked } from './client-keys.session.ts';
import { clientKeyStore } from './key-store.ts';

/** The sentence for a failure of the key work in the browser (or of the instance's answer). */
export function clientKeyProblem(t: (k: string) => string, e: unknown): string {
  if (e instanceof ClientKeyError) return t(`clientKeys.problem.${e.problem}`);
  if (e instanceof Sentence) return e.message;
  return problemText(t, e);
}

/** A form of the key work done in the browser: a title, fields, a sentence when it fails, confirm and cancel. */
function TaskForm({
  title,
  help,
  children,
  submit,
  onSubmit,
  onCancel,
}: {
  title: string;
  help?: string;
  children: ReactNode;
  submit?: string;
  onSubmit: () => Promise<void>;
  onCancel?: () => void;
}) {
  const { t } = useTranslation();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="key-task"
      aria-label={title}
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        onSubmit()
          .catch(setError)
          .finally(() => setBusy(false));
      }}
    >
      <h3>{title}</h3>
      {help && <p className="muted">{help}</p>}
      {children}
      {error !== null && (
        <p className="problem" role="alert">
          {clientKeyProblem(t, error)}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? t('privacy.working') : (submit ?? t('privacy.confirm'))}
        </button>
        {onCancel && (
          <button type="button" className="button-secondary" onClick={onCancel}>
            {t('privacy.cancel')}
          </button>
        )}
      </div>
    </form>
  );
}

/** A new passphrase, typed twice; `check()` says (as an error to show) when they differ. */
function useNewPassphrase() {
  const { t } = useTranslation();
  const [value, setValue] = useState('');
  const [again, setAgain] = useState('');
  const ids = { value: useId(), again: useId(), help: useId() };
  const fields = (
    <>
      <div className="field">
        <label htmlFor={ids.value}>{t('clientKeys.newPassphrase')}</label>
        <input
          id={ids.value}
          type="password"
          autoComplete="new-password"
          required
          aria-describedby={ids.help}
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <p id={ids.help} className="muted small">
          {t('clientKeys.passphraseHelp', { min: MIN_PASSPHRASE_LENGTH })}
        </p>
      </div>
      <div className="field">
        <label htmlFor={ids.again}>{t('clientKeys.passphraseAgain')}</label>
        <input
          id={ids.again}
          type="password"
          autoComplete="new-password"
          required
          value={again}
          onChange={(e) => setAgain(e.target.value)}
        />
      </div>
    </>
  );
  const check = (): string => {
    if (value.length < MIN_PASSPHRASE_LENGTH)
      throw new Error(t('clientKeys.passphraseShort', { min: MIN_PASSPHRASE_LENGTH }));
    if (value !== again) throw new Error(t('clientKeys.passphraseMismatch'));
    return value;
  };
  return { fields, check };
}

/**
 * Client mode, from scratch: the key is made here, its private part kept in this browser under the passphrase, and
 * only the public key (with its revocation certificate) goes to the instance.
 */
export function ClientGenerateForm({
  keys,
  onDone,
  onCancel,
}: {
  keys: KeysReply;
  onDone: (fingerprint: string) => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const { api, session } = useSession();
  const account = session?.username ?? '';
  const passphrase = useNewPassphrase();
  return (
    <TaskForm
      title={t('clientKeys.generate')}
      help={t('clientKeys.generateHelp')}
      onCancel={onCancel}
      onSubmit={async () => {
        const pp = checked(passphrase.check);
        const pgp = await loadPgp();
        const made = await pgp.generateClientKey({
          name: session?.displayName || account,
          email: keys.address,
          passphrase: pp,
        });
        await keepThenRegister(account, [made.armoredPrivate], [made.fingerprint], () =>
          api.addClientKey(made.armoredPublic, made.revocationCertificate),
        );
        holdUnlocked(account, await pgp.unlockKeys([made.armoredPrivate], pp));
        onDone(made.fingerprint);
      }}
    >
      {passphrase.fields}
    </TaskForm>
  );
}

/** Runs a passphrase check, turning its sentence into an error the form shows as is. */
function checked(check: () => string): string {
  try {
    return check();
  } catch (e) {
    throw new Sentence((e as Error).message);
  }
}

/** Keeps the keys here first, then tells the instance; when the instance refuses, nothing stays kept. */
async function keepThenRegister(
  account: string,
  armoredKeys: string[],
  fingerprints: string[],
  register: () => Promise<unknown>,
): Promise<void> {
  const before = await clientKeyStore.get(account);
  await clientKeyStore.put(account, armoredKeys, fingerprints);
  try {
    await register();
  } catch (e) {
    if (before) await clientKeyStore.put(account, before.keys, before.fingerprints);
    else await clientKeyStore.remove(account);
    throw e;
  }
}

/**
 * An armoured private key brought into this browser, protected again under a passphrase chosen here. `register`:
 * client mode from scratch (the public key goes to the instance); otherwise (a device that lacks the key) the key
 * must be one of the account's.
 */
export function ClientImportForm({
  keys,
  register,
  onDone,
  onCancel,
}: {
  keys: KeysReply;
  register: boolean;
  onDone: (fingerprint: string) => void;
  onCancel?: () => void;
}) {
  const { t } = useTranslation();
  const { api, session } = useSession();
  const account = session?.username ?? '';
  const [armored, setArmored] = useState('');
  const [current, setCurrent] = useState('');
  const ids = { armored: useId(), current: useId() };
  const passphrase = useNewPassphrase();
  return (
    <TaskForm
      title={register ? t('clientKeys.importNew') : t('clientKeys.importHere')}
      help={t('clientKeys.importHelp')}
      {...(onCancel ? { onCancel } : {})}
      onSubmit={async () => {
        const pp = checked(passphrase.check);
        const pgp = await loadPgp();
        const known = keys.items.map((k) => k.fingerprint);
        const kept = await pgp.protectForBrowser(armored, current || undefined, pp, register ? undefined : known);
        if (register) {
          await keepThenRegister(account, kept.armoredKeys, kept.fingerprints, () =>
            api.addClientKey(kept.armoredPublic),
          );
        } else {
          await clientKeyStore.put(account, kept.armoredKeys, kept.fingerprints);
        }
        holdUnlocked(account, await pgp.unlockKeys(kept.armoredKeys, pp));
        setArmored('');
        setCurrent('');
        onDone(kept.fingerprints[0]!);
      }}
    >
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
        <label htmlFor={ids.current}>{t('privacy.importPassphrase')}</label>
        <input
          id={ids.current}
          type="password"
          autoComplete="off"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
        />
      </div>
      {passphrase.fields}
    </TaskForm>
  );
}

/** The passphrase that opens the keys kept here, for this session. */
export function UnlockForm({ onUnlocked }: { onUnlocked?: () => void }) {
  const { t } = useTranslation();
  const { session } = useSession();
  const account = session?.username ?? '';
  const [passphrase, setPassphrase] = useState('');
  const id = useId();
  return (
    <TaskForm
      title={t('clientKeys.unlockTitle')}
      submit={t('clientKeys.unlock')}
      onSubmit={async () => {
        await unlock(account, passphrase);
        setPassphrase('');
        onUnlocked?.();
      }}
    >
      <div className="field">
        <label htmlFor={id}>{t('clientKeys.passphrase')}</label>
        <input
          id={id}
          type="password"
          autoComplete="off"
          required
          value={passphrase}
          onChange={(e) => setPassphrase(e.target.value)}
        />
      </div>
    </TaskForm>
  );
}

/** Client mode: what this browser holds of the key, unlock / lock, export, or import when it holds nothing. */
export function ThisBrowserKey({ keys }: { keys: KeysReply }) {
  const { t } = useTranslation();
  const { session } = useSession();
  const account = session?.username ?? '';
  const { stored, error, reload } = useStoredKeys(account);
  const open = useUnlocked(account);
  const [notice, setNotice] = useState('');
  const [downloadUrl, setDownloadUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!stored) return;
    const url = URL.createObjectURL(new Blob([stored.keys.join('\n')], { type: 'application/pgp-keys' }));
    setDownloadUrl(url);
    return () => URL.revokeObjectURL(url);
  }, [stored]);
  const active = keys.items.find((k) => k.status === 'active');

  if (stored === undefined) return <p className="muted">{t('app.loading')}</p>;
  return (
    <section className="this-browser" aria-labelledby="this-browser-h">
      <h3 id="this-browser-h">{t('clientKeys.thisBrowser')}</h3>
      <div role="status">{notice && <p className="notice">{notice}</p>}</div>
      {stored === null ? (
        <>
          <p className="problem">{error !== null ? clientKeyProblem(t, error) : t('clientKeys.missingHere')}</p>
          {error === null && (
            <ClientImportForm
              keys={keys}
              register={false}
              onDone={() => {
                setNotice(t('clientKeys.importedHere'));
                reload();
              }}
            />
          )}
        </>
      ) : (
        <>
          <p>
            {active && !stored.fingerprints.includes(active.fingerprint)
              ? t('clientKeys.keptOther')
              : t('clientKeys.kept', { count: stored.keys.length })}
          </p>
          <p className="muted">{open ? t('clientKeys.unlocked') : t('clientKeys.locked')}</p>
          {open ? (
            <div className="actions wrap">
              <button
                type="button"
                className="button-secondary"
                onClick={() => {
                  lock(account);
                  setNotice(t('clientKeys.lockedNow'));
                }}
              >
                {t('clientKeys.lock')}
              </button>
            </div>
          ) : (
            <UnlockForm onUnlocked={() => setNotice(t('clientKeys.unlockedNow'))} />
          )}
          {downloadUrl && (
            <p>
              <a className="button-secondary" href={downloadUrl} download="private-key.asc">
                {t('clientKeys.export')}
              </a>{' '}
              <span className="muted small">{t('clientKeys.exportHelp')}</span>
            </p>
          )}
        </>
      )}
    </section>
  );
}

/** The keys the instance handed out when moving to client mode, kept here under the passphrase they came with. */
export async function keepExported(account: string, exported: string, passphrase: string): Promise<void> {
  const pgp = await loadPgp();
  const kept = await pgp.protectForBrowser(exported, passphrase, passphrase);
  await clientKeyStore.put(account, kept.armoredKeys, kept.fingerprints);
  holdUnlocked(account, await pgp.unlockKeys(kept.armoredKeys, passphrase));
}
