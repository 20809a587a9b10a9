import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { waitFor } from './net.ts';

/** What an open Server-Sent Events stream received so far, and how it ended. */
export interface SseStream {
  status: number;
  /** The problem+json of a refused stream (status not 200). */
  problem: any;
  headers: Headers;
  /** Each with when it arrived (performance.now() of this process). */
  events: { id: string | undefined; event: string; data: any; at: number }[];
  comments: string[];
  ended: boolean;
  /** Resolves the first event (received or to come) that matches. */
  next(match: (e: { event: string; data: any }) => boolean, timeoutMs?: number): Promise<SseStream['events'][number]>;
  close(): void;
}

/** Opens GET <url> as an SSE stream with the bearer token (as the web app does: fetch, not EventSource). */
export async function openSse(url: string, token: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, ...headers },
    signal: abort.signal,
  });
  const stream: SseStream = {
    status: res.status,
    problem: null,
    headers: res.headers,
    events: [],
    comments: [],
    ended: false,
    async next(match, timeoutMs = 20_000) {
      let found: SseStream['events'][number] | undefined;
      await waitFor(async () => {
        found = stream.events.find(match);
        return found !== undefined;
      }, timeoutMs);
      return found!;
    },
    close: () => abort.abort(),
  };
  if (res.status !== 200) {
    stream.problem = await res.json().catch(() => null);
    stream.ended = true;
    return stream;
  }
  const parser = createParser({
    onEvent: (m: EventSourceMessage) =>
      stream.events.push({ id: m.id, event: m.event ?? 'message', data: JSON.parse(m.data), at: performance.now() }),
    onComment: (c) => stream.comments.push(c),
  });
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
        parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // aborted
    }
    stream.ended = true;
  })();
  return stream;
}
