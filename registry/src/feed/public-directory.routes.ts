import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { checkRunView } from '../labels/application.routes.ts';
import type { CheckService } from '../labels/check.service.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import { MAX_LOG_RANGE, type TransparencyLogService } from '../log/transparency-log.service.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';

const NoQuery = Type.Object({}, { additionalProperties: false });
const DomainParams = Type.Object(
  { domain: Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9.-]+$' }) },
  { additionalProperties: false },
);

/**
 * Read-only views the association's public site (web/src/registry) needs beyond /v1/directory:
 * - every member that chose to be listed, whatever its standing (labelled, suspended — an emergency suspension with
 *   its reason and end —, revoked with reason and date),
 *   with its PI breakdown, label validity, jurisdiction, charter version and last check results. A member that chose
 *   the gated listing (`listed: false`) is left out here; it stays verifiable by name at /v1/instances/:domain;
 * - the transparency-log entries that name a domain, with their indexes, so a member's page links its log entries.
 */
export const publicDirectoryRoutes: FastifyPluginAsync<{
  storage: RegistryStorage;
  checks: CheckService;
  log: TransparencyLogService;
  clock: Clock;
}> = async (app, { storage, checks, log, clock }) => {
  app.get(
    '/v1/directory/members',
    {
      config: { access: 'public' },
      schema: {
        tags: ['feed'],
        summary: 'Listed members in any standing, with PI breakdown, label validity, jurisdiction and last checks.',
        querystring: NoQuery,
      },
    },
    async () => {
      const members = (await storage.members.list()).filter((m) => m.listed);
      const rows = await Promise.all(
        members.map(async (m) => {
          const [application, run] = await Promise.all([
            storage.applications.get(m.applicationId),
            checks.latest(m.applicationId),
          ]);
          return {
            domain: m.domain,
            status: m.status,
            pi: m.pi,
            labelId: m.currentLabelId,
            labelIssuedAt: m.labelIssuedAt.toISOString(),
            labelExpiresAt: m.labelExpiresAt.toISOString(),
            jurisdiction: application?.declaration.jurisdiction ?? null,
            charterVersion: application?.charterVersion ?? null,
            renewalBlocked: m.renewalBlocked,
            revokedAt: m.revokedAt?.toISOString() ?? null,
            revocationReason: m.revocationReason,
            suspension: m.suspension
              ? { reason: m.suspension.reason, until: new Date(m.suspension.until).toISOString() }
              : null,
            lastCheckAt: m.lastCheckAt?.toISOString() ?? null,
            checks: checkRunView(run),
          };
        }),
      );
      rows.sort((a, b) => a.domain.localeCompare(b.domain));
      return { members: rows };
    },
  );

  app.get(
    '/v1/directory/members/:domain/log',
    {
      config: { access: 'public' },
      schema: {
        tags: ['log'],
        summary: 'The transparency-log entries that name this domain, with their indexes.',
        params: DomainParams,
      },
    },
    async (request) => {
      const { domain } = request.params as Static<typeof DomainParams>;
      const { treeSize } = await log.latestCheckpoint(clock());
      const found: { index: number; entry: unknown }[] = [];
      for (let start = 0; start < treeSize; start += MAX_LOG_RANGE) {
        const page = await log.entries(start, Math.min(treeSize, start + MAX_LOG_RANGE));
        for (const e of page) {
          if ((e.entry as { domain?: string }).domain === domain) found.push({ index: e.index, entry: e.entry });
        }
      }
      return { domain, treeSize, entries: found };
    },
  );
};
