import type { FastifyPluginAsync } from 'fastify';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import type { AccountExportService } from './account-export.service.ts';

/** A few exports a minute at most: each reads the whole mailbox. */
const EXPORT_LIMIT = { max: 5, timeWindow: 60_000 };

/** `GET /api/v1/account/export`: everything the instance keeps about the signed-in account, as one tar archive. */
export const accountExportRoutes: FastifyPluginAsync<{ exports: AccountExportService }> = async (app, { exports }) => {
  app.get(
    '/api/v1/account/export',
    {
      config: { access: 'user', rateLimit: EXPORT_LIMIT },
      schema: {
        tags: ['account'],
        summary:
          'Download everything about your account as one tar archive: messages (mboxrd), contacts (vCard), public keys, Privacy Index, devices, the admin journal’s entries about you.',
        produces: ['application/x-tar'],
        response: problemResponses(401, 429),
      },
    },
    async (request, reply) => {
      const { filename, stream } = await exports.export(principalOf(request).account.id);
      return reply
        .type('application/x-tar')
        .header('content-disposition', `attachment; filename="${filename}"`)
        .header('cache-control', 'no-store')
        .send(stream);
    },
  );
};
