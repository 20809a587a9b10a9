import { statfs } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { JobQueue } from '@caliopen/platform/queue/job-queue.port.ts';
import type { DnsLookupOptions } from '@caliopen/platform/dns/dns.resolver.ts';
import { problemResponses } from '../api/problem.ts';
import { checkDnsRecords, type ExpectedRecord } from './dns-check.ts';

/** A queue the console shows, and what its jobs are. */
export interface WatchedQueue {
  name: string;
  kind: 'smtp' | 'federation' | 'index' | 'pi' | 'other';
}

/** A peer as the verified feed lists it. */
export interface PeerSummary {
  domain: string;
  status: string;
  labelValid: boolean;
  /** NumericDate (seconds). */
  labelExpiresAt: number;
  instancePi: number;
}

/** What the operator's console reads; the composition root hands each part (app/http.app.ts). */
export interface OperationsDeps {
  domain: string;
  /** The records `caliopen instance dns` prints (identity/instance-identity.ts dnsRecords). */
  dnsRecords: () => Promise<ExpectedRecord[]>;
  /** The instance's resolvers (dns.resolvers; the system's when none), as the key lookups ask. */
  dns: DnsLookupOptions;
  queue: Pick<JobQueue, 'counts' | 'deadLetters'>;
  queues: readonly WatchedQueue[];
  /** Every account's usage (walked in pages). */
  accounts: (page: {
    limit: number;
    afterUsername?: string;
  }) => Promise<{ username: string; role: string; disabled: boolean; usedBytes: number; quotaBytes: number }[]>;
  /** Where the data lives (disk size and free space); null: not on a local disk. */
  dataDir: string | null;
  /** The inbound SMTP spool: messages accepted and not yet delivered to mailboxes (null: SMTP off). */
  spool: () => Promise<{ queued: number; dead: number; oldestQueuedAt: Date | null } | null>;
  /** Instances the verified feed lists (null: federation off). */
  peers: () => readonly PeerSummary[] | null;
}

const Counts = {
  waiting: Type.Integer(),
  delayed: Type.Integer(),
  active: Type.Integer(),
  dead: Type.Integer(),
};

const QueueDto = Type.Object(
  {
    name: Type.String(),
    kind: Type.Union(['smtp', 'federation', 'index', 'pi', 'other'].map((k) => Type.Literal(k))),
    pending: Type.Integer({ description: 'Waiting to run or running now.' }),
    retrying: Type.Integer({ description: 'Waiting for a later attempt (a delivery retry, a backoff).' }),
    failed: Type.Integer({ description: 'Gave up after every attempt (dead letters), kept for the operator.' }),
    ...Counts,
    recentFailures: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          name: Type.String(),
          attempts: Type.Integer(),
          error: Type.Union([Type.String(), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/**
 * The operator's console, read side (administrators only): the DNS records to publish checked against what the
 * instance's resolver sees now, the job queues (SMTP and federation delivery, indexing, PI), the inbound spool,
 * storage use and the federation peers of the feed. Actions on accounts are admin.routes.ts; the journal is
 * admin-journal/. None of these answers carries a message, an address of mail or a secret.
 */
export const operationsRoutes: FastifyPluginAsync<{ ops: OperationsDeps }> = async (app, { ops }) => {
  app.get(
    '/api/v1/admin/dns',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The DNS records to publish, each checked now against what the instance’s resolver answers.',
        response: {
          200: Type.Object(
            {
              domain: Type.String(),
              checkedAt: Type.String({ format: 'date-time' }),
              records: Type.Array(
                Type.Object(
                  {
                    name: Type.String(),
                    type: Type.String(),
                    value: Type.String(),
                    why: Type.String(),
                    status: Type.Union(['ok', 'different', 'missing', 'error'].map((s) => Type.Literal(s))),
                    published: Type.Array(Type.String()),
                    error: Type.Optional(Type.String()),
                  },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
          ...problemResponses(401, 403),
        },
      },
    },
    async () => {
      const records = await checkDnsRecords(await ops.dnsRecords(), ops.dns);
      return { domain: ops.domain, checkedAt: new Date().toISOString(), records };
    },
  );

  app.get(
    '/api/v1/admin/queues',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The job queues: outbound SMTP and federation deliveries, search indexing, PI recomputation.',
        response: {
          200: Type.Object({ queues: Type.Array(QueueDto) }, { additionalProperties: false }),
          ...problemResponses(401, 403),
        },
      },
    },
    async () => ({
      queues: await Promise.all(
        ops.queues.map(async (q) => {
          const c = await ops.queue.counts(q.name);
          const dead = c.dead > 0 ? await ops.queue.deadLetters(q.name, 10) : [];
          return {
            name: q.name,
            kind: q.kind,
            pending: c.waiting + c.active,
            retrying: c.delayed,
            failed: c.dead,
            waiting: c.waiting,
            delayed: c.delayed,
            active: c.active,
            dead: c.dead,
            recentFailures: dead.map((j) => ({
              id: j.id,
              name: j.name,
              attempts: j.attemptsMade,
              error: j.lastError === null ? null : j.lastError.slice(0, 300),
            })),
          };
        }),
      ),
    }),
  );

  app.get(
    '/api/v1/admin/overview',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Storage use, the inbound spool and the search index lag, in one look.',
        response: {
          200: Type.Object(
            {
              domain: Type.String(),
              accounts: Type.Object(
                {
                  total: Type.Integer(),
                  admins: Type.Integer(),
                  disabled: Type.Integer(),
                  usedBytes: Type.Integer(),
                  quotaBytes: Type.Integer(),
                },
                { additionalProperties: false },
              ),
              disk: Type.Union([
                Type.Object({ totalBytes: Type.Integer(), freeBytes: Type.Integer() }, { additionalProperties: false }),
                Type.Null(),
              ]),
              spool: Type.Union([
                Type.Object(
                  {
                    queued: Type.Integer(),
                    dead: Type.Integer(),
                    oldestQueuedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
                  },
                  { additionalProperties: false },
                ),
                Type.Null(),
              ]),
              index: Type.Object(
                {
                  pending: Type.Integer({ description: 'Mailbox changes not yet in the search index.' }),
                  failed: Type.Integer(),
                },
                { additionalProperties: false },
              ),
            },
            { additionalProperties: false },
          ),
          ...problemResponses(401, 403),
        },
      },
    },
    async () => {
      const accounts = { total: 0, admins: 0, disabled: 0, usedBytes: 0, quotaBytes: 0 };
      let after: string | undefined;
      for (;;) {
        const page = await ops.accounts({ limit: 500, ...(after !== undefined ? { afterUsername: after } : {}) });
        for (const a of page) {
          accounts.total++;
          if (a.role === 'admin') accounts.admins++;
          if (a.disabled) accounts.disabled++;
          accounts.usedBytes += a.usedBytes;
          accounts.quotaBytes += a.quotaBytes;
        }
        if (page.length < 500) break;
        after = page.at(-1)!.username;
      }
      let disk: { totalBytes: number; freeBytes: number } | null = null;
      if (ops.dataDir !== null) {
        const s = await statfs(ops.dataDir).catch(() => null);
        if (s) disk = { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
      }
      const spool = await ops.spool();
      const indexQueue = ops.queues.find((q) => q.kind === 'index');
      const idx = indexQueue ? await ops.queue.counts(indexQueue.name) : null;
      return {
        domain: ops.domain,
        accounts,
        disk,
        spool: spool && { ...spool, oldestQueuedAt: spool.oldestQueuedAt?.toISOString() ?? null },
        index: { pending: idx ? idx.waiting + idx.active + idx.delayed : 0, failed: idx?.dead ?? 0 },
      };
    },
  );

  app.get(
    '/api/v1/admin/peers',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The instances the registry’s verified feed lists, with their standing (empty: federation off).',
        response: {
          200: Type.Object(
            {
              enabled: Type.Boolean(),
              items: Type.Array(
                Type.Object(
                  {
                    domain: Type.String(),
                    status: Type.String(),
                    labelValid: Type.Boolean(),
                    labelExpiresAt: Type.String({ format: 'date-time' }),
                    instancePi: Type.Number(),
                  },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
          ...problemResponses(401, 403),
        },
      },
    },
    async () => {
      const peers = ops.peers();
      return {
        enabled: peers !== null,
        items: (peers ?? [])
          .map((p) => ({ ...p, labelExpiresAt: new Date(p.labelExpiresAt * 1000).toISOString() }))
          .sort((a, b) => a.domain.localeCompare(b.domain)),
      };
    },
  );
};
