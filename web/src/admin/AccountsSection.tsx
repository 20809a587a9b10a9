import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { formatBytes } from '../app/format-bytes.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import type { AdminAccount, AdminApi } from './admin-api.ts';
import { StatusWord } from './StatusWord.tsx';

const MIB = 1024 * 1024;

/** Accounts: list, create, disable and enable, reset the password, change the quota. Each action is journalled. */
export function AccountsSection({ admin }: { admin: AdminApi }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.resolvedLanguage ?? 'en';
  const [items, setItems] = useState<AdminAccount[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [notice, setNotice] = useState('');

  const load = useCallback(
    (after?: string) => {
      setError(null);
      admin.users(after).then(
        (r) => {
          setItems((old) => (after && old ? [...old, ...r.items] : r.items));
          setNext(r.next);
        },
        (e) => setError(e),
      );
    },
    [admin],
  );
  useEffect(() => load(), [load]);

  const replace = (a: AdminAccount) => setItems((old) => old?.map((x) => (x.id === a.id ? a : x)) ?? null);
  const current = items?.find((a) => a.id === selected) ?? null;

  return (
    <>
      <div role="status" aria-live="polite">
        {notice && <p className="notice">{notice}</p>}
      </div>
      <CreateAccount
        admin={admin}
        onCreated={(a) => {
          setNotice(t('admin.accounts.created', { name: a.username }));
          load();
        }}
      />
      <section className="card" aria-labelledby="accounts-h">
        <h2 id="accounts-h">{t('admin.accounts.title')}</h2>
        {error !== null && <ProblemMessage error={error} onRetry={() => load()} />}
        {items === null && error === null && <p role="status">{t('app.loading')}</p>}
        {items && (
          <div className="table-scroll">
            <table className="data-table" aria-labelledby="accounts-h">
              <thead>
                <tr>
                  <th scope="col">{t('admin.accounts.username')}</th>
                  <th scope="col">{t('admin.accounts.displayName')}</th>
                  <th scope="col">{t('admin.accounts.role')}</th>
                  <th scope="col">{t('admin.accounts.state')}</th>
                  <th scope="col">{t('admin.accounts.storage')}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t('admin.accounts.actions')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((a) => (
                  <tr key={a.id} data-username={a.username}>
                    <th scope="row">{a.username}</th>
                    <td>{a.displayName}</td>
                    <td>{t(`journal.role.${a.role}`)}</td>
                    <td>
                      {a.disabled ? (
                        <StatusWord tone="bad">{t('admin.accounts.disabled')}</StatusWord>
                      ) : (
                        <StatusWord tone="ok">{t('admin.accounts.enabled')}</StatusWord>
                      )}
                    </td>
                    <td>
                      {t('admin.accounts.usage', {
                        used: formatBytes(a.usedBytes, lang),
                        quota: formatBytes(a.quotaBytes, lang),
                      })}
                    </td>
                    <td>
                      <button
                        type="button"
                        className="button-secondary"
                        aria-expanded={selected === a.id}
                        aria-controls="account-edit"
                        onClick={() => setSelected(selected === a.id ? null : a.id)}
                      >
                        {t('admin.accounts.manage', { name: a.username })}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {next !== null && (
          <button type="button" className="button-secondary" onClick={() => load(next)}>
            {t('admin.accounts.more')}
          </button>
        )}
        {current && (
          <EditAccount
            key={current.id}
            admin={admin}
            account={current}
            onChanged={(a, message) => {
              replace(a);
              setNotice(message);
            }}
          />
        )}
      </section>
    </>
  );
}

function EditAccount({
  admin,
  account,
  onChanged,
}: {
  admin: AdminApi;
  account: AdminAccount;
  onChanged: (a: AdminAccount, message: string) => void;
}) {
  const { t, i18n } = useTranslation();
  const lang = i18n.resolvedLanguage ?? 'en';
  const [quota, setQuota] = useState(String(Math.round(account.quotaBytes / MIB)));
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const toggle = () =>
    run(async () => {
      const a = await admin.updateUser(account.id, { disabled: !account.disabled });
      onChanged(a, t(a.disabled ? 'admin.accounts.disabledDone' : 'admin.accounts.enabledDone', { name: a.username }));
    });

  const saveQuota = (e: FormEvent) => {
    e.preventDefault();
    run(async () => {
      const a = await admin.updateUser(account.id, { quotaBytes: Math.round(Number(quota) * MIB) });
      onChanged(a, t('admin.accounts.quotaDone', { name: a.username, quota: formatBytes(a.quotaBytes, lang) }));
    });
  };

  const reset = (e: FormEvent) => {
    e.preventDefault();
    run(async () => {
      await admin.resetPassword(account.id, password);
      setPassword('');
      onChanged(account, t('admin.accounts.passwordDone', { name: account.username }));
    });
  };

  return (
    <section id="account-edit" className="admin-edit" aria-labelledby="account-edit-h">
      <h3 id="account-edit-h" ref={headingRef} tabIndex={-1}>
        {t('admin.accounts.editing', { name: account.username })}
      </h3>
      {error !== null && <ProblemMessage error={error} />}
      <p>
        <button type="button" className="button-primary" disabled={busy} onClick={() => void toggle()}>
          {account.disabled ? t('admin.accounts.enable') : t('admin.accounts.disable')}
        </button>{' '}
        <span className="small">{t('admin.accounts.disableHelp')}</span>
      </p>
      <form className="admin-form" onSubmit={saveQuota}>
        <div className="field">
          <label htmlFor="quota-mb">{t('admin.accounts.quotaMb')}</label>
          <input
            id="quota-mb"
            type="number"
            min={0}
            step={1}
            required
            value={quota}
            onChange={(e) => setQuota(e.target.value)}
          />
        </div>
        <button type="submit" className="button-secondary" disabled={busy}>
          {t('admin.accounts.saveQuota')}
        </button>
      </form>
      <form className="admin-form" onSubmit={reset}>
        <div className="field">
          <label htmlFor="reset-password">{t('admin.accounts.newPassword')}</label>
          <input
            id="reset-password"
            type="password"
            autoComplete="new-password"
            minLength={10}
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <button type="submit" className="button-secondary" disabled={busy}>
          {t('admin.accounts.resetPassword')}
        </button>
      </form>
      <p className="small">{t('admin.accounts.journalled')}</p>
    </section>
  );
}

function CreateAccount({ admin, onCreated }: { admin: AdminApi; onCreated: (a: AdminAccount) => void }) {
  const { t } = useTranslation();
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<'user' | 'admin'>('user');
  const [quota, setQuota] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const a = await admin.createUser({
        username: username.trim(),
        password,
        role,
        ...(displayName.trim() ? { displayName: displayName.trim() } : {}),
        ...(quota.trim() ? { quotaBytes: Math.round(Number(quota) * MIB) } : {}),
      });
      setUsername('');
      setDisplayName('');
      setPassword('');
      setQuota('');
      onCreated(a);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="create-h">
      <h2 id="create-h">{t('admin.accounts.create')}</h2>
      {error !== null && <ProblemMessage error={error} />}
      <form className="admin-form" onSubmit={(e) => void submit(e)}>
        <div className="field">
          <label htmlFor="new-username">{t('admin.accounts.username')}</label>
          <input
            id="new-username"
            required
            maxLength={64}
            autoComplete="off"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="new-display">{t('admin.accounts.displayName')}</label>
          <input
            id="new-display"
            maxLength={200}
            value={displayName}
            onChange={(e) => setDisplayName(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="new-password">{t('admin.accounts.password')}</label>
          <input
            id="new-password"
            type="password"
            autoComplete="new-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="new-role">{t('admin.accounts.role')}</label>
          <select id="new-role" value={role} onChange={(e) => setRole(e.target.value as 'user' | 'admin')}>
            <option value="user">{t('journal.role.user')}</option>
            <option value="admin">{t('journal.role.admin')}</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="new-quota">{t('admin.accounts.quotaMbOptional')}</label>
          <input
            id="new-quota"
            type="number"
            min={0}
            step={1}
            value={quota}
            onChange={(e) => setQuota(e.target.value)}
          />
        </div>
        <button type="submit" className="button-primary" disabled={busy}>
          {t('admin.accounts.createSubmit')}
        </button>
      </form>
    </section>
  );
}
