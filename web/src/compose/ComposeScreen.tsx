import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client.ts';
import type { MessageDetail, MessageLimits, RouteOptionDto, RoutePreview, SendAsRelay } from '../api/types.ts';
import { formatBytes } from '../app/format-bytes.ts';
import { base64Of, safeFilename, sendableType } from '../attachments/attachment.format.ts';
import { problemText } from '../app/ProblemMessage.tsx';
import { navigate, onLinkClick } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { UnlockForm } from '../client-keys/ClientKeyPanel.tsx';
import { loadPgp, useUnlocked } from '../client-keys/client-keys.session.ts';
import { PiBadge } from '../design-system/PiBadge.tsx';
import { type Draft, drafts, isEmpty } from './drafts.ts';
import {
  federationInPlay,
  looksLikeAddress,
  modeOptions,
  needsConsent,
  parseRecipients,
  type RouteMode,
  routeFor,
  usable,
} from './route-choice.ts';

type Preview = { state: 'loading' } | { state: 'ready'; preview: RoutePreview } | { state: 'error'; error: unknown };

/** The preview's answer was recipient_unknown: the recipient's instance says there is no such user. */
function isUnknownRecipient(p: Preview | undefined): boolean {
  return p?.state === 'error' && p.error instanceof ApiError && p.error.code === 'recipient_unknown';
}

/** A file attached in the form: read and base64-encoded here when it is added. */
interface Attached {
  id: number;
  name: string;
  type: string;
  size: number;
  base64: string;
}

function replySubject(subject: string): string {
  return /^re\s*:/i.test(subject) ? subject : `Re: ${subject}`;
}

function quote(m: MessageDetail): string {
  return `\n\n${m.body.text
    .trim()
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n')}\n`;
}

/**
 * Compose a message, or reply to one: recipients, subject, plain text; for each recipient a live preview of the
 * routes (GET /api/v1/routes) with the Privacy Index each gives, the most private chosen by default, another only with
 * explicit consent; the draft kept in the browser as it is typed; sent with POST /api/v1/messages.
 */
export function ComposeScreen({ replyTo }: { replyTo: string | null }) {
  const { t, i18n } = useTranslation();
  const { api, session } = useSession();
  const username = session?.username ?? '';
  const stored = useMemo(() => drafts.read(username, replyTo), [username, replyTo]);
  const [to, setTo] = useState(stored?.to ?? '');
  const [subject, setSubject] = useState(stored?.subject ?? '');
  const [text, setText] = useState(stored?.text ?? '');
  const [mode, setMode] = useState<RouteMode>(stored?.mode ?? 'auto');
  const [emailFallback, setEmailFallback] = useState(stored?.emailFallback ?? false);
  const [consent, setConsent] = useState(false);
  const [restored] = useState(stored !== null && !isEmpty(stored));
  const [original, setOriginal] = useState<MessageDetail | null>(null);
  const [previews, setPreviews] = useState<Record<string, Preview>>({});
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [invalid, setInvalid] = useState<string | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const errorRef = useRef<HTMLDivElement>(null);
  const ids = {
    from: useId(),
    fromHelp: useId(),
    to: useId(),
    subject: useId(),
    text: useId(),
    toHelp: useId(),
    routes: useId(),
    files: useId(),
    filesHelp: useId(),
  };

  // Attachments: read and encoded in the browser as they are added, refused here past the instance's limits.
  const [limits, setLimits] = useState<MessageLimits | null>(null);
  const [attached, setAttached] = useState<Attached[]>([]);
  const [attachProblem, setAttachProblem] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const nextId = useRef(0);
  const fileInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    let cancelled = false;
    api.messageLimits().then(
      (l) => !cancelled && setLimits(l),
      () => {},
    );
    return () => {
      cancelled = true;
    };
  }, [api]);
  const totalBytes = attached.reduce((n, a) => n + a.size, 0);
  const lang = i18n.language;
  const addFiles = async (files: File[]) => {
    setAttachProblem(null);
    let total = totalBytes;
    let count = attached.length;
    const added: Attached[] = [];
    const problems: string[] = [];
    for (const file of files) {
      const name = safeFilename(file.name, t('discussion.attachmentUnnamed'));
      if (limits && count + 1 > limits.maxAttachments) {
        problems.push(t('compose.attachTooMany', { max: limits.maxAttachments }));
        break;
      }
      if (limits && total + file.size > limits.maxAttachmentBytes) {
        problems.push(
          t('compose.attachTooLarge', {
            name,
            size: formatBytes(file.size, lang),
            total: formatBytes(total + file.size, lang),
            max: formatBytes(limits.maxAttachmentBytes, lang),
          }),
        );
        continue;
      }
      try {
        const base64 = base64Of(new Uint8Array(await file.arrayBuffer()));
        added.push({ id: nextId.current++, name, type: sendableType(file.type), size: file.size, base64 });
        total += file.size;
        count++;
      } catch {
        problems.push(t('compose.attachUnreadable', { name }));
      }
    }
    if (added.length > 0) setAttached((list) => [...list, ...added]);
    if (problems.length > 0) setAttachProblem(problems.join(' '));
  };

  useEffect(() => headingRef.current?.focus(), []);

  // Imported addresses this account can send as (Mail accounts): offered in "From" when there are any. Such a message
  // leaves through the address's provider, by plain email: no route choice, no sealing here.
  const [relays, setRelays] = useState<SendAsRelay[] | null>(null);
  const [from, setFrom] = useState(stored?.from ?? '');
  useEffect(() => {
    let cancelled = false;
    api.sendAsRelays().then(
      (r) => !cancelled && setRelays(r.items),
      // Unknown: none offered (a draft's imported From is then said to be dropped, below).
      () => !cancelled && setRelays([]),
    );
    return () => {
      cancelled = true;
    };
  }, [api]);
  const relayed = relays?.find((r) => r.address === from) ?? null;
  // A draft's From that can no longer be sent as (stopped in Mail accounts meanwhile): back to the own address, said.
  const [fromDropped, setFromDropped] = useState<string | null>(null);
  useEffect(() => {
    if (relays !== null && from !== '' && !relays.some((r) => r.address === from)) {
      setFromDropped(from);
      setFrom('');
    }
  }, [relays, from]);
  // Until the imported addresses are known, a draft's imported From is not yet known to hold: no sending.
  const fromUnsettled = from !== '' && relays === null;

  // Client key mode: the message is encrypted and signed here, with the key this browser keeps (unlocked).
  const [own, setOwn] = useState<{ mode: string; fingerprint: string; armored: string } | null>(null);
  const openKeys = useUnlocked(username);
  useEffect(() => {
    let cancelled = false;
    api.keys().then(
      (k) => {
        const active = k.items.find((i) => i.status === 'active');
        if (!cancelled && active) setOwn({ mode: k.mode, fingerprint: active.fingerprint, armored: active.armored });
      },
      () => {},
    );
    return () => {
      cancelled = true;
    };
  }, [api]);

  // A reply: the original message gives the recipient, the subject and the quote (unless a draft is restored).
  useEffect(() => {
    if (replyTo === null) return;
    let cancelled = false;
    api.message(replyTo).then(
      (m) => {
        if (cancelled) return;
        setOriginal(m);
        if (stored === null) {
          setTo(m.from.address);
          setSubject(replySubject(m.subject));
          setText(quote(m));
        }
      },
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [api, replyTo, stored]);

  // Kept as it is typed: a reload or an expired session does not lose it.
  useEffect(() => {
    const draft: Draft = {
      from,
      to,
      subject,
      text,
      inReplyTo: replyTo,
      mode,
      emailFallback,
      savedAt: new Date().toISOString(),
    };
    if (isEmpty(draft) && replyTo === null) drafts.remove(username, null);
    else drafts.write(username, draft);
  }, [username, from, to, subject, text, replyTo, mode, emailFallback]);

  const addresses = useMemo(() => parseRecipients(to), [to]);
  const valid = addresses.filter(looksLikeAddress);

  // The live route preview, per recipient, shortly after typing stops.
  const asked = useRef(new Set<string>());
  const validKey = valid.join(',');
  useEffect(() => {
    const timer = setTimeout(() => {
      for (const a of validKey === '' ? [] : validKey.split(',')) {
        if (asked.current.has(a)) continue;
        asked.current.add(a);
        setPreviews((p) => ({ ...p, [a]: { state: 'loading' } }));
        api.routes(a).then(
          (preview) => setPreviews((p) => ({ ...p, [a]: { state: 'ready', preview } })),
          (e) => {
            asked.current.delete(a);
            setPreviews((p) => ({ ...p, [a]: { state: 'error', error: e } }));
          },
        );
      }
    }, 350);
    return () => clearTimeout(timer);
  }, [api, validKey]);

  const ready = valid
    .map((a) => previews[a])
    .filter((p): p is { state: 'ready'; preview: RoutePreview } => p?.state === 'ready')
    .map((p) => p.preview);
  const allReady = valid.length > 0 && ready.length === valid.length;
  const options = modeOptions(ready);
  const current = options.find((o) => o.mode === mode);
  const consentNeeded = relayed === null && needsConsent(ready, mode, emailFallback);
  const clientMode = own?.mode === 'client';
  const recipientKeys = ready.map((p) => p.routes.find((r) => r.key !== null)?.key?.armored ?? null);
  const signingKey =
    openKeys?.find((k) => k.getFingerprint().toLowerCase() === own?.fingerprint) ?? openKeys?.[0] ?? null;
  const sealHere =
    relayed === null && clientMode && signingKey !== null && allReady && recipientKeys.every((k) => k !== null);
  // A choice that no longer applies (recipients changed) falls back to the most private.
  useEffect(() => {
    if (allReady && mode !== 'auto' && !(current?.possible && current.differs)) setMode('auto');
  }, [allReady, mode, current?.possible, current?.differs]);
  // Consent is given to one choice for these recipients: any change asks again.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the dependencies are the triggers, not inputs.
  useEffect(() => setConsent(false), [mode, emailFallback, to]);

  const send = async () => {
    setError(null);
    setInvalid(null);
    const bad = addresses.find((a) => !looksLikeAddress(a));
    if (addresses.length === 0 || bad !== undefined) {
      setInvalid(bad === undefined ? t('compose.noRecipient') : t('compose.badAddress', { address: bad }));
      return;
    }
    // A member instance said this user does not exist (the recipient check): refused here, nothing is sent.
    const unknown = relayed === null ? valid.find((a) => isUnknownRecipient(previews[a])) : undefined;
    if (unknown !== undefined) {
      setInvalid(t('compose.recipientUnknown', { address: unknown, domain: unknown.split('@').pop() }));
      return;
    }
    if (consentNeeded && !consent) {
      setInvalid(t('compose.consentMissing'));
      return;
    }
    if (sealHere && attached.length > 0) {
      setInvalid(t('compose.attachNotSealed'));
      return;
    }
    setSending(true);
    try {
      const content =
        sealHere && own && signingKey
          ? {
              encrypted: await (await loadPgp()).sealMail({
                subject,
                text,
                encryptTo: [...(recipientKeys as string[]), own.armored],
                signingKey,
              }),
            }
          : {
              subject,
              text,
              ...(attached.length > 0
                ? {
                    attachments: attached.map((a) => ({ filename: a.name, contentType: a.type, content: a.base64 })),
                  }
                : {}),
            };
      const sent = await api.send({
        ...(relayed ? { from: relayed.address } : {}),
        to: addresses.map((address) => ({ address })),
        ...content,
        route: relayed ? 'email' : mode,
        ...(replyTo ? { inReplyTo: replyTo } : {}),
        ...(!relayed && federationInPlay(ready, mode) ? { emailFallback } : {}),
      });
      drafts.remove(username, replyTo);
      navigate(`/discussions/${sent.conversationId}`);
    } catch (e) {
      setError(e);
      setSending(false);
      setTimeout(() => errorRef.current?.focus(), 0);
    }
  };

  const discard = () => {
    drafts.remove(username, replyTo);
    navigate(original ? `/discussions/${original.conversationId}` : '/discussions');
  };

  const back = original ? `/discussions/${original.conversationId}` : '/discussions';
  const problem = error instanceof ApiError && error.problem !== 'network' ? error.problem : null;

  return (
    <article className="compose" aria-labelledby="compose-h">
      <a className="back-link" href={back} onClick={onLinkClick(back)}>
        ← {t(original ? 'compose.backToDiscussion' : 'discussion.back')}
      </a>
      <h1 id="compose-h" ref={headingRef} tabIndex={-1}>
        {replyTo ? t('compose.replyTitle') : t('compose.title')}
      </h1>
      {restored && (
        <p className="muted small" role="status">
          {t('compose.restored')}
        </p>
      )}
      <form
        className={`compose-form card${dragging ? ' compose-dragging' : ''}`}
        noValidate
        onDragOver={(e) => {
          if (!e.dataTransfer.types.includes('Files')) return;
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
          setDragging(true);
        }}
        onDragLeave={(e) => {
          if (e.currentTarget === e.target) setDragging(false);
        }}
        onDrop={(e) => {
          if (e.dataTransfer.files.length === 0) return;
          e.preventDefault();
          setDragging(false);
          void addFiles(Array.from(e.dataTransfer.files));
        }}
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        {fromDropped !== null && (
          <p className="notice" role="status">
            {t('compose.fromDropped', { address: fromDropped })}
          </p>
        )}
        {relays !== null && relays.length > 0 && (
          <div className="field">
            <label htmlFor={ids.from}>{t('compose.from')}</label>
            <select
              id={ids.from}
              name="from"
              value={from}
              aria-describedby={relayed ? ids.fromHelp : undefined}
              onChange={(e) => setFrom(e.target.value)}
            >
              <option value="">{t('compose.fromOwn')}</option>
              {relays.map((r) => (
                <option key={r.identityId} value={r.address}>
                  {r.address}
                </option>
              ))}
            </select>
            {relayed && (
              <p id={ids.fromHelp} className="muted small">
                {t('compose.fromRelayed', { address: relayed.address, host: relayed.host })}
              </p>
            )}
          </div>
        )}
        <div className="field">
          <label htmlFor={ids.to}>{t('compose.to')}</label>
          <input
            id={ids.to}
            name="to"
            type="text"
            inputMode="email"
            autoComplete="email"
            aria-describedby={relayed ? ids.toHelp : `${ids.toHelp} ${ids.routes}`}
            value={to}
            onChange={(e) => setTo(e.target.value)}
          />
          <p id={ids.toHelp} className="muted small">
            {t('compose.toHelp')}
          </p>
        </div>
        {relayed === null && (
          <section id={ids.routes} className="route-previews" aria-label={t('compose.routesTitle')} aria-live="polite">
            {valid.length === 0 ? (
              <p className="muted small">{t('compose.routesEmpty')}</p>
            ) : (
              <ul>
                {valid.map((a) => (
                  <li key={a}>
                    <RecipientRoutes address={a} preview={previews[a]} mode={mode} />
                  </li>
                ))}
              </ul>
            )}
          </section>
        )}
        {relayed === null &&
          allReady &&
          (options.some((o) => o.mode !== 'auto' && o.possible && o.differs) || federationInPlay(ready, mode)) && (
            <fieldset className="route-choice">
              <legend>{t('compose.routeChoice')}</legend>
              {options
                .filter((o) => o.mode === 'auto' || (o.possible && o.differs))
                .map((o) => (
                  <label key={o.mode} className="radio">
                    <input
                      type="radio"
                      name="route"
                      value={o.mode}
                      checked={mode === o.mode}
                      onChange={() => setMode(o.mode)}
                    />
                    <span>
                      {t(`compose.mode.${o.mode}`)}
                      {o.lowers.length > 0 && (
                        <span className="muted small"> — {t('compose.lowers', { count: o.lowers.length })}</span>
                      )}
                    </span>
                  </label>
                ))}
              {federationInPlay(ready, mode) && (
                <label className="checkbox">
                  <input type="checkbox" checked={emailFallback} onChange={(e) => setEmailFallback(e.target.checked)} />
                  <span>{t('compose.emailFallback')}</span>
                </label>
              )}
            </fieldset>
          )}
        {consentNeeded && (
          <fieldset className="consent">
            <legend>{t('compose.consentTitle')}</legend>
            <ul>
              {current?.lowers.map((l) => (
                <li key={l.address}>
                  {t('compose.lowered', {
                    address: l.address,
                    from: `${t(`compose.route.${l.from.route}`)} (${l.from.pi.score})`,
                    to: `${t(`compose.route.${l.to.route}`)} (${l.to.pi.score})`,
                  })}
                </li>
              ))}
              {emailFallback && federationInPlay(ready, mode) && <li>{t('compose.fallbackLowers')}</li>}
            </ul>
            <label className="checkbox">
              <input type="checkbox" checked={consent} onChange={(e) => setConsent(e.target.checked)} />
              <span>{t('compose.consent')}</span>
            </label>
          </fieldset>
        )}
        <div className="field">
          <label htmlFor={ids.subject}>{t('compose.subject')}</label>
          <input
            id={ids.subject}
            name="subject"
            type="text"
            value={subject}
            onChange={(e) => setSubject(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.text}>{t('compose.body')}</label>
          <textarea id={ids.text} name="text" rows={12} value={text} onChange={(e) => setText(e.target.value)} />
        </div>
        <div className="field attach-field">
          <label htmlFor={ids.files}>{t('compose.attachFiles')}</label>
          <input
            id={ids.files}
            ref={fileInput}
            name="files"
            type="file"
            multiple
            aria-describedby={ids.filesHelp}
            onChange={(e) => {
              const files = Array.from(e.currentTarget.files ?? []);
              e.currentTarget.value = '';
              void addFiles(files);
            }}
          />
          <p id={ids.filesHelp} className="muted small">
            {dragging
              ? t('compose.dropHere')
              : t('compose.attachHelp', { max: limits ? formatBytes(limits.maxAttachmentBytes, lang) : '?' })}
          </p>
          {attached.length > 0 && (
            <>
              <ul className="attachment-list" aria-label={t('compose.attachmentsList')}>
                {attached.map((a) => (
                  <li key={a.id} className="attachment">
                    <span className="attachment-name">{a.name}</span>{' '}
                    <span className="attachment-meta muted small">{formatBytes(a.size, lang)}</span>{' '}
                    <button
                      type="button"
                      className="button-secondary"
                      aria-label={t('compose.removeAttachment', { name: a.name })}
                      onClick={() => {
                        setAttached((list) => list.filter((x) => x.id !== a.id));
                        setAttachProblem(null);
                        fileInput.current?.focus();
                      }}
                    >
                      {t('compose.remove')}
                    </button>
                  </li>
                ))}
              </ul>
              <p className="small" role="status">
                {t('compose.attachTotal', {
                  total: formatBytes(totalBytes, lang),
                  max: limits ? formatBytes(limits.maxAttachmentBytes, lang) : '?',
                })}
              </p>
              <p className="muted small">{t('compose.attachNotInDraft')}</p>
            </>
          )}
          {attachProblem !== null && (
            <p className="problem" role="alert">
              {attachProblem}
            </p>
          )}
        </div>
        {(invalid !== null || error !== null) && (
          <div className="problem" role="alert" tabIndex={-1} ref={errorRef}>
            <p>{invalid ?? problemText(t, error)}</p>
            {problem?.detail && (
              <p className="muted small" lang="en">
                {problem.detail}
              </p>
            )}
          </div>
        )}
        {clientMode && relayed === null && (
          <p className="muted small" role="status">
            {sealHere
              ? t('clientKeys.sealHere')
              : openKeys === null
                ? t('clientKeys.sealLocked')
                : allReady
                  ? t('clientKeys.sealNoKey')
                  : ''}
          </p>
        )}
        <div className="compose-actions">
          <button type="submit" className="button-primary" disabled={sending || fromUnsettled}>
            {sending ? t('compose.sending') : t('compose.send')}
          </button>
          <button type="button" className="button-secondary" onClick={discard}>
            {t('compose.discard')}
          </button>
          <span className="muted small">{t('compose.draftKept')}</span>
        </div>
      </form>
      {clientMode && openKeys === null && <UnlockForm />}
    </article>
  );
}

function RouteLine({ route, chosen }: { route: RouteOptionDto; chosen: boolean }) {
  const { t } = useTranslation();
  const ok = usable(route);
  return (
    <li className={`route-line${chosen ? ' route-chosen' : ''}${ok ? '' : ' route-unavailable'}`}>
      <span className="route-name">
        {t(`compose.route.${route.route}`)}
        {chosen && <span className="route-tag">{t('compose.chosen')}</span>}
        {!ok && <span className="route-tag route-tag-off">{t('compose.unavailable')}</span>}
      </span>
      <PiBadge pi={route.pi} size="small" subject={t(`compose.route.${route.route}`)} />
      <span className="route-reason muted small" lang="en">
        {route.reason}
      </span>
    </li>
  );
}

function RecipientRoutes({
  address,
  preview,
  mode,
}: {
  address: string;
  preview: Preview | undefined;
  mode: RouteMode;
}) {
  const { t } = useTranslation();
  if (!preview || preview.state === 'loading')
    return (
      <div className="recipient-routes">
        <strong>{address}</strong> <span className="muted small">{t('compose.routesLoading')}</span>
      </div>
    );
  if (preview.state === 'error')
    return (
      <div className="recipient-routes">
        <strong>{address}</strong>{' '}
        <span className="problem-inline">
          {isUnknownRecipient(preview)
            ? t('compose.recipientUnknown', { address, domain: address.split('@').pop() })
            : problemText(t, preview.error)}
        </span>
      </div>
    );
  const taken = routeFor(preview.preview, mode);
  return (
    <div className="recipient-routes">
      <div className="recipient-head">
        <strong>{address}</strong>
        {taken ? (
          <span>
            {t('compose.willGo', { route: t(`compose.route.${taken.route}`) })}{' '}
            <PiBadge pi={taken.pi} subject={`${address} — ${t(`compose.route.${taken.route}`)}`} />
          </span>
        ) : (
          <span className="problem-inline">{t('compose.noRoute')}</span>
        )}
      </div>
      <details>
        <summary>{t('compose.allRoutes', { count: preview.preview.routes.length })}</summary>
        <ul className="route-lines">
          {preview.preview.routes.map((r) => (
            <RouteLine key={r.route} route={r} chosen={taken?.route === r.route} />
          ))}
        </ul>
      </details>
    </div>
  );
}
