import { type FormEvent, type RefObject, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiClient } from '../api/client.ts';
import type { Discussion, MessageDetail, MessageSummary, Participant, PeerInstance, SpamFacts } from '../api/types.ts';
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
import { AttachmentList } from '../attachments/AttachmentList.tsx';
import { EncryptedBody, encryptedForBrowser } from '../client-keys/EncryptedBody.tsx';
import { useLiveEvent } from '../live/live-events.tsx';

/** Messages asked for per page: the newest first; older ones on request ("Show older messages"). */
const PAGE = 50;
/** How far below or above the viewport a message starts loading its body (px). */
const AHEAD = '800px';

/**
 * One discussion: its messages oldest first, each with its PI badge, the sender's trust level and the text body.
 * A long discussion costs what is looked at: one request lists the newest PAGE messages (subjects, senders, dates,
 * PI summaries); each message's body and verified facts (GET /messages/:id: MIME parsed, PI breakdown) are asked for
 * when it comes near the viewport, the newest one at once; older pages come with a button.
 */
export function DiscussionScreen({ id }: { id: string }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [discussion, setDiscussion] = useState<Discussion | null>(null);
  const [summaries, setSummaries] = useState<MessageSummary[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const details = useMemo(() => new DetailCache(api), [api]);

  const load = useCallback(() => {
    let cancelled = false;
    setError(null);
    Promise.all([api.discussion(id), api.discussionMessages(id, PAGE)]).then(
      ([d, page]) => {
        if (cancelled) return;
        setDiscussion(d);
        setSummaries(page.items);
        setNext(page.next);
      },
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [api, id]);
  useEffect(load, [load]);

  // Live updates: a new message of this discussion joins the list (the newest, so its body loads at once and it is
  // marked read, since it is on screen); a change redraws the discussion's head; a resync reloads it.
  useLiveEvent((e) => {
    if (e.event === 'resync') {
      load();
      return;
    }
    if (e.data.discussionId !== id) return;
    if (e.event === 'message.new') {
      api.discussionMessages(id, PAGE).then(
        (page) =>
          setSummaries((prev) => {
            if (prev === null) return page.items;
            const known = new Set(prev.map((m) => m.id));
            const fresh = page.items.filter((m) => !known.has(m.id));
            return fresh.length === 0 ? prev : [...fresh, ...prev];
          }),
        () => {},
      );
    }
    if (e.event === 'message.new' || e.event === 'discussion.updated') api.discussion(id).then(setDiscussion, () => {});
  });

  const loadOlder = () => {
    if (!next || loadingOlder) return;
    setLoadingOlder(true);
    api
      .discussionMessages(id, PAGE, next)
      .then((page) => {
        setSummaries((prev) => [...(prev ?? []), ...page.items]);
        setNext(page.next);
      }, setError)
      .finally(() => setLoadingOlder(false));
  };

  // The header's trust level is the newest received message's: its facts are asked for at once.
  const latestInbound = summaries?.find((m) => m.direction === 'inbound');
  const latestDetail = useDetail(details, latestInbound?.id ?? null, true);
  const peer = usePeer(api, latestInbound?.from.address);
  const ordered = useMemo(() => (summaries ? [...summaries].reverse() : []), [summaries]);
  const newestId = summaries?.[0]?.id;
  // Shown once the header is whole (its trust level included): no focusable control appears above the focus later.
  const ready = discussion !== null && summaries !== null && (!latestInbound || latestDetail !== null);
  useEffect(() => {
    if (ready) headingRef.current?.focus();
  }, [ready]);

  return (
    <article className="discussion" aria-labelledby="discussion-h">
      <a className="back-link" href="/discussions" onClick={onLinkClick('/discussions')}>
        ← {t('discussion.back')}
      </a>
      {error !== null && <ProblemMessage error={error} onRetry={load} />}
      {!ready && error === null && <p role="status">{t('app.loading')}</p>}
      {ready && (
        <>
          <header className="discussion-head">
            <div>
              <h1 id="discussion-h" ref={headingRef} tabIndex={-1}>
                {discussion.title}
              </h1>
              <p className="muted">
                {discussion.participants.map((p) => (p.name ? `${p.name} <${p.address}>` : p.address)).join(', ')}
              </p>
              {latestDetail && latestInbound?.protocol !== 'xmpp' && <TrustBadge trust={trustOf(latestDetail.facts)} />}
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
          {next && (
            <button type="button" className="button-secondary older" disabled={loadingOlder} onClick={loadOlder}>
              {t('discussion.older', { count: Math.max(1, discussion.messageCount - summaries.length) })}
            </button>
          )}
          <ol className="messages">
            {ordered.map((m) => (
              <li key={m.id}>
                <MessageView summary={m} details={details} eager={m.id === newestId} />
              </li>
            ))}
          </ol>
          <ChatReply summaries={summaries} />
        </>
      )}
    </article>
  );
}

/**
 * The chat route of a reply: shown when the discussion holds chat (XMPP) from a contact, it sends to that contact's
 * XMPP address through the account's linked XMPP account; the message joins the discussion by the live update. The
 * email route stays each message's Reply button.
 */
function ChatReply({ summaries }: { summaries: MessageSummary[] }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');
  const lastChat = summaries.find((m) => m.protocol === 'xmpp' && m.direction === 'inbound' && m.from.contactId);
  if (!lastChat) return null;
  const contactId = lastChat.from.contactId!;
  const name = lastChat.from.name ?? lastChat.from.address;
  const send = (e: FormEvent) => {
    e.preventDefault();
    if (text.trim() === '') return;
    setBusy(true);
    setError(null);
    setNotice('');
    api
      .sendChat({ contactId, text })
      .then(() => {
        setText('');
        setNotice(t('chat.sent'));
      }, setError)
      .finally(() => setBusy(false));
  };
  return (
    <form className="chat-reply card" onSubmit={send} aria-labelledby="chat-reply-h">
      <h2 id="chat-reply-h">{t('chat.replyTitle')}</h2>
      {error !== null && <ProblemMessage error={error} />}
      <label htmlFor="chat-reply-text">{t('chat.replyLabel', { name })}</label>
      <textarea id="chat-reply-text" rows={3} value={text} onChange={(e) => setText(e.target.value)} />
      <div className="message-actions">
        <button type="submit" className="button-primary" disabled={busy || text.trim() === ''}>
          {t('chat.send')}
        </button>
      </div>
      <p className="muted small">{t('chat.orEmail')}</p>
      <div role="status">{notice && <p className="notice">{notice}</p>}</div>
    </form>
  );
}

/** Each message's detail asked for once per screen, shared by its view, its badge and the header. */
class DetailCache {
  private readonly cache = new Map<string, Promise<MessageDetail>>();
  constructor(private readonly api: ApiClient) {}
  get(id: string): Promise<MessageDetail> {
    let p = this.cache.get(id);
    if (!p) {
      p = this.api.message(id);
      p.catch(() => this.cache.delete(id));
      this.cache.set(id, p);
    }
    return p;
  }
}

/** The message's detail once `wanted` (null until then, and while it loads); an error is returned to be shown. */
function useDetail(details: DetailCache, id: string | null, wanted: boolean): MessageDetail | null {
  const [detail, setDetail] = useState<MessageDetail | null>(null);
  useEffect(() => {
    if (id === null || !wanted) return;
    let cancelled = false;
    details.get(id).then(
      (d) => !cancelled && setDetail(d),
      () => {},
    );
    return () => {
      cancelled = true;
    };
  }, [details, id, wanted]);
  return detail;
}

/** true once the element has come within AHEAD of the viewport (then stays true). */
function useNear(ref: RefObject<HTMLElement | null>, initially: boolean): boolean {
  const [near, setNear] = useState(initially);
  useEffect(() => {
    const el = ref.current;
    if (near || !el || typeof IntersectionObserver === 'undefined') {
      if (!near && typeof IntersectionObserver === 'undefined') setNear(true);
      return;
    }
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setNear(true);
          io.disconnect();
        }
      },
      { rootMargin: `${AHEAD} 0px` },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [ref, near]);
  return near;
}

function who(p: Participant): string {
  return p.name ? `${p.name} <${p.address}>` : p.address;
}

function MessageView({
  summary: m,
  details,
  eager,
}: {
  summary: MessageSummary;
  details: DetailCache;
  eager: boolean;
}) {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const peer = usePeer(api, m.direction === 'inbound' ? m.from.address : null);
  const ref = useRef<HTMLElement>(null);
  const near = useNear(ref, eager);
  const [error, setError] = useState<unknown>(null);
  const [detail, setDetail] = useState<MessageDetail | null>(null);
  const fetchDetail = useCallback(() => {
    let cancelled = false;
    setError(null);
    details.get(m.id).then(
      (d) => !cancelled && setDetail(d),
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [details, m.id]);
  useEffect(() => (near ? fetchDetail() : undefined), [near, fetchDetail]);
  // Shown is read: an unread message is marked read once its body is on the screen (best effort).
  useEffect(() => {
    if (detail && !m.read) api.markRead(m.id).catch(() => {});
  }, [api, detail, m.id, m.read]);

  const date = new Date(m.sentAt ?? m.receivedAt);
  const fmt = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'full', timeStyle: 'short' });
  const chat = m.protocol === 'xmpp';
  const subject = m.subject || t(chat ? 'chat.subject' : 'discussion.noSubject');
  return (
    <section ref={ref} className={`message card message-${m.direction}`} aria-label={`${subject} — ${who(m.from)}`}>
      <header className="message-head">
        <div className="message-who">
          <h3>
            {subject}
            {chat && <span className="protocol-mark"> {t('chat.mark')}</span>}
          </h3>
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
          {m.direction === 'inbound' && detail && !chat && <TrustBadge trust={trustOf(detail.facts)} />}
          {m.direction === 'inbound' && detail && <HowItCame message={detail} peer={peer} />}
        </div>
        <PiBadge
          pi={detail ? detail.pi : m.pi}
          subject={subject}
          loadBreakdown={async () => ({ breakdown: (await details.get(m.id)).pi })}
        />
      </header>
      {error !== null && <ProblemMessage error={error} onRetry={fetchDetail} />}
      {!detail && error === null && (
        <p className="message-snippet muted">
          {m.snippet || t('discussion.noBody')}
          <span className="visually-hidden"> {t('app.loading')}</span>
        </p>
      )}
      {detail &&
        (encryptedForBrowser(detail) ? (
          <EncryptedBody message={detail} renderHtml={(html) => <HtmlView message={detail} html={html} />} />
        ) : detail.body.hasHtml ? (
          <HtmlBody message={detail} />
        ) : (
          <div className="message-body">
            {detail.body.text.trim() === '' ? t('discussion.noBody') : detail.body.text}
          </div>
        ))}
      {detail?.body.textTruncated && <p className="muted small">{t('discussion.truncated')}</p>}
      {detail && detail.attachments.length > 0 && (
        <AttachmentList items={detail.attachments} load={(index) => api.attachment(m.id, index)} />
      )}
      {m.direction === 'inbound' && detail?.facts.spam && <SpamVerdict spam={detail.facts.spam} />}
      {m.direction === 'inbound' && !chat && (
        <div className="message-actions">
          <button type="button" className="button-secondary" onClick={() => navigate(`/reply/${m.id}`)}>
            {t('discussion.reply')}
          </button>
          <JunkButton id={m.id} importance={m.importance} />
        </div>
      )}
    </section>
  );
}

/**
 * Junk / not junk: the user's word on a received message (PATCH importance). It moves the message (junk importance,
 * or at least normal) and teaches the instance's spam filter; what happened is said in a polite live region.
 */
function JunkButton({ id, importance }: { id: string; importance: MessageSummary['importance'] }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [current, setCurrent] = useState(importance);
  const [said, setSaid] = useState<'junk' | 'not-junk' | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const word = current === 'junk' ? 'not-junk' : 'junk';
  const mark = async () => {
    setBusy(true);
    setError(null);
    try {
      const updated = await api.setImportance(id, word);
      setCurrent(updated.importance);
      setSaid(word);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className="button-secondary" disabled={busy} onClick={mark}>
        {t(word === 'junk' ? 'discussion.junk' : 'discussion.notJunk')}
      </button>
      <span className="small muted" role="status">
        {said === 'junk' ? t('discussion.markedJunk') : said === 'not-junk' ? t('discussion.markedNotJunk') : ''}
      </span>
      {error !== null && <ProblemMessage error={error} />}
    </>
  );
}

/** What the instance's spam filter said of a received message, and the rules that counted (highest weight first). */
function SpamVerdict({ spam }: { spam: SpamFacts }) {
  const { t, i18n } = useTranslation();
  if (spam.status === 'unchecked' || spam.verdict === null)
    return <p className="spam-verdict small muted">{t('discussion.spamUnchecked')}</p>;
  const number = new Intl.NumberFormat(i18n.language, { maximumFractionDigits: 1 });
  const rules = spam.symbols.filter((s) => s.score !== 0).slice(0, 12);
  return (
    <details className={`spam-verdict small spam-${spam.verdict}`}>
      <summary>{t(`discussion.spamVerdict_${spam.verdict}`, { score: number.format(spam.score ?? 0) })}</summary>
      {rules.length > 0 && (
        <>
          <p className="muted">{t('discussion.spamRules')}</p>
          <ul className="spam-rules">
            {rules.map((r) => (
              <li key={r.name}>
                <code>{r.name}</code> ({r.score > 0 ? '+' : ''}
                {number.format(r.score)}){r.description ? ` — ${r.description}` : ''}
              </li>
            ))}
          </ul>
        </>
      )}
    </details>
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
