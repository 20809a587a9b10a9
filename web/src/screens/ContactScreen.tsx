import { type FormEvent, useCallback, useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Contact, ContactDetail, CorrespondentKey, KeyAlert } from '../api/types.ts';
import { refreshKeyAlerts, useKeyAlerts } from '../app/key-alerts.ts';
import { ProblemMessage, problemText } from '../app/ProblemMessage.tsx';
import { onLinkClick } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { PiBadge } from '../design-system/PiBadge.tsx';
import { TrustBadge } from '../design-system/TrustBadge.tsx';
import { Fingerprint } from '../privacy/Fingerprint.tsx';
import { sameFingerprint } from '../privacy/fingerprint.ts';
import { PeerCard } from '../trust/PeerCard.tsx';
import { clearContactTrustCache, useContactTrust } from '../trust/use-contact-trust.ts';
import { usePeer } from '../trust/use-peer.ts';

/**
 * A contact's card: addresses, the PI of your exchanges with its breakdown, their keys with fingerprints to compare,
 * a "verified" mark once compared, adding a key, and the key alerts of their addresses with a compare-and-decide flow.
 */
export function ContactScreen({ id }: { id: string }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [contact, setContact] = useState<ContactDetail | null>(null);
  const [keys, setKeys] = useState<CorrespondentKey[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const alerts = useKeyAlerts(api);
  const trust = useContactTrust(api, id);
  // The instance of their (first) email address, when it is a member of the federation: its label and standing.
  const peer = usePeer(api, contact?.identities.find((i) => i.protocol === 'email')?.address);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const alertsRef = useRef<HTMLHeadingElement>(null);

  const load = useCallback(() => {
    let cancelled = false;
    setError(null);
    Promise.all([api.contact(id), api.contactKeys(id)]).then(
      ([c, k]) => {
        if (cancelled) return;
        setContact(c);
        setKeys(k.items);
      },
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [api, id]);
  useEffect(load, [load]);
  const mine = (alerts ?? []).filter((a) => a.contact?.id === id);
  const loaded = contact !== null;
  useEffect(() => {
    if (!loaded) return;
    if (location.hash === '#key-alerts' && mine.length > 0) alertsRef.current?.focus();
    else headingRef.current?.focus();
  }, [loaded, mine.length]);

  /** After a decision: the keys as the instance now holds them, the contact's PI recomputed, the alerts reloaded. */
  const decided = async (message: string) => {
    const c = await api.contact(id);
    setContact(c);
    setKeys((await api.contactKeys(id)).items);
    refreshKeyAlerts();
    setNotice(message);
  };

  /** After an edit or a merge: the contact (and its keys: a merge brings the other's) as the instance now holds it. */
  const changed = async (message: string) => {
    clearContactTrustCache();
    await decided(message);
  };

  return (
    <article className="contact-card" aria-labelledby="contact-h">
      <a className="back-link" href="/contacts" onClick={onLinkClick('/contacts')}>
        ← {t('contacts.back')}
      </a>
      {error !== null && <ProblemMessage error={error} onRetry={load} />}
      {!contact && error === null && <p role="status">{t('app.loading')}</p>}
      {contact && keys && (
        <>
          <header className="discussion-head">
            <div>
              <h1 id="contact-h" ref={headingRef} tabIndex={-1}>
                {contact.displayName}
              </h1>
              {trust && <TrustBadge trust={trust} />}
            </div>
            <div className="contact-pi">
              <span className="muted small" id="contact-pi-label">
                {t('contacts.pi', { name: contact.displayName })}
              </span>
              <PiBadge pi={contact.pi} subject={contact.displayName} />
            </div>
          </header>
          {peer?.entry && <PeerCard peer={peer} />}
          <div role="status">{notice && <p className="notice">{notice}</p>}</div>
          {mine.length > 0 && (
            <section id="key-alerts" className="key-alerts" aria-labelledby="contact-alerts-h">
              <h2 id="contact-alerts-h" ref={alertsRef} tabIndex={-1}>
                {t('alerts.title')}
              </h2>
              {mine.map((a) => (
                <AlertDecision
                  key={`${a.address}:${a.conflicting.fingerprint}`}
                  alert={a}
                  contactId={id}
                  name={contact.displayName}
                  onDecided={() => decided(t('alerts.resolved'))}
                />
              ))}
            </section>
          )}
          <section aria-labelledby="addresses-h">
            <h2 id="addresses-h">{t('contacts.addresses')}</h2>
            <ul className="plain-list">
              {contact.identities.map((i) => (
                <li key={`${i.protocol}:${i.address}`}>
                  {i.address}
                  {i.label && <span className="muted"> ({i.label})</span>}
                </li>
              ))}
            </ul>
            {contact.notes && (
              <>
                <h3>{t('contacts.notes')}</h3>
                <p className="pre-wrap">{contact.notes}</p>
              </>
            )}
            <EditContactForm contact={contact} onSaved={() => changed(t('contacts.saved'))} />
          </section>
          <section aria-labelledby="keys-h">
            <h2 id="keys-h">{t('contacts.keys')}</h2>
            {keys.length === 0 && <p>{t('contacts.noKeys')}</p>}
            <ul className="key-list">
              {keys.map((k) => (
                <KeyItem
                  key={`${k.address}:${k.fingerprint}`}
                  k={k}
                  contactId={id}
                  name={contact.displayName}
                  onVerified={() => decided(t('contacts.verifiedDone', { name: contact.displayName }))}
                />
              ))}
            </ul>
            <AddKeyForm contact={contact} onAdded={(m) => decided(m)} />
          </section>
          <MergePanel contact={contact} onMerged={(m) => changed(m)} />
        </>
      )}
    </article>
  );
}

function KeyItem({
  k,
  contactId,
  name,
  onVerified,
}: {
  k: CorrespondentKey;
  contactId: string;
  name: string;
  onVerified: () => Promise<void>;
}) {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const [comparing, setComparing] = useState(false);
  const [heard, setHeard] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const heardId = useId();
  const dateFormat = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium' });
  const mismatch = heard.trim() !== '' && !sameFingerprint(heard, k.fingerprint);
  const canVerify = !k.verified && (k.status === 'active' || k.status === 'conflict');

  const verify = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.verifyContactKey(contactId, k.fingerprint);
      setComparing(false);
      await onVerified();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className={`key-item key-${k.status}`}>
      <div className="key-line">
        <span>{t('contacts.keyFor', { address: k.address })}</span>
        <span className="key-status">{t(`contacts.status.${k.status}`)}</span>
        {k.verified ? (
          <span className="verified-mark">
            <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
              <path d="M3 8.5l3 3 7-7" fill="none" stroke="currentColor" strokeWidth="2" />
            </svg>
            {t('contacts.verified')}
            {k.verifiedAt && (
              <span className="muted small">
                {' '}
                — {t('contacts.verifiedOn', { date: dateFormat.format(new Date(k.verifiedAt)) })}
              </span>
            )}
          </span>
        ) : (
          <span className="muted">{t('contacts.notVerified')}</span>
        )}
      </div>
      <Fingerprint value={k.fingerprint} />
      <p className="muted small">
        {t('contacts.source', { source: t(`contacts.sources.${k.source}`, { defaultValue: k.source }) })} ·{' '}
        {k.algorithm}
      </p>
      {canVerify && !comparing && (
        <button type="button" className="button-secondary" onClick={() => setComparing(true)}>
          {t('contacts.compare')}
          <span className="visually-hidden"> ({k.address})</span>
        </button>
      )}
      {canVerify && comparing && (
        <div className="compare-box">
          <p>{t('contacts.compareHelp', { name })}</p>
          <div className="field">
            <label htmlFor={heardId}>{t('contacts.heard')}</label>
            <input
              id={heardId}
              value={heard}
              onChange={(e) => setHeard(e.target.value)}
              autoComplete="off"
              spellCheck={false}
              aria-invalid={mismatch}
            />
          </div>
          {heard.trim() !== '' && (
            <p className={mismatch ? 'problem-inline' : 'ok-inline'} role="status">
              {mismatch ? t('contacts.heardDiffers') : t('contacts.heardMatches')}
            </p>
          )}
          {error !== null && <ProblemMessage error={error} />}
          <div className="actions">
            <button type="button" className="button-primary" disabled={busy || mismatch} onClick={() => void verify()}>
              {t('contacts.confirmVerify')}
            </button>
            <button type="button" className="button-secondary" onClick={() => setComparing(false)}>
              {t('contacts.cancel')}
            </button>
          </div>
        </div>
      )}
    </li>
  );
}

function AlertDecision({
  alert: a,
  contactId,
  name,
  onDecided,
}: {
  alert: KeyAlert;
  contactId: string;
  name: string;
  onDecided: () => Promise<void>;
}) {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const dateFormat = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'short' });
  const titleId = useId();
  // Known only by its fingerprint (a signature by another key than the pinned one): it can be refused, not used.
  const keyless = a.conflicting.source === 'signature';

  const act = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
      await onDecided();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="alert-decision" aria-labelledby={titleId}>
      <h3 id={titleId}>{t('alerts.forAddress', { address: a.address })}</h3>
      <p>{t('alerts.why', { date: dateFormat.format(new Date(a.raisedAt)) })}</p>
      <p>{t('alerts.decideHelp', { name })}</p>
      <div className="alert-keys">
        <div>
          <h4>{t('alerts.pinned')}</h4>
          {a.pinned ? <Fingerprint value={a.pinned.fingerprint} /> : <p>{t('alerts.noPinned')}</p>}
        </div>
        <div>
          <h4>{t('alerts.conflicting')}</h4>
          <Fingerprint value={a.conflicting.fingerprint} />
          {keyless && <p>{t('alerts.signedByUnknown')}</p>}
          <p className="muted small">
            {t('contacts.source', {
              source: t(`contacts.sources.${a.conflicting.source}`, { defaultValue: a.conflicting.source }),
            })}
          </p>
        </div>
      </div>
      {error !== null && <ProblemMessage error={error} />}
      <div className="actions">
        {a.pinned && (
          <button
            type="button"
            className="button-primary"
            disabled={busy}
            onClick={() => void act(() => api.verifyContactKey(contactId, a.pinned!.fingerprint))}
          >
            {t('alerts.keepPinned')}
          </button>
        )}
        {!keyless && (
          <button
            type="button"
            className="button-secondary"
            disabled={busy}
            onClick={() => void act(() => api.verifyContactKey(contactId, a.conflicting.fingerprint))}
          >
            {t('alerts.useNew')}
          </button>
        )}
        <button
          type="button"
          className="button-secondary"
          disabled={busy}
          onClick={() => void act(() => api.rejectContactKey(contactId, a.conflicting.fingerprint))}
        >
          {t('alerts.refuseNew')}
        </button>
      </div>
    </section>
  );
}

function AddKeyForm({ contact, onAdded }: { contact: ContactDetail; onAdded: (message: string) => Promise<void> }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const emails = contact.identities.filter((i) => i.protocol === 'email').map((i) => i.address);
  const [open, setOpen] = useState(false);
  const [armored, setArmored] = useState('');
  const [address, setAddress] = useState(emails[0] ?? '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const armoredId = useId();
  const addressId = useId();
  if (emails.length === 0) return null;
  if (!open)
    return (
      <button type="button" className="button-secondary" onClick={() => setOpen(true)}>
        {t('contacts.addKey')}
      </button>
    );
  return (
    <form
      className="add-key"
      aria-label={t('contacts.addKey')}
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        api
          .addContactKey(contact.id, armored, emails.length > 1 ? address : undefined)
          .then(async (r) => {
            setArmored('');
            setOpen(false);
            await onAdded(t(`contacts.keyAdded.${r.outcome}`));
          })
          .catch(setError)
          .finally(() => setBusy(false));
      }}
    >
      <h3>{t('contacts.addKey')}</h3>
      <p className="muted">{t('contacts.addKeyHelp')}</p>
      {emails.length > 1 && (
        <div className="field">
          <label htmlFor={addressId}>{t('contacts.keyAddress')}</label>
          <select id={addressId} value={address} onChange={(e) => setAddress(e.target.value)}>
            {emails.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </div>
      )}
      <div className="field">
        <label htmlFor={armoredId}>{t('contacts.armored')}</label>
        <textarea
          id={armoredId}
          rows={6}
          value={armored}
          required
          spellCheck={false}
          onChange={(e) => setArmored(e.target.value)}
        />
      </div>
      {error !== null && (
        <p className="problem" role="alert">
          {problemText(t, error)}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="button-primary" disabled={busy}>
          {t('contacts.addKeySubmit')}
        </button>
        <button type="button" className="button-secondary" onClick={() => setOpen(false)}>
          {t('contacts.cancel')}
        </button>
      </div>
    </form>
  );
}

interface EditedAddress {
  /** A key for React only: addresses can be edited, added and removed in any order. */
  key: number;
  protocol: string;
  address: string;
  label: string | null;
}

/**
 * Editing a contact: its name and its addresses (added, changed, removed; the list replaces the contact's). Empty
 * fields are said in words before anything is sent; what the instance refuses (an address that is not one, or that
 * belongs to another contact) comes back as its sentence, and the form keeps what was typed.
 */
function EditContactForm({ contact, onSaved }: { contact: ContactDetail; onSaved: () => Promise<void> }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState(contact.displayName);
  const [addresses, setAddresses] = useState<EditedAddress[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [localError, setLocalError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const nextKey = useRef(0);
  const nameId = useId();
  const formId = useId();
  const nameRef = useRef<HTMLInputElement>(null);
  const openRef = useRef<HTMLButtonElement>(null);

  const start = () => {
    setName(contact.displayName);
    setAddresses(contact.identities.map((i) => ({ key: nextKey.current++, ...i })));
    setError(null);
    setLocalError(null);
    setOpen(true);
  };
  useEffect(() => {
    if (open) nameRef.current?.focus();
  }, [open]);
  // An address just added takes the focus once it is on the page (a timer could fire before React renders it, and
  // the focus would stay on the button).
  const [focusAddress, setFocusAddress] = useState<number | null>(null);
  useEffect(() => {
    if (focusAddress === null) return;
    document.getElementById(`${formId}-address-${focusAddress}`)?.focus();
    setFocusAddress(null);
  }, [focusAddress, formId]);
  const close = () => {
    setOpen(false);
    setTimeout(() => openRef.current?.focus(), 0);
  };

  if (!open)
    return (
      <button ref={openRef} type="button" className="button-secondary" onClick={start}>
        {t('contacts.edit')}
      </button>
    );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setLocalError(null);
    if (name.trim() === '') {
      setLocalError(t('contacts.nameRequired'));
      nameRef.current?.focus();
      return;
    }
    const empty = addresses.findIndex((a) => a.address.trim() === '');
    if (empty >= 0) {
      setLocalError(t('contacts.addressRequired', { n: empty + 1 }));
      document.getElementById(`${formId}-address-${addresses[empty]!.key}`)?.focus();
      return;
    }
    setBusy(true);
    api
      .updateContact(contact.id, {
        displayName: name.trim(),
        identities: addresses.map((a) => ({ protocol: a.protocol, address: a.address.trim(), label: a.label })),
      })
      .then(async () => {
        setOpen(false);
        await onSaved();
        openRef.current?.focus();
      })
      .catch(setError)
      .finally(() => setBusy(false));
  };

  return (
    <form
      className="key-task contact-edit"
      aria-label={t('contacts.editTitle', { name: contact.displayName })}
      onSubmit={submit}
      noValidate
    >
      <h3>{t('contacts.editTitle', { name: contact.displayName })}</h3>
      <div className="field">
        <label htmlFor={nameId}>{t('contacts.displayName')}</label>
        <input
          id={nameId}
          ref={nameRef}
          value={name}
          maxLength={200}
          required
          autoComplete="off"
          onChange={(e) => setName(e.target.value)}
        />
      </div>
      {addresses.map((a, i) => (
        <div className="field address-field" key={a.key}>
          <label htmlFor={`${formId}-address-${a.key}`}>{t('contacts.address', { n: i + 1 })}</label>
          <div className="inline-field">
            <input
              id={`${formId}-address-${a.key}`}
              type={a.protocol === 'email' ? 'email' : 'text'}
              value={a.address}
              maxLength={320}
              autoComplete="off"
              spellCheck={false}
              onChange={(e) =>
                setAddresses((list) => list.map((x) => (x.key === a.key ? { ...x, address: e.target.value } : x)))
              }
            />
            <button
              type="button"
              className="button-secondary"
              aria-label={
                a.address.trim() === ''
                  ? t('contacts.removeEmptyAddress', { n: i + 1 })
                  : t('contacts.removeAddress', { n: i + 1, address: a.address })
              }
              onClick={() => setAddresses((list) => list.filter((x) => x.key !== a.key))}
            >
              ×
            </button>
          </div>
        </div>
      ))}
      <button
        type="button"
        className="button-secondary"
        onClick={() => {
          const key = nextKey.current++;
          setFocusAddress(key);
          setAddresses((list) => [...list, { key, protocol: 'email', address: '', label: null }]);
        }}
      >
        {t('contacts.addAddress')}
      </button>
      {(localError !== null || error !== null) && (
        <p className="problem" role="alert">
          {localError ?? problemText(t, error)}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? t('contacts.saving') : t('contacts.save')}
        </button>
        <button type="button" className="button-secondary" onClick={close}>
          {t('contacts.cancel')}
        </button>
      </div>
    </form>
  );
}

/**
 * Merging another contact into this one: choose it, read what will happen (its addresses move here, it goes, the
 * discussions join), confirm. The instance's refusal, if any, is shown in words.
 */
function MergePanel({ contact, onMerged }: { contact: ContactDetail; onMerged: (message: string) => Promise<void> }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [others, setOthers] = useState<Contact[] | null>(null);
  const [chosen, setChosen] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const selectId = useId();
  const confirmRef = useRef<HTMLParagraphElement>(null);

  const loadOthers = useCallback(() => {
    setError(null);
    (async () => {
      const all: Contact[] = [];
      let cursor: string | undefined;
      do {
        const page = await api.contacts(cursor);
        all.push(...page.items);
        cursor = page.next ?? undefined;
      } while (cursor && all.length < 2000);
      setOthers(all.filter((c) => c.id !== contact.id));
    })().catch(setError);
  }, [api, contact.id]);
  useEffect(loadOthers, [loadOthers]);
  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);

  const source = others?.find((c) => c.id === chosen) ?? null;

  return (
    <section aria-labelledby="merge-h" className="contact-merge">
      <h2 id="merge-h">{t('contacts.merge')}</h2>
      <p className="muted">{t('contacts.mergeHelp')}</p>
      {others === null && error === null && <p role="status">{t('app.loading')}</p>}
      {others !== null && others.length === 0 && <p>{t('contacts.mergeNone')}</p>}
      {others !== null && others.length > 0 && !confirming && (
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (source) {
              setError(null);
              setConfirming(true);
            }
          }}
        >
          <div className="field">
            <label htmlFor={selectId}>{t('contacts.mergeWith', { name: contact.displayName })}</label>
            <select id={selectId} value={chosen} onChange={(e) => setChosen(e.target.value)}>
              <option value="">{t('contacts.mergeChoose')}</option>
              {others.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.identities.length > 0
                    ? `${c.displayName} (${c.identities.map((i) => i.address).join(', ')})`
                    : c.displayName}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" className="button-secondary" disabled={!source}>
            {t('contacts.mergeNext')}
          </button>
        </form>
      )}
      {confirming && source && (
        <div className="key-task merge-confirm">
          <p ref={confirmRef} tabIndex={-1}>
            {t('contacts.mergeConfirm', {
              source: source.displayName,
              target: contact.displayName,
              addresses: source.identities.map((i) => i.address).join(', ') || '—',
            })}
          </p>
          <div className="actions">
            <button
              type="button"
              className="button-primary"
              disabled={busy}
              onClick={() => {
                setBusy(true);
                setError(null);
                api
                  .mergeContacts(contact.id, [source.id])
                  .then(async (r) => {
                    setConfirming(false);
                    setChosen('');
                    await onMerged(
                      t('contacts.merged', {
                        source: source.displayName,
                        name: r.contact.displayName,
                        count: r.conversationsMerged,
                      }),
                    );
                    loadOthers();
                  })
                  .catch(setError)
                  .finally(() => setBusy(false));
              }}
            >
              {t('contacts.mergeDo')}
            </button>
            <button type="button" className="button-secondary" onClick={() => setConfirming(false)}>
              {t('contacts.cancel')}
            </button>
          </div>
        </div>
      )}
      {error !== null && (
        <p className="problem" role="alert">
          {problemText(t, error)}
        </p>
      )}
    </section>
  );
}
