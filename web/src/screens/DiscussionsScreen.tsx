import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Discussion } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { onLinkClick } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { PiBadge } from '../design-system/PiBadge.tsx';
import { TrustBadge } from '../design-system/TrustBadge.tsx';
import { useLiveEvent } from '../live/live-events.tsx';
import { trustOf } from '../trust/trust-level.ts';
import { discussionBreakdown } from './discussion-pi.ts';

type Sort = 'date' | 'importance';
const ROW_HEIGHT = 84;

/** Discussions by person, most recent or most important first, rendered virtualised (only the visible rows exist). */
export function DiscussionsScreen() {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const [sort, setSort] = useState<Sort>('date');
  const [items, setItems] = useState<Discussion[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const scrollRef = useRef<HTMLDivElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  // Arriving on the screen (after sign-in, or back from a discussion), focus starts at its heading.
  useEffect(() => headingRef.current?.focus(), []);

  const load = useCallback(() => {
    setItems(null);
    setError(null);
    let cancelled = false;
    api.discussions(sort).then(
      (page) => {
        if (cancelled) return;
        setItems(page.items);
        setNext(page.next);
      },
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [api, sort]);
  useEffect(load, [load]);

  // Live updates: a new message brings its discussion to the top (sorted by date), a changed one is redrawn in place;
  // a resync (events missed) reloads the list.
  useLiveEvent((m) => {
    if (m.event === 'resync') {
      load();
      return;
    }
    if (m.event !== 'message.new' && m.event !== 'discussion.updated') return;
    const id = m.data.discussionId;
    if (typeof id !== 'string') return;
    api.discussion(id, { trust: true }).then(
      (d) =>
        setItems((prev) => {
          if (prev === null) return prev;
          const at = prev.findIndex((x) => x.id === d.id);
          if (m.event === 'message.new' && sort === 'date') return [d, ...prev.filter((x) => x.id !== d.id)];
          if (at < 0) return [d, ...prev];
          return prev.map((x) => (x.id === d.id ? d : x));
        }),
      () => {},
    );
  });

  const loadingRef = useRef(false);
  const loadMore = async () => {
    if (!next || loadingRef.current) return;
    loadingRef.current = true;
    setLoadingMore(true);
    try {
      const page = await api.discussions(sort, next);
      setItems((prev) => [...(prev ?? []), ...page.items]);
      setNext(page.next);
    } catch (e) {
      setError(e);
    } finally {
      loadingRef.current = false;
      setLoadingMore(false);
    }
  };

  const virtualizer = useVirtualizer({
    count: items?.length ?? 0,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
  });

  // Scrolled near the end: the next page loads by itself (the button below does the same by keyboard).
  const virtualItems = virtualizer.getVirtualItems();
  const lastIndex = virtualItems[virtualItems.length - 1]?.index ?? -1;
  const count = items?.length ?? 0;
  // biome-ignore lint/correctness/useExhaustiveDependencies: loadMore reads the current page cursor; it must not re-trigger by itself.
  useEffect(() => {
    if (next && !loadingMore && count > 0 && lastIndex >= count - 10) void loadMore();
  }, [lastIndex, count, next, loadingMore]);

  const dateFormat = useMemo(
    () => new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'short' }),
    [i18n.language],
  );

  return (
    <section className="discussions" aria-labelledby="discussions-h">
      <div className="screen-head">
        <h1 id="discussions-h" ref={headingRef} tabIndex={-1}>
          {t('discussions.title')}
        </h1>
        <fieldset className="sort">
          <legend className="muted">{t('discussions.sort')}</legend>
          {(['date', 'importance'] as const).map((s) => (
            <button key={s} type="button" className="toggle" aria-pressed={sort === s} onClick={() => setSort(s)}>
              {s === 'date' ? t('discussions.sortDate') : t('discussions.sortImportance')}
            </button>
          ))}
        </fieldset>
      </div>
      {error !== null && <ProblemMessage error={error} onRetry={load} />}
      {items === null && error === null && <p role="status">{t('app.loading')}</p>}
      {items !== null && items.length === 0 && <p className="empty">{t('discussions.empty')}</p>}
      {items !== null && items.length > 0 && (
        <>
          <p className="muted small" role="status">
            {next
              ? t('discussions.countMore', { count: items.length })
              : t('discussions.count', { count: items.length })}
          </p>
          <div ref={scrollRef} className="discussion-scroll">
            <ul
              className="discussion-list"
              aria-labelledby="discussions-h"
              style={{ height: `${virtualizer.getTotalSize()}px` }}
            >
              {virtualItems.map((row) => (
                <DiscussionRow
                  key={items[row.index]!.id}
                  discussion={items[row.index]!}
                  index={row.index}
                  setSize={items.length}
                  start={row.start}
                  size={row.size}
                  dateFormat={dateFormat}
                />
              ))}
            </ul>
          </div>
          {next && (
            <button type="button" className="button-secondary" disabled={loadingMore} onClick={() => void loadMore()}>
              {t('discussions.loadMore')}
            </button>
          )}
        </>
      )}
    </section>
  );
}

/** A row renders again only when its own props change, not on every scroll frame of the list. */
const DiscussionRow = memo(function DiscussionRow({
  discussion: d,
  index,
  setSize,
  start,
  size,
  dateFormat,
}: {
  discussion: Discussion;
  index: number;
  setSize: number;
  start: number;
  size: number;
  dateFormat: Intl.DateTimeFormat;
}) {
  const { t } = useTranslation();
  const { api } = useSession();
  // The page brought the facts of the correspondent's newest message: no request per row.
  const trust = useMemo(() => (d.senderFacts ? trustOf(d.senderFacts) : null), [d.senderFacts]);
  const names = d.participants.map((p) => p.name || p.address).join(', ');
  return (
    <li
      className={`discussion-row${d.unreadCount > 0 ? ' unread' : ''}`}
      aria-setsize={setSize}
      aria-posinset={index + 1}
      style={{ height: `${size}px`, transform: `translateY(${start}px)` }}
    >
      <a className="discussion-link" href={`/discussions/${d.id}`} onClick={onLinkClick(`/discussions/${d.id}`)}>
        <span className="discussion-title">
          {d.unreadCount > 0 && <span className="unread-dot" aria-hidden="true" />}
          {d.title}
          {d.unreadCount > 0 && (
            <span className="unread-count">{t('discussions.unread', { count: d.unreadCount })}</span>
          )}
          {trust && <TrustBadge trust={trust} compact />}
        </span>
        <span className="discussion-meta">
          <span>{d.kind === 'list' ? t('discussions.list') : t('discussions.with', { names })}</span>
          <span aria-hidden="true"> · </span>
          <span>{t('discussions.messages', { count: d.messageCount })}</span>
          {d.importance !== 'normal' && (
            <>
              <span aria-hidden="true"> · </span>
              <span className={`importance importance-${d.importance}`}>{t(`importance.${d.importance}`)}</span>
            </>
          )}
        </span>
      </a>
      <time className="discussion-date" dateTime={d.lastMessageAt}>
        {dateFormat.format(new Date(d.lastMessageAt))}
      </time>
      <PiBadge
        pi={d.pi}
        subject={d.title}
        loadBreakdown={async () => {
          const r = await discussionBreakdown(api, d.id);
          if (!r) throw new Error('no message scored');
          return { breakdown: r.breakdown, note: t('pi.weakestNote', { subject: r.message.subject }) };
        }}
      />
    </li>
  );
});
