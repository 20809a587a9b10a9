import { type FormEvent, useCallback, useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { XmppAccount } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { useSession } from '../app/session.tsx';

/**
 * Chat accounts (XMPP) linked to the mailbox: their chat lands in the same conversations as the same people's mail,
 * and replies can leave by chat. Linking checks the login first; the password is kept sealed and never shown again.
 */
export function ChatAccountsScreen() {
  const { t } = useTranslation();
  const { api } = useSession();
  const [items, setItems] = useState<XmppAccount[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [formError, setFormError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  const [jid, setJid] = useState('');
  const [password, setPassword] = useState('');
  const [host, setHost] = useState('');
  const [port, setPort] = useState('');
  const headingRef = useRef<HTMLHeadingElement>(null);
  const ids = useId();

  const load = useCallback(() => {
    let cancelled = false;
    setError(null);
    api.xmppAccounts().then(
      (r) => !cancelled && setItems(r.items),
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [api]);
  useEffect(load, [load]);
  useEffect(() => headingRef.current?.focus(), []);

  const link = (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    setNotice('');
    const portNumber = port.trim() === '' ? undefined : Number(port);
    setBusy(true);
    api
      .linkXmppAccount({
        jid: jid.trim(),
        password,
        ...(host.trim() ? { host: host.trim() } : {}),
        ...(portNumber !== undefined && Number.isInteger(portNumber) ? { port: portNumber } : {}),
      })
      .then((a) => {
        setPassword('');
        setJid('');
        setHost('');
        setPort('');
        setNotice(t('chatAccounts.linked', { jid: a.jid }));
        load();
      }, setFormError)
      .finally(() => setBusy(false));
  };

  const unlink = (a: XmppAccount) => {
    setNotice('');
    api.unlinkXmppAccount(a.id).then(() => {
      setNotice(t('chatAccounts.unlinked', { jid: a.jid }));
      load();
    }, setError);
  };

  return (
    <section className="chat-accounts" aria-labelledby="chat-accounts-h">
      <div className="screen-head">
        <h1 id="chat-accounts-h" ref={headingRef} tabIndex={-1}>
          {t('chatAccounts.title')}
        </h1>
      </div>
      <p>{t('chatAccounts.intro')}</p>
      <div role="status">{notice && <p className="notice">{notice}</p>}</div>
      {error !== null && <ProblemMessage error={error} onRetry={load} />}
      {items === null && error === null && <p role="status">{t('app.loading')}</p>}
      {items !== null && items.length === 0 && <p className="muted">{t('chatAccounts.none')}</p>}
      {items !== null && items.length > 0 && (
        <ul className="plain-list chat-account-list" aria-labelledby="chat-accounts-h">
          {items.map((a) => (
            <li key={a.id} className="card">
              <strong>{a.jid}</strong>{' '}
              <span className={a.connected ? 'fact-yes' : 'fact-no'}>
                {t(a.connected ? 'chatAccounts.connected' : 'chatAccounts.connecting')}
              </span>{' '}
              <button
                type="button"
                className="button-secondary"
                onClick={() => unlink(a)}
                aria-label={t('chatAccounts.unlinkNamed', { jid: a.jid })}
              >
                {t('chatAccounts.unlink')}
              </button>
            </li>
          ))}
        </ul>
      )}
      <h2 id={`${ids}-link`}>{t('chatAccounts.linkTitle')}</h2>
      <form className="card chat-account-form" onSubmit={link} aria-labelledby={`${ids}-link`}>
        {formError !== null && <ProblemMessage error={formError} />}
        <div className="field">
          <label htmlFor={`${ids}-jid`}>{t('chatAccounts.jid')}</label>
          <input
            id={`${ids}-jid`}
            type="text"
            autoComplete="username"
            required
            value={jid}
            onChange={(e) => setJid(e.target.value)}
            placeholder="name@example.org"
          />
        </div>
        <div className="field">
          <label htmlFor={`${ids}-password`}>{t('chatAccounts.password')}</label>
          <input
            id={`${ids}-password`}
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${ids}-host`}>{t('chatAccounts.host')}</label>
          <input id={`${ids}-host`} type="text" value={host} onChange={(e) => setHost(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${ids}-port`}>{t('chatAccounts.port')}</label>
          <input
            id={`${ids}-port`}
            type="number"
            min={1}
            max={65535}
            inputMode="numeric"
            value={port}
            onChange={(e) => setPort(e.target.value)}
          />
        </div>
        <p className="muted small">{t('chatAccounts.hostHelp')}</p>
        <button type="submit" className="button-primary" disabled={busy}>
          {t('chatAccounts.link')}
        </button>
      </form>
    </section>
  );
}
