import { encodeBase64, encodeProof } from '@caliopen/federation-protocol';
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { RegistryError } from '../shared/errors.ts';
import { MAX_LOG_RANGE, type TransparencyLogService } from './transparency-log.service.ts';

const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const EntriesQuery = Type.Object({ start: Count, end: Count }, { additionalProperties: false });
const InclusionQuery = Type.Object({ index: Count, size: Count }, { additionalProperties: false });
/** Most inclusion proofs answered at once. */
export const MAX_INCLUSION_BATCH = 256;
const InclusionsQuery = Type.Object(
  {
    size: Count,
    indices: Type.String({
      pattern: `^[0-9]{1,16}(,[0-9]{1,16}){0,${MAX_INCLUSION_BATCH - 1}}$`,
      maxLength: MAX_INCLUSION_BATCH * 17,
    }),
  },
  { additionalProperties: false },
);
const ConsistencyQuery = Type.Object({ from: Count, to: Count }, { additionalProperties: false });
const NoQuery = Type.Object({}, { additionalProperties: false });

/** The transparency log over HTTP: signed checkpoint, entries, inclusion and consistency proofs (RFC 9162). */
export const logRoutes: FastifyPluginAsync<{ log: TransparencyLogService; clock: Clock }> = async (
  app,
  { log, clock },
) => {
  app.get(
    '/v1/log/checkpoint',
    {
      config: { access: 'public' },
      schema: {
        tags: ['log'],
        summary: 'The latest signed checkpoint (compact JWS, typ caliopen-checkpoint+jws).',
        querystring: NoQuery,
      },
    },
    async () => {
      const c = await log.latestCheckpoint(clock());
      return { checkpoint: c.jws, treeSize: c.treeSize, timestamp: c.timestamp, origin: log.origin };
    },
  );

  app.get(
    '/v1/log/entries',
    {
      config: { access: 'public' },
      schema: {
        tags: ['log'],
        summary: `Entries start <= i < end (at most ${MAX_LOG_RANGE}), with their leaf hashes.`,
        querystring: EntriesQuery,
      },
    },
    async (request) => {
      const { start, end } = request.query as Static<typeof EntriesQuery>;
      const entries = await log.entries(start, end);
      return { entries: entries.map((e) => ({ index: e.index, entry: e.entry, leafHash: encodeBase64(e.leafHash) })) };
    },
  );

  app.get(
    '/v1/log/proof/inclusion',
    {
      config: { access: 'public' },
      schema: {
        tags: ['log'],
        summary: 'Inclusion proof of entry `index` in the tree of `size` entries.',
        querystring: InclusionQuery,
      },
    },
    async (request) => {
      const { index, size } = request.query as Static<typeof InclusionQuery>;
      const { leafHash, proof } = await log.inclusionProof(index, size);
      return { index, size, leafHash: encodeBase64(leafHash), proof: encodeProof(proof) };
    },
  );

  app.get(
    '/v1/log/proof/inclusions',
    {
      config: { access: 'public' },
      schema: {
        tags: ['log'],
        summary: `Inclusion proofs of entries \`indices\` (comma-separated, at most ${MAX_INCLUSION_BATCH}) in the tree of \`size\` entries: what a peer asks for the new entries of a feed (SPEC.md §3).`,
        querystring: InclusionsQuery,
      },
    },
    async (request) => {
      const { size, indices } = request.query as Static<typeof InclusionsQuery>;
      const wanted = [...new Set(indices.split(',').map(Number))];
      const proofs = await log.inclusionProofs(wanted, size);
      return {
        size,
        proofs: proofs.map((p) => ({
          index: p.index,
          leafHash: encodeBase64(p.leafHash),
          proof: encodeProof(p.proof),
        })),
      };
    },
  );

  app.get(
    '/v1/log/proof/consistency',
    {
      config: { access: 'public' },
      schema: {
        tags: ['log'],
        summary: 'Consistency proof from the tree of `from` entries to the tree of `to`.',
        querystring: ConsistencyQuery,
      },
    },
    async (request) => {
      const { from, to } = request.query as Static<typeof ConsistencyQuery>;
      if (from > to) throw new RegistryError('log_range_invalid', 'from must not exceed to.');
      return { from, to, proof: encodeProof(await log.consistencyProof(from, to)) };
    },
  );
};
