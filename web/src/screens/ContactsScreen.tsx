import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Contact, KeyAlert } from '../api/types.ts';
import { useKeyAlerts } from '../app/key-alerts.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { onLinkClick } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { PiBadge } from '../design-system/PiBadge.tsx';
import { TrustBadge } from '../design-system/TrustBadge.tsx';
import { useContactTrust } from '../trust/use-contact-trust.ts';

/** The address book: each contact with their trust level and PI badge; key alerts first, where they are seen. */
export function ContactsScreen() {
  const { t } = useTranslation();
  const { api } = useSession();
  const [items, setItems] = useState<Contact[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const alerts = useKeyAlerts(api);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const alertsRef = useRef<HTMLHeadingElement>(null);

  const load = useCallback(() => {
    let cancelled = false;
    setError(null);
    (async () => {
      const all: Contact[] = [];
      let cursor: string | undefined;
      do {
        const page = await api.contacts(cursor);
        all.push(...page.items);
        cursor = page.next ?? undefined;
      } while (cursor && all.length < 2000);
      if (!cancelled) setItems(all);
    })().catch((e) => !cancelled && setError(e));
    return () => {
      cancelled = true;
    };
  }, [api]);
  useEffect(load, [load]);
  useEffect(() => headingRef.current?.focus(), []);
  useEffect(() => {
    if (alerts && alerts.length > 0 && location.hash === '#key-alerts') alertsRef.current?.focus();
  }, [alerts]);

  const alertedContacts = new Set((alerts ?? []).flatMap((a) => (a.contact ? [a.contact.id] : [])));

  return (
    <section className="contacts" aria-labelledby="contacts-h">
      <div className="screen-head">
        <h1 id="contacts-h" ref={headingRef} tabIndex={-1}>
          {t('contacts.title')}
        </h1>
      </div>
      {alerts && alerts.length > 0 && (
        <section id="key-alerts" className="key-alerts" aria-labelledby="key-alerts-h">
          <h2 id="key-alerts-h" ref={alertsRef} tabIndex={-1}>
            {t('alerts.title')}
          </h2>
          <p>{t('alerts.intro', { count: alerts.length })}</p>
          <ul>
            {alerts.map((a) => (
              <AlertLine key={`${a.address}:${a.conflicting.fingerprint}`} alert={a} />
            ))}
          </ul>
        </section>
      )}
      {error !== null && <ProblemMessage error={error} onRetry={load} />}
      {items === null && error === null && <p role="status">{t('app.loading')}</p>}
      {items !== null && items.length === 0 && <p className="empty">{t('contacts.empty')}</p>}
      {items !== null && items.length > 0 && (
        <>
          <p className="muted small">{t('contacts.count', { count: items.length })}</p>
          <ul className="contact-list" aria-labelledby="contacts-h">
            {items.map((c) => (
              <ContactRow key={c.id} contact={c} alerted={alertedContacts.has(c.id)} />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function AlertLine({ alert: a }: { alert: KeyAlert }) {
  const { t } = useTranslation();
  const path = a.contact ? `/contacts/${a.contact.id}#key-alerts` : null;
  return (
    <li>
      <strong>{t('alerts.forAddress', { address: a.address })}</strong>
      {a.contact && <> — {a.contact.displayName}</>}{' '}
      {path ? (
        <a href={path} onClick={onLinkClick(path)}>
          {t('alerts.open')}
          <span className="visually-hidden"> ({a.address})</span>
        </a>
      ) : (
        <span className="muted">{t('alerts.noContact')}</span>
      )}
    </li>
  );
}

function ContactRow({ contact: c, alerted }: { contact: Contact; alerted: boolean }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const trust = useContactTrust(api, c.id);
  const path = `/contacts/${c.id}`;
  return (
    <li className="contact-row">
      <div className="contact-main">
        <a className="contact-link" href={path} onClick={onLinkClick(path)}>
          {c.displayName}
        </a>
        {alerted && (
          <span className="key-alert-mark">
            <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
              <path d="M8 1.5L15 14H1zM8 6v4M8 11.5v1.2" fill="none" stroke="currentColor" strokeWidth="1.6" />
            </svg>
            {t('contacts.alertMark')}
          </span>
        )}
        {trust && <TrustBadge trust={trust} compact />}
        <span className="contact-addresses muted small">
          {c.identities.map((i) => i.address).join(', ')}
          {c.automatic && <> · {t('contacts.automatic')}</>}
        </span>
      </div>
      <PiBadge
        pi={c.pi}
        subject={c.displayName}
        loadBreakdown={async () => ({ breakdown: (await api.contact(c.id)).pi })}
      />
    </li>
  );
}
