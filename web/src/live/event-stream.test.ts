import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { backoffDelay, connectLiveEvents, type LiveMessage } from './event-stream.ts';

/** A stand-in for the instance: each fetch is recorded and answered by a stream the test writes to. */
function fakeServer() {
  const calls: { url: string; headers: Record<string, string>; signal: AbortSignal }[] = [];
  const streams: { push(s: string): void; end(): void }[] = [];
  const answers: (() => Response)[] = [];
  const encoder = new TextEncoder();
  const openStream = (signal: AbortSignal) => {
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        ctrl = c;
      },
    });
    signal.addEventListener('abort', () => {
      try {
        ctrl.error(new DOMException('aborted', 'AbortError'));
      } catch {}
    });
    streams.push({ push: (s) => ctrl.enqueue(encoder.encode(s)), end: () => ctrl.close() });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, headers: init.headers as Record<string, string>, signal: init.signal! });
    const next = answers.shift();
    if (next) return next();
    return openStream(init.signal!);
  }) as unknown as typeof globalThis.fetch;
  return { calls, streams, answers, fetch };
}

/** Timers run by the test, never by the clock. */
function manualTimers() {
  const pending = new Map<number, { f: () => void; ms: number }>();
  let n = 0;
  return {
    pending,
    setTimer: (f: () => void, ms: number) => {
      pending.set(++n, { f, ms });
      return n;
    },
    clearTimer: (t: unknown) => {
      pending.delete(t as number);
    },
    /** Runs the pending timer whose delay satisfies `match` (the retry or the watchdog). */
    run(match: (ms: number) => boolean): number {
      for (const [id, t] of pending) {
        if (match(t.ms)) {
          pending.delete(id);
          t.f();
          return t.ms;
        }
      }
      throw new Error(`no pending timer matches (pending: ${[...pending.values()].map((t) => t.ms).join(', ')})`);
    },
  };
}

const settle = async (until: () => boolean) => {
  for (let i = 0; i < 200 && !until(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(until(), 'condition not reached');
};

const BACKOFF = { initialMs: 1000, maxMs: 8000 };
const hello = (id: string, heartbeat = 15) =>
  `event: hello\ndata: {"heartbeatSeconds":${heartbeat},"lastEventId":"${id}"}\n\n`;

function start(server: ReturnType<typeof fakeServer>, timers: ReturnType<typeof manualTimers>) {
  const events: LiveMessage[] = [];
  const ended: string[] = [];
  const statuses: string[] = [];
  const stream = connectLiveEvents({
    request: () => ({ url: '/api/v1/events', token: 'tok-123' }),
    onEvent: (m) => events.push(m),
    onSessionEnded: (code) => ended.push(code),
    onStatus: (s) => statuses.push(s),
    backoff: BACKOFF,
    fetch: server.fetch,
    random: () => 1, // no jitter: the full delay
    setTimer: timers.setTimer,
    clearTimer: timers.clearTimer,
  });
  return { events, ended, statuses, stream };
}

describe('the live stream client', () => {
  test('backoff doubles from the initial wait up to the maximum, with jitter between half and full', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, BACKOFF, () => 1)),
      [1000, 2000, 4000, 8000, 8000, 8000],
    );
    assert.equal(
      backoffDelay(3, BACKOFF, () => 0),
      2000,
    );
  });

  test('sends the token in a header (never the URL), delivers events, and resumes from the last id after a drop', async () => {
    const server = fakeServer();
    const timers = manualTimers();
    const c = start(server, timers);
    await settle(() => server.streams.length === 1);
    assert.equal(server.calls[0]!.url, '/api/v1/events');
    assert.equal(server.calls[0]!.headers.authorization, 'Bearer tok-123');
    assert.equal(server.calls[0]!.headers['last-event-id'], undefined);
    server.streams[0]!.push(hello('e.0'));
    server.streams[0]!.push(
      'id: e.1\nevent: message.new\ndata: {"discussionId":"d1","messageId":"m1","direction":"inbound"}\n\n',
    );
    await settle(() => c.events.length === 1);
    assert.deepEqual(c.events[0], {
      event: 'message.new',
      id: 'e.1',
      data: { discussionId: 'd1', messageId: 'm1', direction: 'inbound' },
    });
    assert.ok(c.statuses.includes('open'));

    // The connection drops: a retry after the first backoff, with Last-Event-ID.
    server.streams[0]!.end();
    await settle(() => c.statuses.at(-1) === 'waiting');
    assert.equal(
      timers.run((ms) => ms === 1000),
      1000,
    );
    await settle(() => server.calls.length === 2);
    assert.equal(server.calls[1]!.headers['last-event-id'], 'e.1');
    assert.equal(server.calls[1]!.headers.authorization, 'Bearer tok-123');
    // A resync is handed to the app like any event.
    server.streams[1]!.push(hello('e.1'));
    server.streams[1]!.push('id: e.9\nevent: resync\ndata: {}\n\n');
    await settle(() => c.events.some((e) => e.event === 'resync'));
    c.stream.close();
  });

  test('backs off longer after each failed attempt, and starts over once a stream is open again', async () => {
    const server = fakeServer();
    const timers = manualTimers();
    const fail = () => {
      throw new TypeError('network');
    };
    server.answers.push(fail, fail, () => new Response('{"code":"internal_error"}', { status: 500 }));
    const c = start(server, timers);
    await settle(() => c.statuses.at(-1) === 'waiting');
    assert.equal(
      timers.run(() => true),
      1000,
    );
    await settle(() => server.calls.length === 2 && c.statuses.at(-1) === 'waiting');
    assert.equal(
      timers.run(() => true),
      2000,
    );
    await settle(() => server.calls.length === 3 && c.statuses.at(-1) === 'waiting');
    assert.equal(
      timers.run(() => true),
      4000,
    );
    await settle(() => server.streams.length === 1);
    server.streams[0]!.push(hello('e.0'));
    await settle(() => c.statuses.at(-1) === 'open');
    server.streams[0]!.end();
    await settle(() => c.statuses.at(-1) === 'waiting');
    assert.equal(
      timers.run((ms) => ms <= BACKOFF.maxMs),
      1000,
      'the backoff started over after a good stream',
    );
    c.stream.close();
  });

  test('a stream silent for three heartbeats is taken for dead and reopened', async () => {
    const server = fakeServer();
    const timers = manualTimers();
    const c = start(server, timers);
    await settle(() => server.streams.length === 1);
    server.streams[0]!.push(hello('e.0', 2));
    await settle(() => c.statuses.at(-1) === 'open');
    // A heartbeat (comment line) re-arms the watchdog; then silence.
    server.streams[0]!.push(': heartbeat\n\n');
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(
      timers.run((ms) => ms === 6000),
      6000,
    );
    await settle(() => server.calls[0]!.signal.aborted && c.statuses.at(-1) === 'waiting');
    timers.run((ms) => ms === 1000);
    await settle(() => server.calls.length === 2);
    c.stream.close();
  });

  test('a session that ended (401, or the session.ended event) stops the stream and tells the app', async () => {
    const server = fakeServer();
    const timers = manualTimers();
    server.answers.push(() => new Response('{"code":"token_revoked"}', { status: 401 }));
    const refused = start(server, timers);
    await settle(() => refused.ended.length === 1);
    assert.deepEqual(refused.ended, ['token_revoked']);
    assert.equal(timers.pending.size, 0, 'no retry');

    const server2 = fakeServer();
    const timers2 = manualTimers();
    const told = start(server2, timers2);
    await settle(() => server2.streams.length === 1);
    server2.streams[0]!.push(hello('e.0'));
    server2.streams[0]!.push('event: session.ended\ndata: {"code":"token_expired"}\n\n');
    await settle(() => told.ended.length === 1);
    assert.deepEqual(told.ended, ['token_expired']);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(timers2.pending.size, 0, 'no retry, no watchdog');
    assert.equal(server2.calls.length, 1);
  });

  test('too many streams (429) waits longer before asking again; close() stops every retry', async () => {
    const server = fakeServer();
    const timers = manualTimers();
    server.answers.push(() => new Response('{"code":"live_streams_exceeded"}', { status: 429 }));
    const c = start(server, timers);
    await settle(() => c.statuses.at(-1) === 'waiting');
    assert.equal([...timers.pending.values()][0]!.ms, 4000);
    c.stream.close();
    assert.equal(timers.pending.size, 0);
    assert.equal(c.ended.length, 0);
  });
});
