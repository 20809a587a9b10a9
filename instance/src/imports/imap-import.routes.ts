import type { FastifyPluginAsync } from 'fastify';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams } from '../api/schemas.ts';
import { SyncStatusDto, toSyncStatusDto } from '../identities/remote-identity.dto.ts';
import type { ImapImportService } from './imap-import.service.ts';

/** Start an import of a remote mailbox and follow its progress. */
export const imapImportRoutes: FastifyPluginAsync<{ imports: ImapImportService }> = async (app, { imports }) => {
  app.post(
    '/api/v1/identities/:id/import',
    {
      config: { access: 'user' },
      schema: {
        tags: ['identities'],
        summary:
          'Start an import of every folder (the first one takes everything, later ones what is new). 202 with the import id; when one is already queued or running, that one.',
        params: IdParams,
        response: { 202: SyncStatusDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const status = await imports.start(principalOf(request).account.id, (request.params as { id: string }).id);
      return reply.code(202).send(toSyncStatusDto(status));
    },
  );

  app.get(
    '/api/v1/identities/:id/import',
    {
      config: { access: 'user' },
      schema: {
        tags: ['identities'],
        summary: 'Progress of the current or last import: state, messages done / total per folder, last error.',
        params: IdParams,
        response: { 200: SyncStatusDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) =>
      toSyncStatusDto(await imports.status(principalOf(request).account.id, (request.params as { id: string }).id)),
  );
};
