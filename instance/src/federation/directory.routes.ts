import {
  FEDERATION_HTTP_ERRORS,
  ERROR_CODES as PROTOCOL_ERRORS,
  KEY_DIRECTORY_PATH_PREFIX,
  RECIPIENT_CHECK_PATH_PREFIX,
  TRUST_PATH_PREFIX,
  isLocalPart,
  signKeyDirectoryEntry,
  signTrustStatement,
  type Ed25519KeyPair,
  type FederationHttpErrorCode,
  type PiSummary,
} from '@caliopen/federation-protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { TokenBuckets, type RateAllowance } from '../shared/token-bucket.ts';
import { authenticatePeer, type PeerLookup } from './peer-auth.ts';

/** What the key directory and trust sharing answer from (federation.wiring.ts fills it from the services). */
export interface DirectorySource {
  /** The user's active OpenPGP public key, or null (no such user, disabled, no key). */
  publicKeyOf(local: string): Promise<{ publicKey: Uint8Array; fingerprint: string } | null>;
  /** The user's account PI summary when the user allows sharing it, else null (no such user alike). */
  sharedTrustOf(local: string): Promise<PiSummary | null>;
  /** Whether `local` is an enabled account that can receive (the recipient check, SPEC.md §12.1). */
  recipientExists(local: string): Promise<boolean>;
}

/** The recipient check's allowance per asking instance: a burst, refilled over time (SPEC.md §12.1). */
export type RecipientCheckRate = RateAllowance;

export const DEFAULT_RECIPIENT_CHECK_RATE: RecipientCheckRate = { burst: 30, perSecond: 1 };

export interface DirectoryRouteDeps {
  domain: string;
  signingKey: Ed25519KeyPair;
  peers: () => PeerLookup | null;
  nowSeconds: () => number;
  source: DirectorySource;
  logger: Pick<Logger, 'info'>;
  /** The recipient check's allowance per peer (DEFAULT_RECIPIENT_CHECK_RATE). */
  recipientCheckRate?: RecipientCheckRate;
  /** Every authenticated request's allowance per peer, shared with the inbox (429 peer_rate_limited beyond). */
  peerLimiter?: Pick<TokenBuckets, 'take'>;
}

const EMPTY = new Uint8Array();

function problem(reply: FastifyReply, code: FederationHttpErrorCode, detail?: string): FastifyReply {
  const status = FEDERATION_HTTP_ERRORS[code].status;
  const body: Record<string, unknown> = { type: 'about:blank', title: PROTOCOL_ERRORS[code], status, code };
  if (detail !== undefined && detail !== PROTOCOL_ERRORS[code]) body['detail'] = detail;
  return reply.code(status).type('application/problem+json').send(body);
}

/**
 * `GET /federation/v1/keys/:local` (SPEC.md §12) and `GET /federation/v1/trust/:local` (§13) on the public face:
 * labelled peers only, authenticated as the inbox authenticates (authenticatePeer). The key directory answers the
 * user's active OpenPGP key as a signed entry, `key_not_found` when there is none or no such user; trust sharing
 * answers the account PI summary as a signed statement only when the user allows it, `trust_not_shared` otherwise
 * (the same answer as for no such user). Logs name the asking instance and the code, never the user.
 */
export function registerDirectoryRoutes(app: FastifyInstance, deps: DirectoryRouteDeps): void {
  const authenticate = async (
    request: FastifyRequest,
    reply: FastifyReply,
    what: string,
  ): Promise<{ now: number; peer: string } | null> => {
    const now = deps.nowSeconds();
    const auth = await authenticatePeer(request, EMPTY, { domain: deps.domain, now, peers: deps.peers });
    if (auth.ok) {
      const wait = deps.peerLimiter?.take(auth.domain) ?? 0;
      if (wait === 0) return { now, peer: auth.domain };
      deps.logger.info({ peer: auth.domain, code: 'peer_rate_limited' }, `federation ${what} request refused`);
      reply.header('retry-after', String(wait));
      problem(reply, 'peer_rate_limited', `Too many requests from one instance; retry in ${wait} s.`);
      return null;
    }
    deps.logger.info({ peer: auth.domain, code: auth.code }, `federation ${what} request refused`);
    problem(reply, auth.code, auth.message);
    return null;
  };

  app.get<{ Params: { local: string } }>(`${KEY_DIRECTORY_PATH_PREFIX}:local`, async (request, reply) => {
    const authed = await authenticate(request, reply, 'key directory');
    if (authed === null) return reply;
    const local = request.params.local;
    const key = isLocalPart(local) ? await deps.source.publicKeyOf(local) : null;
    if (key === null) return problem(reply, 'key_not_found');
    const jws = await signKeyDirectoryEntry(
      {
        domain: deps.domain,
        local,
        openpgpKey: key.publicKey,
        fingerprint: key.fingerprint.toLowerCase(),
        issuedAt: authed.now,
      },
      deps.signingKey,
    );
    reply.header('cache-control', 'no-store');
    return reply.code(200).type('application/jose').send(jws);
  });

  app.get<{ Params: { local: string } }>(`${TRUST_PATH_PREFIX}:local`, async (request, reply) => {
    const authed = await authenticate(request, reply, 'trust');
    if (authed === null) return reply;
    const local = request.params.local;
    const pi = isLocalPart(local) ? await deps.source.sharedTrustOf(local) : null;
    if (pi === null) return problem(reply, 'trust_not_shared');
    const jws = await signTrustStatement({ domain: deps.domain, local, pi, issuedAt: authed.now }, deps.signingKey);
    reply.header('cache-control', 'no-store');
    return reply.code(200).type('application/jose').send(jws);
  });

  // The recipient check (SPEC.md §12.1): yes or no for one local part, to labelled peers only, rate-limited per peer.
  const rate = deps.recipientCheckRate ?? DEFAULT_RECIPIENT_CHECK_RATE;
  const limiter = new TokenBuckets(rate, () => deps.nowSeconds() * 1000);
  app.get<{ Params: { local: string } }>(`${RECIPIENT_CHECK_PATH_PREFIX}:local`, async (request, reply) => {
    const authed = await authenticate(request, reply, 'recipient check');
    if (authed === null) return reply;
    const wait = limiter.take(authed.peer);
    if (wait > 0) {
      deps.logger.info({ peer: authed.peer, code: 'peer_rate_limited' }, 'federation recipient check refused');
      reply.header('retry-after', String(wait));
      return problem(reply, 'peer_rate_limited', `At most ${rate.burst} recipient checks at once; retry in ${wait} s.`);
    }
    const local = request.params.local;
    const exists = isLocalPart(local) && (await deps.source.recipientExists(local));
    deps.logger.info({ peer: authed.peer, exists }, 'federation recipient check');
    reply.header('cache-control', 'no-store');
    if (!exists) return problem(reply, 'recipient_unknown');
    return reply.code(204).send();
  });
}
