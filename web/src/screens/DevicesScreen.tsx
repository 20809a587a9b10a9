import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Device } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { useSession } from '../app/session.tsx';
import { PiBadge } from '../design-system/PiBadge.tsx';

/** The devices signed in to the account, each with its PI; removing one ends its sessions at once. */
export function DevicesScreen() {
  const { t } = useTranslation();
  const { api } = useSession();
  const [items, setItems] = useState<Device[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const headingRef = useRef<HTMLHeadingElement>(null);

  const load = useCallback(() => {
    let cancelled = false;
    setError(null);
    api.devices().then(
      (r) => !cancelled && setItems(r.items),
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [api]);
  useEffect(load, [load]);
  useEffect(() => headingRef.current?.focus(), []);
  useEffect(() => {
    // Arriving from a suggestion (/devices#device-<id>): focus that device.
    if (items && location.hash.startsWith('#device-')) document.getElementById(location.hash.slice(1))?.focus();
  }, [items]);

  const active = items?.filter((d) => d.revokedAt === null) ?? [];
  const revoked = items?.filter((d) => d.revokedAt !== null) ?? [];

  return (
    <section className="devices" aria-labelledby="devices-h">
      <div className="screen-head">
        <h1 id="devices-h" ref={headingRef} tabIndex={-1}>
          {t('devices.title')}
        </h1>
      </div>
      <p>{t('devices.intro')}</p>
      <div role="status">{notice && <p className="notice">{notice}</p>}</div>
      {error !== null && <ProblemMessage error={error} onRetry={load} />}
      {items === null && error === null && <p role="status">{t('app.loading')}</p>}
      {items !== null && (
        <ul className="device-list" aria-labelledby="devices-h">
          {active.map((d) => (
            <DeviceRow
              key={d.id}
              device={d}
              onRevoked={(name) => {
                setNotice(t('devices.revokedDone', { name }));
                load();
              }}
            />
          ))}
        </ul>
      )}
      {revoked.length > 0 && (
        <section aria-labelledby="revoked-h">
          <h2 id="revoked-h">{t('devices.showRevoked')}</h2>
          <ul className="device-list">
            {revoked.map((d) => (
              <DeviceRow key={d.id} device={d} onRevoked={() => {}} />
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}

function deviceName(t: (k: string) => string, d: Device): string {
  return d.name || t(`devices.type.${d.type}`);
}

function DeviceRow({ device: d, onRevoked }: { device: Device; onRevoked: (name: string) => void }) {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const dateFormat = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'short' });
  const name = deviceName(t, d);
  const system = [
    [d.os, d.osVersion].filter(Boolean).join(' '),
    [d.browser, d.browserVersion].filter(Boolean).join(' '),
  ]
    .filter((s) => s !== '')
    .join(' · ');
  const headingId = `device-${d.id}-name`;

  return (
    <li className="device-row" id={`device-${d.id}`} tabIndex={-1} aria-labelledby={headingId}>
      <div className="device-main">
        <h2 className="device-name" id={headingId}>
          {name}
          {d.current && <span className="current-mark"> ({t('devices.current')})</span>}
        </h2>
        <p className="muted small">
          {t(`devices.type.${d.type}`)} · {system || t('devices.unknownSystem')}
        </p>
        <p className="muted small">
          {d.revokedAt
            ? t('devices.revoked', { date: dateFormat.format(new Date(d.revokedAt)) })
            : `${t('devices.lastSeen', { date: dateFormat.format(new Date(d.lastSeenAt)) })} · ${t(
                'devices.firstSeen',
                {
                  date: dateFormat.format(new Date(d.firstSeenAt)),
                },
              )}`}
        </p>
        {error !== null && <ProblemMessage error={error} />}
        {d.revokedAt === null && !confirming && (
          <button type="button" className="button-secondary" onClick={() => setConfirming(true)}>
            {t('devices.revoke', { name })}
          </button>
        )}
        {d.revokedAt === null && confirming && (
          <fieldset className="compare-box">
            <legend>{t('devices.revokeConfirm', { name })}</legend>
            <div className="actions">
              <button
                type="button"
                className="button-primary danger"
                disabled={busy}
                onClick={() => {
                  setBusy(true);
                  setError(null);
                  api
                    .revokeDevice(d.id)
                    .then(() => onRevoked(name))
                    .catch(setError)
                    .finally(() => setBusy(false));
                }}
              >
                {t('devices.revokeYes')}
              </button>
              <button type="button" className="button-secondary" onClick={() => setConfirming(false)}>
                {t('devices.cancel')}
              </button>
            </div>
          </fieldset>
        )}
      </div>
      <PiBadge pi={d.pi} subject={name} />
    </li>
  );
}
