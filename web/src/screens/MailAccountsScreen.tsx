import { type FormEvent, useCallback, useEffect, useId, useRef, useState } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { problemMessageKey } from '../api/problem-messages.ts';
import type { ImapTls, ImportStatus, RemoteMailbox, SendAsRelay } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { useSession } from '../app/session.tsx';

/** The usual IMAP port of each security mode (what a user's provider documents). */
const IMAP_PORT: Record<ImapTls, number> = { implicit: 993, starttls: 143, none: 143 };
const SUBMISSION_PORT = { implicit: 465, starttls: 587 } as const;

/** While an import is queued or running, the list is read again this often. */
const POLL_MS = 1500;

const importing = (s: ImportStatus) => s.state === 'queued' || s.state === 'running';

/**
 * Mail accounts: the user's mailboxes at other providers, imported over IMAP into the same discussions (then kept in
 * sync by the instance), each import's progress as it runs, and sending as an imported address through its provider.
 * Adding a mailbox tries the login first and starts its import; passwords are kept sealed and never shown again.
 */
export function MailAccountsScreen() {
  const { t } = useTranslation();
  const { api } = useSession();
  const [items, setItems] = useState<RemoteMailbox[] | null>(null);
  const [relays, setRelays] = useState<SendAsRelay[]>([]);
  // Reading the list, and an action of a card (import, remove): each its own alert, so that a poll that works does
  // not hide the failure of an action.
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const headingRef = useRef<HTMLHeadingElement>(null);

  const load = useCallback(async () => {
    try {
      const [mailboxes, sendAs] = await Promise.all([api.remoteMailboxes(), api.sendAsRelays()]);
      setItems(mailboxes.items);
      setRelays(sendAs.items);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => headingRef.current?.focus(), []);

  // Progress as it happens: while an import is under way, the list is read again once the previous reading is in
  // (never two at once, never out of order); none when no import runs or the screen is left.
  const busy = items?.some((m) => importing(m.sync)) ?? false;
  // biome-ignore lint/correctness/useExhaustiveDependencies: each reading's new items schedule the next one.
  useEffect(() => {
    if (!busy) return;
    const timer = setTimeout(() => void load(), POLL_MS);
    return () => clearTimeout(timer);
  }, [busy, items, load]);

  /** After an action: its notice, the list read again, and focus back on the heading (the control may be gone). */
  const done = async (message: string) => {
    setActionError(null);
    setNotice(message);
    await load();
    headingRef.current?.focus();
  };

  return (
    <section className="mail-accounts" aria-labelledby="mail-accounts-h">
      <div className="screen-head">
        <h1 id="mail-accounts-h" ref={headingRef} tabIndex={-1}>
          {t('mailAccounts.title')}
        </h1>
      </div>
      <p>{t('mailAccounts.intro')}</p>
      <div role="status">{notice && <p className="notice">{notice}</p>}</div>
      {error !== null && <ProblemMessage error={error} onRetry={() => void load()} />}
      {actionError !== null && <ProblemMessage error={actionError} />}
      {items === null && error === null && <p role="status">{t('app.loading')}</p>}
      {items !== null && items.length === 0 && <p className="muted">{t('mailAccounts.none')}</p>}
      {items !== null && items.length > 0 && (
        <ul className="plain-list mail-account-list" aria-labelledby="mail-accounts-h">
          {items.map((m) => (
            <li key={m.id} className="card">
              <MailboxCard
                mailbox={m}
                relay={relays.find((r) => r.identityId === m.id) ?? null}
                onImport={() =>
                  api.startImport(m.id).then(
                    () => load(),
                    (e: unknown) => setActionError(e),
                  )
                }
                onRemove={() =>
                  api.removeRemoteMailbox(m.id).then(
                    () => done(t('mailAccounts.removed', { label: m.label })),
                    (e: unknown) => setActionError(e),
                  )
                }
                onChanged={(message) => void done(message)}
              />
            </li>
          ))}
        </ul>
      )}
      <AddMailboxForm onAdded={(m) => void done(t('mailAccounts.added', { label: m.label }))} />
    </section>
  );
}

function MailboxCard({
  mailbox: m,
  relay,
  onImport,
  onRemove,
  onChanged,
}: {
  mailbox: RemoteMailbox;
  relay: SendAsRelay | null;
  onImport: () => Promise<unknown>;
  onRemove: () => Promise<unknown>;
  onChanged: (notice: string) => void;
}) {
  const { t } = useTranslation();
  const headingId = useId();
  // One action at a time per mailbox: a double click sends one request. Removing asks first.
  const [pending, setPending] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const act = (action: () => Promise<unknown>) => () => {
    if (pending) return;
    setPending(true);
    void action().finally(() => setPending(false));
  };
  return (
    <article aria-labelledby={headingId}>
      <h2 id={headingId}>{m.label}</h2>
      <p className="small">
        {t('mailAccounts.mailbox', { username: m.username, host: m.host, port: m.port })} —{' '}
        <span className={m.tls === 'none' ? 'problem-inline' : undefined}>{t(`mailAccounts.security.${m.tls}`)}</span>
      </p>
      {m.tls === 'none' && <p className="problem small">{t('mailAccounts.clearWarning')}</p>}
      <ImportProgress status={m.sync} label={m.label} />
      <div className="actions">
        <button
          type="button"
          className="button-secondary"
          onClick={act(onImport)}
          disabled={pending || importing(m.sync)}
          aria-label={t('mailAccounts.importNamed', { label: m.label })}
        >
          {t('mailAccounts.importNow')}
        </button>{' '}
        <button
          type="button"
          className="button-secondary"
          onClick={() => setConfirming(true)}
          disabled={pending || confirming}
          aria-label={t('mailAccounts.removeNamed', { label: m.label })}
        >
          {t('mailAccounts.remove')}
        </button>
      </div>
      {confirming && (
        <fieldset className="compare-box">
          <legend>{t('mailAccounts.removeConfirm', { label: m.label })}</legend>
          <div className="actions wrap">
            <button type="button" className="button-primary danger" disabled={pending} onClick={act(onRemove)}>
              {t('mailAccounts.removeYes')}
            </button>
            <button type="button" className="button-secondary" onClick={() => setConfirming(false)}>
              {t('mailAccounts.cancel')}
            </button>
          </div>
        </fieldset>
      )}
      <ChangeMailboxPanel mailbox={m} onChanged={onChanged} />
      <SendAsPanel mailbox={m} relay={relay} onChanged={onChanged} />
    </article>
  );
}

/** Where an import stands, in words, with a progress bar while it runs. */
export function ImportProgress({ status: s, label }: { status: ImportStatus; label: string }) {
  const { t, i18n } = useTranslation();
  const { total, done, imported, skipped } = s.totals;
  let line: string;
  if (s.state === 'queued') line = t('mailAccounts.state.queued');
  else if (s.state === 'running')
    line =
      total > 0
        ? t('mailAccounts.state.running', { done, total, count: imported })
        : t('mailAccounts.state.runningUnknown', { done, count: imported });
  else if (s.state === 'failed') {
    const key = s.lastError ? problemMessageKey({ code: s.lastError.code, status: 0 }) : 'problem.unexpected';
    line = t('mailAccounts.state.failed', {
      reason: key === 'problem.unexpected' ? (s.lastError?.message ?? t(key)) : t(key),
    });
  } else if (s.state === 'completed' && s.finishedAt)
    line = t('mailAccounts.state.completed', {
      when: new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'short' }).format(
        new Date(s.finishedAt),
      ),
      count: imported,
    });
  else line = t('mailAccounts.state.idle');
  return (
    <div className="import-progress">
      <p className={s.state === 'failed' ? 'problem-inline small' : 'small'}>{line}</p>
      {s.state === 'running' && (
        <progress
          max={total > 0 ? total : undefined}
          value={total > 0 ? done : undefined}
          aria-label={t('mailAccounts.progressLabel', { label })}
        />
      )}
      {skipped > 0 && <p className="muted small">{t('mailAccounts.state.skipped', { count: skipped })}</p>}
      {s.folders.length > 1 && (s.state === 'running' || s.state === 'completed' || s.state === 'failed') && (
        <details className="import-folders">
          <summary className="small">{t('mailAccounts.folders', { count: s.folders.length })}</summary>
          <ul className="plain-list small">
            {s.folders.map((f) => (
              <li key={f.path}>
                <span className="folder-name">{f.path}</span>
                {t('mailAccounts.folderSeparator')}
                {f.excluded
                  ? t(`mailAccounts.folderExcluded.${f.excluded}`)
                  : f.total === null
                    ? t('mailAccounts.folderWaiting')
                    : t('mailAccounts.folderLine', { done: f.done, total: f.total, count: f.imported })}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}

function AddMailboxForm({ onAdded }: { onAdded: (m: RemoteMailbox) => void }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const ids = useId();
  const [label, setLabel] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [host, setHost] = useState('');
  const security = useModeAndPort<ImapTls>(IMAP_PORT, 'implicit');
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const add = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    setBusy(true);
    try {
      const added = await api.addRemoteMailbox({
        kind: 'imap',
        host: host.trim(),
        port: Number(security.port),
        tls: security.mode,
        username: username.trim(),
        password,
        // Named in the user's language when they give no name (the instance's default is in English).
        label: label.trim() || defaultLabel(t, username.trim(), host),
      });
      setPassword('');
      setLabel('');
      setUsername('');
      setHost('');
      // Its first import starts at once (the instance would otherwise wait for the next scheduled sync).
      await api.startImport(added.id).catch(() => undefined);
      onAdded(added);
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h2 id={`${ids}-add`}>{t('mailAccounts.addTitle')}</h2>
      <form className="card mail-account-form" onSubmit={add} aria-labelledby={`${ids}-add`}>
        {formError !== null && <ProblemMessage error={formError} />}
        <TextField
          id={`${ids}-username`}
          label={t('mailAccounts.username')}
          value={username}
          onChange={setUsername}
          required
          maxLength={320}
          placeholder="name@example.org"
        />
        <TextField
          id={`${ids}-password`}
          label={t('mailAccounts.password')}
          type="password"
          value={password}
          onChange={setPassword}
          required
          maxLength={1024}
          help={t('mailAccounts.passwordHelp')}
        />
        <TextField
          id={`${ids}-host`}
          label={t('mailAccounts.host')}
          value={host}
          onChange={setHost}
          required
          maxLength={253}
          placeholder="imap.example.org"
        />
        <SelectField
          id={`${ids}-tls`}
          label={t('mailAccounts.securityField')}
          value={security.mode}
          options={(['implicit', 'starttls', 'none'] as const).map((m) => ({
            value: m,
            label: t(`mailAccounts.security.${m}`),
          }))}
          onChange={security.chooseMode}
        />
        {security.mode === 'none' && <p className="problem small">{t('mailAccounts.clearWarning')}</p>}
        <TextField
          id={`${ids}-port`}
          label={t('mailAccounts.port')}
          type="port"
          value={security.port}
          onChange={security.typePort}
          required
        />
        <TextField
          id={`${ids}-label`}
          label={t('mailAccounts.label')}
          value={label}
          onChange={setLabel}
          maxLength={100}
        />
        <button type="submit" className="button-primary" disabled={busy}>
          {t('mailAccounts.add')}
        </button>
      </form>
    </>
  );
}

/**
 * A new password (the provider's changed, or an app password was replaced) or name. Open by itself when the last
 * import failed on the login; a new password starts an import once it is taken.
 */
function ChangeMailboxPanel({
  mailbox: m,
  onChanged,
}: {
  mailbox: RemoteMailbox;
  onChanged: (notice: string) => void;
}) {
  const { t } = useTranslation();
  const { api } = useSession();
  const ids = useId();
  const [password, setPassword] = useState('');
  const [label, setLabel] = useState(m.label);
  // The name as it is now (renamed here or elsewhere) until the user types another.
  useEffect(() => setLabel(m.label), [m.label]);
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const refused = m.sync.state === 'failed' && m.sync.lastError?.code === 'imap_auth_failed';

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    setBusy(true);
    try {
      // Only what the user changed: a name left as it is is not sent back over one renamed elsewhere meanwhile.
      const wanted = label.trim() || defaultLabel(t, m.username, m.host);
      const renamed = wanted !== m.label;
      if (password === '' && !renamed) return;
      const updated = await api.updateRemoteMailbox(m.id, {
        ...(password !== '' ? { password } : {}),
        ...(renamed ? { label: wanted } : {}),
      });
      if (password !== '') {
        setPassword('');
        await api.startImport(m.id).catch(() => undefined);
        onChanged(t('mailAccounts.changed', { label: updated.label }));
      } else onChanged(t('mailAccounts.renamed', { label: updated.label }));
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(false);
    }
  };

  const title = t(refused ? 'mailAccounts.changeTitleAuth' : 'mailAccounts.changeTitle');
  return (
    <details className="send-as" open={refused}>
      <summary>{title}</summary>
      <form className="send-as-form" onSubmit={save} aria-label={`${title}: ${m.label}`}>
        {formError !== null && <ProblemMessage error={formError} />}
        <TextField
          id={`${ids}-password`}
          label={t('mailAccounts.newPassword')}
          type="password"
          value={password}
          onChange={setPassword}
          required={refused}
          maxLength={1024}
          help={t('mailAccounts.newPasswordHelp')}
        />
        <TextField
          id={`${ids}-label`}
          label={t('mailAccounts.newLabel')}
          value={label}
          onChange={setLabel}
          maxLength={100}
        />
        <button type="submit" className="button-primary" disabled={busy}>
          {t('mailAccounts.change')}
        </button>
      </form>
    </details>
  );
}

/** A mailbox's name when the user gives none: "<username> on <host>", the host as the instance keeps it. */
const defaultLabel = (t: TFunction, username: string, host: string) =>
  t('mailAccounts.defaultLabel', { username, host: host.trim().toLowerCase().replace(/\.$/, '') });

/** The provider's usual name for its outgoing server, guessed from the incoming one (imap.x -> smtp.x). */
const outgoingHostOf = (imapHost: string) => imapHost.replace(/^imaps?\./i, 'smtp.');

function SendAsPanel({
  mailbox: m,
  relay,
  onChanged,
}: {
  mailbox: RemoteMailbox;
  relay: SendAsRelay | null;
  onChanged: (notice: string) => void;
}) {
  const { t } = useTranslation();
  const { api } = useSession();
  const ids = useId();
  const [address, setAddress] = useState(m.username.includes('@') ? m.username : '');
  const [host, setHost] = useState(outgoingHostOf(m.host));
  const security = useModeAndPort<keyof typeof SUBMISSION_PORT>(SUBMISSION_PORT, 'implicit');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  if (relay)
    return (
      <div className="send-as">
        <h3>{t('mailAccounts.sendAsTitle')}</h3>
        <p className="small">
          {t('mailAccounts.sendAsActive', { address: relay.address, host: relay.host, port: relay.port })}
        </p>
        {formError !== null && <ProblemMessage error={formError} />}
        <button
          type="button"
          className="button-secondary"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            api
              .removeSendAs(m.id)
              .then(() => onChanged(t('mailAccounts.sendAsStopped', { address: relay.address })), setFormError)
              .finally(() => setBusy(false));
          }}
        >
          {t('mailAccounts.sendAsStop', { address: relay.address })}
        </button>
      </div>
    );

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    setBusy(true);
    try {
      const set = await api.setSendAs(m.id, {
        address: address.trim(),
        host: host.trim(),
        port: Number(security.port),
        tls: security.mode,
        ...(username.trim() ? { username: username.trim() } : {}),
        password,
      });
      setPassword('');
      onChanged(t('mailAccounts.sendAsSaved', { address: set.address }));
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <details className="send-as">
      <summary>{t('mailAccounts.sendAsTitle')}</summary>
      <p className="muted small">{t('mailAccounts.sendAsIntro')}</p>
      <form className="send-as-form" onSubmit={save} aria-label={`${t('mailAccounts.sendAsTitle')}: ${m.label}`}>
        {formError !== null && <ProblemMessage error={formError} />}
        <TextField
          id={`${ids}-address`}
          label={t('mailAccounts.sendAsAddress')}
          type="email"
          value={address}
          onChange={setAddress}
          required
          maxLength={254}
        />
        <TextField
          id={`${ids}-host`}
          label={t('mailAccounts.sendAsHost')}
          value={host}
          onChange={setHost}
          required
          maxLength={253}
        />
        <SelectField
          id={`${ids}-tls`}
          label={t('mailAccounts.sendAsSecurity')}
          value={security.mode}
          options={(['implicit', 'starttls'] as const).map((mode) => ({
            value: mode,
            label: t(`mailAccounts.sendAsSecurityOption.${mode}`),
          }))}
          onChange={security.chooseMode}
        />
        <TextField
          id={`${ids}-port`}
          label={t('mailAccounts.sendAsPort')}
          type="port"
          value={security.port}
          onChange={security.typePort}
          required
        />
        <TextField
          id={`${ids}-username`}
          label={t('mailAccounts.sendAsUsername')}
          value={username}
          onChange={setUsername}
          maxLength={320}
          help={t('mailAccounts.sendAsUsernameHelp', { username: m.username })}
        />
        <TextField
          id={`${ids}-password`}
          label={t('mailAccounts.sendAsPassword')}
          type="password"
          value={password}
          onChange={setPassword}
          required
          maxLength={1024}
        />
        <button type="submit" className="button-primary" disabled={busy}>
          {t('mailAccounts.sendAsSave')}
        </button>
      </form>
    </details>
  );
}

/** A security mode with its port: the port follows the mode's usual one until the user types another. */
function useModeAndPort<M extends string>(usual: Record<M, number>, initial: M) {
  const [mode, setMode] = useState<M>(initial);
  const [port, setPort] = useState(String(usual[initial]));
  const [typed, setTyped] = useState(false);
  return {
    mode,
    port,
    chooseMode(next: M) {
      setMode(next);
      if (!typed) setPort(String(usual[next]));
    },
    typePort(value: string) {
      setPort(value);
      setTyped(true);
    },
  };
}

/** A labelled input, with its help sentence tied to it when there is one. */
function TextField({
  id,
  label,
  value,
  onChange,
  help,
  type = 'text',
  required = false,
  maxLength,
  placeholder,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  help?: string;
  type?: 'text' | 'password' | 'email' | 'port';
  required?: boolean;
  maxLength?: number;
  placeholder?: string;
}) {
  const port = type === 'port';
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={port ? 'number' : type}
        {...(port ? { min: 1, max: 65535, inputMode: 'numeric' as const } : {})}
        // A password here is another server's: never the browser's saved one for this instance.
        {...(type === 'password' ? { autoComplete: 'new-password' } : type === 'text' ? { autoComplete: 'off' } : {})}
        {...(maxLength !== undefined ? { maxLength } : {})}
        {...(placeholder !== undefined ? { placeholder } : {})}
        {...(help !== undefined ? { 'aria-describedby': `${id}-help` } : {})}
        required={required}
        value={value}
        onChange={(e) => onChange(e.target.value)}
      />
      {help !== undefined && (
        <p id={`${id}-help`} className="muted small">
          {help}
        </p>
      )}
    </div>
  );
}

/** A labelled choice among `options` (value and words). */
function SelectField<V extends string>({
  id,
  label,
  value,
  options,
  onChange,
}: {
  id: string;
  label: string;
  value: V;
  options: readonly { value: V; label: string }[];
  onChange: (value: V) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as V)}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}
