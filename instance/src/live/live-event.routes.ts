import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { AppError, isAppError } from '../shared/errors.ts';
import type { LiveEvent, LiveEventHub } from './live-event.hub.ts';

export const DEFAULT_LIVE_HEARTBEAT_SECONDS = 15;
export const DEFAULT_LIVE_STREAMS_PER_ACCOUNT = 8;
/** What the app waits before reconnecting after a dropped stream (SSE `retry:`); the app backs off from there. */
const RETRY_MS = 3000;
/** setTimeout's largest delay; a later session expiry is caught by the heartbeats' re-check. */
const MAX_TIMER_MS = 2_147_483_647;

/** One Server-Sent Events frame. JSON never holds a raw line break, so `data` is always one line. */
function frame(event: string, data: unknown, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * `GET /api/v1/events`: the live updates of the caller's account as Server-Sent Events (text/event-stream), over the
 * app's ordinary bearer session (the web app reads it with fetch, which sends the header: no token in a URL).
 * First a `hello` (the heartbeat period and the current event id), then the events of this account only, each with an
 * id; a comment line every heartbeat, at which the session is checked again: revoked, expired, or its account
 * disabled, a `session.ended` event ends the stream (and at the session's expiry at the latest). A reconnecting app
 * sends `Last-Event-ID`: what it missed is replayed, or a `resync` event says to reload. Beyond the cap on streams per
 * account: 429 `live_streams_exceeded`.
 */
export const liveEventRoutes: FastifyPluginAsync<{
  hub: LiveEventHub;
  /** Checks the stream's token again (throws the 401/403 AppError of a session that ended). */
  authenticate: (token: string) => Promise<unknown>;
  heartbeatSeconds: number;
  clock: () => Date;
}> = async (app, { hub, authenticate, heartbeatSeconds, clock }) => {
  const open = new Set<() => void>();
  // A stopping server ends its streams first (a stream never idles, so the server would wait for it otherwise).
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get(
    '/api/v1/events',
    {
      config: { access: 'user' },
      schema: {
        tags: ['live'],
        summary:
          'Live updates of your account (Server-Sent Events): new messages and changed discussions by id, notices and key alerts changed. Send `Last-Event-ID` to resume; a `resync` event says to reload.',
        headers: Type.Object({
          'last-event-id': Type.Optional(Type.String({ maxLength: 64 })),
        }),
        response: problemResponses(400, 401, 429),
      },
    },
    async (request, reply) => {
      const { account, session } = principalOf(request);
      const token = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '';
      const res = reply.raw;
      let ended = false;
      const write = (chunk: string) => {
        if (!ended) res.write(chunk);
      };
      const detach = hub.attach(account.id, {
        send: (id: string, event: LiveEvent) => write(frame(event.type, event.data, id)),
      });
      if (detach === null) {
        throw new AppError(
          'live_streams_exceeded',
          `At most ${hub.maxPerAccount} live-update streams can be open per account.`,
        );
      }
      const lastEventId = (request.headers['last-event-id'] as string | undefined)?.trim();
      const missed = lastEventId ? hub.since(account.id, lastEventId) : [];

      let heartbeat: NodeJS.Timeout | undefined;
      let expiry: NodeJS.Timeout | undefined;
      const end = (why?: string) => {
        if (ended) return;
        if (why !== undefined) write(frame('session.ended', { code: why }));
        ended = true;
        clearInterval(heartbeat);
        clearTimeout(expiry);
        detach();
        open.delete(end);
        res.end();
      };
      open.add(end);
      res.on('close', () => end());

      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
      });
      write(`retry: ${RETRY_MS}\n\n`);
      write(frame('hello', { heartbeatSeconds, lastEventId: hub.currentId(account.id) }));
      if (missed === 'resync') write(frame('resync', {}, hub.currentId(account.id)));
      else for (const m of missed) write(frame(m.event.type, m.event.data, m.id));

      heartbeat = setInterval(() => {
        authenticate(token).then(
          () => write(': heartbeat\n\n'),
          // A session that ended is told; a failure to check (storage down) only drops the stream: the app reconnects.
          (e: unknown) => end(isAppError(e) && (e.status === 401 || e.status === 403) ? e.code : undefined),
        );
      }, heartbeatSeconds * 1000);
      const untilExpiry = session.expiresAt.getTime() - clock().getTime();
      if (untilExpiry < MAX_TIMER_MS) expiry = setTimeout(() => end('token_expired'), Math.max(0, untilExpiry));
    },
  );
};
