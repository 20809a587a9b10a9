import { useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client.ts';
import type { SearchReply } from '../api/types.ts';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { navigate, onLinkClick, useQueryParam } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { PiBadge } from '../design-system/PiBadge.tsx';
import { Highlight } from './Highlight.tsx';
import './search.css';
import { freeTerms, queryChips, removeChip } from './query-chips.ts';

export const SEARCH_INPUT_ID = 'search-input';

/** The search URL of a query: shareable, and the back button returns to the previous one. */
export const searchPath = (q: string) => (q.trim() === '' ? '/search' : `/search?${new URLSearchParams({ q })}`);

type State =
  | { status: 'idle' }
  | { status: 'loading' }
  | { status: 'done'; reply: SearchReply }
  | { status: 'error'; error: unknown };

/** Searching the mailbox: the box (shortcut "/"), its language explained, filters as removable chips, results. */
export function SearchScreen() {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const q = useQueryParam('q') ?? '';
  const [draft, setDraft] = useState(q);
  const [state, setState] = useState<State>({ status: 'idle' });
  const [helpOpen, setHelpOpen] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const helpId = useId();
  const helpButtonRef = useRef<HTMLButtonElement>(null);

  // The help closes with Escape, focus back on its button.
  useEffect(() => {
    if (!helpOpen) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      setHelpOpen(false);
      helpButtonRef.current?.focus();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [helpOpen]);

  // The URL is the query: typing edits a draft; searching (or back/forward) changes the URL, the results follow.
  useEffect(() => setDraft(q), [q]);
  useEffect(() => inputRef.current?.focus(), []);
  useEffect(() => {
    if (q.trim() === '') {
      setState({ status: 'idle' });
      return;
    }
    let cancelled = false;
    setState({ status: 'loading' });
    api.search(q).then(
      (reply) => !cancelled && setState({ status: 'done', reply }),
      (error) => !cancelled && setState({ status: 'error', error }),
    );
    return () => {
      cancelled = true;
    };
  }, [api, q]);

  const chips = queryChips(q);
  const terms = freeTerms(q);
  const dateFormat = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'short' });
  const invalidToken = state.status === 'error' && state.error instanceof ApiError ? invalidTermOf(state.error) : null;

  return (
    <section className="search" aria-labelledby="search-h">
      <div className="screen-head">
        <h1 id="search-h">{t('search.title')}</h1>
      </div>
      <search>
        <form
          className="search-form"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(searchPath(draft.trim()));
          }}
        >
          <label htmlFor={SEARCH_INPUT_ID}>{t('search.label')}</label>
          <div className="search-row">
            <input
              id={SEARCH_INPUT_ID}
              ref={inputRef}
              type="search"
              value={draft}
              maxLength={2000}
              autoComplete="off"
              spellCheck={false}
              aria-describedby={`${helpId}-hint`}
              onChange={(e) => setDraft(e.target.value)}
            />
            <button type="submit" className="button-primary">
              {t('search.submit')}
            </button>
            <button
              ref={helpButtonRef}
              type="button"
              className="button-secondary"
              aria-expanded={helpOpen}
              aria-controls={helpId}
              onClick={() => setHelpOpen((o) => !o)}
            >
              {t('search.help')}
            </button>
          </div>
          <p id={`${helpId}-hint`} className="muted small">
            {t('search.hint')}
          </p>
          <div id={helpId} className="search-help card" hidden={!helpOpen}>
            <h2>{t('search.helpTitle')}</h2>
            <dl>
              {SYNTAX.map((s) => (
                <div key={s}>
                  <dt>
                    <code>{t(`search.syntax.${s}.example`)}</code>
                  </dt>
                  <dd>{t(`search.syntax.${s}.meaning`)}</dd>
                </div>
              ))}
            </dl>
          </div>
        </form>
      </search>

      {chips.length > 0 && (
        <div className="search-chips">
          <h2 className="visually-hidden">{t('search.filters')}</h2>
          <ul aria-label={t('search.filters')}>
            {chips.map((c) => (
              <li key={`${c.start}-${c.raw}`} className="chip">
                <span>
                  <span className="chip-key">{t(`search.key.${c.key}`)}</span> {c.op === ':' ? '' : `${c.op} `}
                  {c.value}
                </span>
                <button
                  type="button"
                  className="chip-remove"
                  aria-label={t('search.removeChip', { filter: c.raw })}
                  onClick={() => navigate(searchPath(removeChip(q, c)))}
                >
                  <span aria-hidden="true">×</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}

      {state.status === 'loading' && <p role="status">{t('search.searching')}</p>}
      {state.status === 'error' &&
        (invalidToken !== null ? (
          <div className="problem" role="alert">
            <p>{t('search.invalid', { token: invalidToken })}</p>
          </div>
        ) : (
          <ProblemMessage error={state.error} onRetry={() => navigate(searchPath(q), { replace: true })} />
        ))}
      {state.status === 'idle' && <p className="muted">{t('search.idle')}</p>}
      {state.status === 'done' && state.reply.items.length === 0 && (
        <p className="empty" role="status">
          {t('search.empty', { query: q })}
        </p>
      )}
      {state.status === 'done' && state.reply.items.length > 0 && (
        <>
          <p className="muted small" role="status">
            {t('search.count', { count: state.reply.total })}
          </p>
          <ol className="search-results">
            {state.reply.items.map(({ message: m, conversationId }) => {
              const subject = m.subject || t('discussion.noSubject');
              const date = new Date(m.sentAt ?? m.receivedAt);
              return (
                <li key={m.id} className={`search-result${m.read ? '' : ' unread'}`}>
                  <div className="search-result-main">
                    <a
                      className="search-result-subject"
                      href={`/discussions/${conversationId}`}
                      onClick={onLinkClick(`/discussions/${conversationId}`)}
                    >
                      <Highlight text={subject} terms={terms} />
                    </a>
                    <span className="muted small">
                      {m.direction === 'outbound'
                        ? t('search.toWhom', { names: m.to.map((p) => p.name || p.address).join(', ') })
                        : m.from.name || m.from.address}
                      <span aria-hidden="true"> · </span>
                      <time dateTime={date.toISOString()}>{dateFormat.format(date)}</time>
                    </span>
                    {m.snippet && (
                      <p className="search-snippet">
                        <Highlight text={m.snippet} terms={terms} />
                      </p>
                    )}
                  </div>
                  <PiBadge
                    pi={m.pi}
                    subject={subject}
                    loadBreakdown={async () => ({ breakdown: (await api.message(m.id)).pi })}
                  />
                </li>
              );
            })}
          </ol>
        </>
      )}
    </section>
  );
}

/** The term a `search_query_invalid` problem names (its detail quotes it as JSON), or null. */
function invalidTermOf(error: ApiError): string | null {
  if (error.problem === 'network' || error.problem.code !== 'search_query_invalid') return null;
  const m = /^Invalid search term ("(?:[^"\\]|\\.)*")/.exec(error.problem.detail ?? '');
  if (!m) return null;
  try {
    return JSON.parse(m[1]!) as string;
  } catch {
    return null;
  }
}

const SYNTAX = ['words', 'phrase', 'from', 'to', 'subject', 'after', 'before', 'pi', 'tag', 'protocol'] as const;
