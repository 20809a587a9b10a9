import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Discussion, MessageDetail, Participant, PeerInstance } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { navigate, onLinkClick } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { PiBadge } from '../design-system/PiBadge.tsx';
import { TrustBadge } from '../design-system/TrustBadge.tsx';
import { MailFrame, RemoteContentNotice } from '../mail-html/MailFrame.tsx';
import { remoteSenders } from '../mail-html/remote-senders.ts';
import { sanitizeMail } from '../mail-html/sanitize.ts';
import { PeerCard } from '../trust/PeerCard.tsx';
import { trustOf } from '../trust/trust-level.ts';
import { usePeer } from '../trust/use-peer.ts';
import { discussionBreakdown } from './discussion-pi.ts';
import { EncryptedBody, encryptedForBrowser } from '../client-keys/EncryptedBody.tsx';
import { useLiveEvent } from '../live/live-events.tsx';

/** One discussion: its messages oldest first, each with its PI badge, the sender's trust level and the text body. */
export function DiscussionScreen({ id }: { id: string }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [discussion, setDiscussion] = useState<Discussion | null>(null);
  const [messages, setMessages] = useState<MessageDetail[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);

  const load = useCallback(() => {
    let cancelled = false;
    setError(null);
    (async () => {
      const [d, page] = await Promise.all([api.discussion(id), api.discussionMessages(id)]);
      const details = await Promise.all(page.items.map((m) => api.message(m.id)));
      if (cancelled) return;
      setDiscussion(d);
      setMessages(details.reverse());
      // Opening the discussion reads it: mark its unread messages read (best effort).
      for (const m of page.items) if (!m.read) api.markRead(m.id).catch(() => {});
    })().catch((e) => !cancelled && setError(e));
    return () => {
      cancelled = true;
    };
  }, [api, id]);
  useEffect(load, [load]);
  // Focus moves to the heading when the discussion opens, not when a live update redraws it.
  const shownId = discussion?.id;
  useEffect(() => {
    if (shownId) headingRef.current?.focus();
  }, [shownId]);

  // Live updates: a new message of this discussion is appended (and read, since it is on screen); a change redraws
  // the discussion's head; a resync reloads it.
  useLiveEvent((e) => {
    if (e.event === 'resync') {
      load();
      return;
    }
    if (e.data.discussionId !== id) return;
    if (e.event === 'message.new' && typeof e.data.messageId === 'string') {
      const messageId = e.data.messageId;
      api.message(messageId).then(
        (m) => {
          setMessages((prev) => (prev === null || prev.some((x) => x.id === m.id) ? prev : [...prev, m]));
          if (!m.read) api.markRead(m.id).catch(() => {});
        },
        () => {},
      );
    }
    if (e.event === 'message.new' || e.event === 'discussion.updated') api.discussion(id).then(setDiscussion, () => {});
  });

  const latestInbound = messages ? [...messages].reverse().find((m) => m.direction === 'inbound') : undefined;
  const peer = usePeer(api, latestInbound?.from.address);

  return (
    <article className="discussion" aria-labelledby="discussion-h">
      <a className="back-link" href="/discussions" onClick={onLinkClick('/discussions')}>
        ← {t('discussion.back')}
      </a>
      {error !== null && <ProblemMessage error={error} onRetry={load} />}
      {!discussion && error === null && <p role="status">{t('app.loading')}</p>}
      {discussion && messages && (
        <>
          <header className="discussion-head">
            <div>
              <h1 id="discussion-h" ref={headingRef} tabIndex={-1}>
                {discussion.title}
              </h1>
              <p className="muted">
                {discussion.participants.map((p) => (p.name ? `${p.name} <${p.address}>` : p.address)).join(', ')}
              </p>
              {latestInbound && <TrustBadge trust={trustOf(latestInbound.facts)} />}
            </div>
            <PiBadge
              pi={discussion.pi}
              subject={discussion.title}
              loadBreakdown={async () => {
                const r = await discussionBreakdown(api, discussion.id);
                if (!r) throw new Error('no message scored');
                return { breakdown: r.breakdown, note: t('pi.weakestNote', { subject: r.message.subject }) };
              }}
            />
          </header>
          {peer?.entry && <PeerCard peer={peer} />}
          <h2 className="visually-hidden">{t('discussion.messages')}</h2>
          <ol className="messages">
            {messages.map((m) => (
              <li key={m.id}>
                <MessageView message={m} />
              </li>
            ))}
          </ol>
        </>
      )}
    </article>
  );
}

function who(p: Participant): string {
  return p.name ? `${p.name} <${p.address}>` : p.address;
}

function MessageView({ message: m }: { message: MessageDetail }) {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const peer = usePeer(api, m.direction === 'inbound' ? m.from.address : null);
  const date = new Date(m.sentAt ?? m.receivedAt);
  const fmt = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'full', timeStyle: 'short' });
  const subject = m.subject || t('discussion.noSubject');
  return (
    <section className={`message card message-${m.direction}`} aria-label={`${subject} — ${who(m.from)}`}>
      <header className="message-head">
        <div className="message-who">
          <h3>{subject}</h3>
          <dl className="message-meta">
            <div>
              <dt>{t('discussion.from')}</dt>
              <dd>{m.direction === 'outbound' ? t('discussion.you') : who(m.from)}</dd>
            </div>
            <div>
              <dt>{t('discussion.to')}</dt>
              <dd>{m.to.map(who).join(', ')}</dd>
            </div>
            <div>
              <dt>{t('discussion.date')}</dt>
              <dd>
                <time dateTime={date.toISOString()}>{fmt.format(date)}</time>
              </dd>
            </div>
          </dl>
          {m.direction === 'inbound' && <TrustBadge trust={trustOf(m.facts)} />}
          {m.direction === 'inbound' && <HowItCame message={m} peer={peer} />}
        </div>
        <PiBadge pi={m.pi} subject={subject} />
      </header>
      {encryptedForBrowser(m) ? (
        <EncryptedBody message={m} renderHtml={(html) => <HtmlView message={m} html={html} />} />
      ) : m.body.hasHtml ? (
        <HtmlBody message={m} />
      ) : (
        <div className="message-body">{m.body.text.trim() === '' ? t('discussion.noBody') : m.body.text}</div>
      )}
      {m.body.textTruncated && <p className="muted small">{t('discussion.truncated')}</p>}
      {m.attachments.length > 0 && (
        <p className="muted small">{t('discussion.attachments', { count: m.attachments.length })}</p>
      )}
      {m.direction === 'inbound' && (
        <div className="message-actions">
          <button type="button" className="button-secondary" onClick={() => navigate(`/reply/${m.id}`)}>
            {t('discussion.reply')}
          </button>
        </div>
      )}
    </section>
  );
}

/**
 * How an inbound message came: over the federation (sealed envelope, forward secret, the receipt the instance signed),
 * or by email from a member instance's domain; and, plainly, when that instance's label is no longer valid now.
 */
function HowItCame({ message: m, peer }: { message: MessageDetail; peer: PeerInstance | null }) {
  const { t } = useTranslation();
  const fed = m.facts.federation;
  const viaFederation = fed !== null && (m.facts.transport?.via ?? 'federation') === 'federation';
  const entry = peer?.entry ?? null;
  const lost = entry !== null && !entry.labelValid;
  if (!viaFederation && entry === null) return null;
  const standing = entry?.standing === 'labelled' ? 'valid' : entry?.standing;
  return (
    <div className="how-it-came">
      {viaFederation ? (
        <>
          <p className="small">{t('federation.came', { instance: fed.peerDomain })}</p>
          <ul className="federation-facts small">
            <li className={fed.sealed ? 'fact-yes' : 'fact-no'}>
              {t(fed.sealed ? 'federation.sealed' : 'federation.notSealed')}
            </li>
            <li className={fed.forwardSecret ? 'fact-yes' : 'fact-no'}>
              {t(fed.forwardSecret ? 'federation.forwardSecret' : 'federation.notForwardSecret')}
            </li>
            <li className={fed.receipt ? 'fact-yes' : 'fact-no'}>
              {t(fed.receipt ? 'federation.receipt' : 'federation.noReceipt', { instance: fed.peerDomain })}
            </li>
          </ul>
        </>
      ) : (
        <p className="small">{t('federation.byEmail', { instance: peer?.domain ?? '' })}</p>
      )}
      {lost && (
        <p className="peer-alert small" role="note">
          {viaFederation && fed.labelValid ? `${t('peer.validThen', { instance: fed.peerDomain })} ` : ''}
          {t(`peer.lost.${standing}`, { instance: peer!.domain })}
          {entry.revocation?.reason ? ` ${t('peer.reason', { reason: entry.revocation.reason })}` : ''}
        </p>
      )}
    </div>
  );
}

/** The HTML part, sanitised in a sandboxed frame; the text when the instance gives no HTML (e.g. encrypted mail). */
function HtmlBody({ message: m }: { message: MessageDetail }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [html, setHtml] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    let cancelled = false;
    api.messageHtml(m.id).then(
      (r) => !cancelled && setHtml(r.html),
      () => !cancelled && setHtml(null),
    );
    return () => {
      cancelled = true;
    };
  }, [api, m.id]);
  if (html === undefined) return <p className="muted small">{t('app.loading')}</p>;
  if (html === null || html === '')
    return <div className="message-body">{m.body.text.trim() === '' ? t('discussion.noBody') : m.body.text}</div>;
  return <HtmlView message={m} html={html} />;
}

/** An HTML mail, sanitised in its sandboxed frame, remote content blocked unless allowed for the sender. */
function HtmlView({ message: m, html }: { message: MessageDetail; html: string }) {
  const { t } = useTranslation();
  const { session, api } = useSession();
  const username = session?.username ?? '';
  const sender = m.from.address;
  const [allowed, setAllowed] = useState(() => remoteSenders.allowed(username, sender));
  const counts = useMemo(() => sanitizeMail(html, { allowRemote: false }), [html]);
  // Remote images come through the instance (never from the browser); it serves only URLs of this message's HTML.
  const fetchImage = useCallback((url: string) => api.remoteImage(m.id, url), [api, m.id]);
  return (
    <div className="message-html">
      <RemoteContentNotice
        remote={counts.remote}
        trackers={counts.trackers}
        allowed={allowed}
        sender={sender}
        onAllow={() => {
          remoteSenders.allow(username, sender);
          setAllowed(true);
        }}
      />
      <MailFrame
        html={html}
        allowRemote={allowed}
        fetchImage={fetchImage}
        title={t('mail.frameTitle', { subject: m.subject || t('discussion.noSubject') })}
      />
    </div>
  );
}
