import { createParser } from 'eventsource-parser';
import { SESSION_ENDED_CODES } from '../api/problem-messages.ts';

/** One event of the instance's live stream (instance/src/live/live-event.hub.ts), or `resync`: reload what you show. */
export interface LiveMessage {
  event: string;
  data: Record<string, unknown>;
  id: string | undefined;
}

export type LiveStatus = 'connecting' | 'open' | 'waiting';

export interface LiveStreamOptions {
  /** The stream's URL and the session's bearer token (null: signed out, the stream stops). */
  request: () => { url: string; token: string | null };
  onEvent: (m: LiveMessage) => void;
  /** The session ended (revoked, expired): the app signs out; the stream stops. */
  onSessionEnded: (code: string) => void;
  onStatus?: (s: LiveStatus) => void;
  /** Waits between reconnections: from `initialMs`, doubling up to `maxMs`, each with jitter. */
  backoff?: { initialMs: number; maxMs: number };
  /** Stand-ins for tests. */
  fetch?: typeof fetch;
  random?: () => number;
  setTimer?: (f: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

export const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 60_000 };
/** A stream silent for this many heartbeats (no event, no comment) is taken for dead and reopened. */
const SILENT_HEARTBEATS = 3;

/** The wait before reconnection `attempt` (1, 2...): exponential, bounded, with jitter (half to full). */
export function backoffDelay(attempt: number, backoff = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const full = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(full * (0.5 + random() / 2));
}

/**
 * Reads the live stream with fetch (the bearer token goes in a header, never in the URL: EventSource cannot send
 * one), parses its Server-Sent Events (eventsource-parser), and keeps it open: a dropped stream, a stream silent for
 * three heartbeats, a refused or failed connection are retried with backoff, resuming from the last event id
 * (the instance replays or says `resync`). A `session.ended` event or a 401 stops it and tells the app.
 */
export function connectLiveEvents(options: LiveStreamOptions): { close(): void } {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const random = options.random ?? Math.random;
  const setTimer = options.setTimer ?? ((f, ms) => setTimeout(f, ms));
  const clearTimer = options.clearTimer ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>));
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  let closed = false;
  let attempt = 0;
  let lastEventId: string | null = null;
  let abort: AbortController | null = null;
  let retryTimer: unknown = null;
  let watchdog: unknown = null;
  let heartbeatMs = 30_000;

  const status = (s: LiveStatus) => options.onStatus?.(s);

  const stop = () => {
    closed = true;
    abort?.abort();
    if (retryTimer !== null) clearTimer(retryTimer);
    if (watchdog !== null) clearTimer(watchdog);
  };

  const retry = (minimumMs = 0) => {
    if (closed) return;
    attempt += 1;
    status('waiting');
    retryTimer = setTimer(
      () => {
        retryTimer = null;
        void open();
      },
      Math.max(minimumMs, backoffDelay(attempt, backoff, random)),
    );
  };

  const armWatchdog = (controller: AbortController) => {
    if (watchdog !== null) clearTimer(watchdog);
    watchdog = setTimer(() => controller.abort(), heartbeatMs * SILENT_HEARTBEATS);
  };

  const open = async () => {
    if (closed) return;
    const { url, token } = options.request();
    if (token === null) return;
    status('connecting');
    const controller = new AbortController();
    abort = controller;
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
    if (lastEventId !== null) headers['last-event-id'] = lastEventId;
    let res: Response;
    try {
      res = await doFetch(url, { headers, signal: controller.signal, cache: 'no-store' });
    } catch {
      retry();
      return;
    }
    if (res.status !== 200 || res.body === null) {
      const problem = (await res.json().catch(() => null)) as { code?: string } | null;
      const code = problem?.code ?? `http_${res.status}`;
      if (res.status === 401 || SESSION_ENDED_CODES.has(code)) {
        stop();
        options.onSessionEnded(code);
        return;
      }
      // Too many streams open (other tabs): wait longer before asking again.
      retry(res.status === 429 ? backoff.maxMs / 2 : 0);
      return;
    }
    armWatchdog(controller);
    const parser = createParser({
      onEvent: (m) => {
        if (m.id !== undefined) lastEventId = m.id;
        let data: Record<string, unknown> = {};
        try {
          data = JSON.parse(m.data) as Record<string, unknown>;
        } catch {
          return;
        }
        const event = m.event ?? 'message';
        if (event === 'hello') {
          attempt = 0;
          status('open');
          if (typeof data.heartbeatSeconds === 'number') heartbeatMs = data.heartbeatSeconds * 1000;
          if (lastEventId === null && typeof data.lastEventId === 'string') lastEventId = data.lastEventId;
          armWatchdog(controller);
          return;
        }
        if (event === 'session.ended') {
          stop();
          options.onSessionEnded(typeof data.code === 'string' ? data.code : 'token_revoked');
          return;
        }
        options.onEvent({ event, data, id: m.id });
      },
      onComment: () => armWatchdog(controller),
    });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        armWatchdog(controller);
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch {
      // aborted (watchdog, close) or the connection dropped
    }
    if (watchdog !== null) clearTimer(watchdog);
    watchdog = null;
    retry();
  };

  void open();
  return { close: stop };
}
