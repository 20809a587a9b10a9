import type { TLSSocket } from 'node:tls';
import {
  checkRequestDigest,
  ENVELOPE_MEDIA_TYPE,
  ERROR_CODES as PROTOCOL_ERRORS,
  FEDERATION_HTTP_ERRORS,
  INBOX_PATH,
  MAX_BUCKET_BYTES,
  PREKEYS_PATH,
  checkReplay,
  openEnvelope,
  replayKey,
  signReceipt,
  type Ed25519PublicJwk,
  type EnvelopeFrom,
  type FederationHttpErrorCode,
} from '@caliopen/federation-protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Account } from '../accounts/account.entity.ts';
import type { InstanceIdentity } from '../identity/instance-identity.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import { authorsOf } from '../mail/message.parser.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { registerDirectoryRoutes, type DirectorySource } from './directory.routes.ts';
import { TokenBuckets, type RateAllowance } from '../shared/token-bucket.ts';
import { authenticatePeerHeader, type PeerAuthentication, type PeerLookup } from './peer-auth.ts';
import { signingKeyOf, type PrekeyStore } from './prekey.store.ts';
import type { ReplayRepository } from './replay.repository.ts';

export type { PeerLookup } from './peer-auth.ts';
export { clientCertificateSha256 } from './peer-auth.ts';

export interface InboxDeps {
  identity: Pick<InstanceIdentity, 'domain' | 'signing'>;
  /** The peer directory as it is now (null: federation off, every sender is `peer_unknown`). */
  peers: () => PeerLookup | null;
  prekeys: PrekeyStore;
  replay: ReplayRepository;
  accounts: { getByUsername(username: string): Promise<Account | null> };
  ingest: MessageIngest;
  clock: Clock;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Largest request body accepted, refused before reading (default: a 16 MiB bucket, base64url, plus 2 KiB). */
  maxEnvelopeBytes?: number;
  /** The key directory and trust sharing (directory.routes.ts); absent: not served. */
  directory?: DirectorySource;
  /** Authenticated requests per peer instance (inbox and key directory), beyond: 429 peer_rate_limited. */
  peerRate?: RateAllowance;
  /**
   * Test hook (the composition root sets it from CALIOPEN_TEST_CRASH_AT=inbox-claimed under NODE_ENV=test): runs
   * between the replay claim and the filing of an accepted envelope, where a crash once lost the message.
   */
  afterClaim?: () => void;
}

/** The default allowance per peer: a burst of 200 requests, refilled at 30 a second. */
export const DEFAULT_PEER_RATE: RateAllowance = { burst: 200, perSecond: 30 };

type Authenticated = Extract<PeerAuthentication, { ok: true }>;

/** The default body limit: envelopes up to the 16 MiB bucket (messages of about 12 MiB). */
export const DEFAULT_MAX_INBOX_BYTES = Math.ceil(((MAX_BUCKET_BYTES / 2) * 4) / 3) + 2048;

class InboxRefusal extends Error {
  constructor(
    readonly code: FederationHttpErrorCode,
    message: string,
    readonly receipt: string | null = null,
  ) {
    super(message);
  }
}

function sendProblem(
  reply: FastifyReply,
  code: FederationHttpErrorCode,
  detail?: string,
  receipt?: string | null,
): FastifyReply {
  const status = FEDERATION_HTTP_ERRORS[code].status;
  const body: Record<string, unknown> = { type: 'about:blank', title: PROTOCOL_ERRORS[code], status, code };
  if (detail !== undefined && detail !== PROTOCOL_ERRORS[code]) body['detail'] = detail;
  if (receipt) body['receipt'] = receipt;
  return reply.code(status).type('application/problem+json').send(body);
}

/**
 * The federation endpoints of the public HTTPS face (SPEC.md §4.3): `GET /federation/v1/prekeys` and
 * `POST /federation/v1/inbox`. The inbox checks, in the order of SPEC.md §10: body size (before reading), request
 * signature (keys from the peer directory), label, TLS client certificate against the feed's fingerprint, envelope
 * (our prekeys; expected sender = the authenticated one), replay (persistent), recipient; then stores the message
 * for the recipient once and answers with a signed receipt. Any failure: problem+json with the protocol's code and
 * status, nothing stored. Logs name the sending instance, the code and the bucket only.
 */
export function federationRoutes(deps: InboxDeps) {
  const maxBytes = deps.maxEnvelopeBytes ?? DEFAULT_MAX_INBOX_BYTES;
  const signingKey = signingKeyOf(deps.identity);
  const domain = deps.identity.domain;
  const nowSeconds = () => Math.floor(deps.clock().getTime() / 1000);
  const keysOf = (peerDomain: string): readonly Ed25519PublicJwk[] | undefined => {
    const peer = deps.peers()?.peer(peerDomain);
    return peer ? peer.signingKeys : undefined;
  };
  const peerRate = deps.peerRate ?? DEFAULT_PEER_RATE;
  const peerLimiter = new TokenBuckets(peerRate, () => deps.clock().getTime());

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      [ENVELOPE_MEDIA_TYPE, 'application/json'],
      { parseAs: 'buffer', bodyLimit: maxBytes },
      (_req, body, done) => done(null, body),
    );
    app.setErrorHandler((error: { statusCode?: number; code?: string }, request, reply) => {
      if (error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        return sendProblem(reply, 'envelope_oversize', `The inbox accepts at most ${maxBytes} bytes.`);
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)
        return sendProblem(
          reply,
          'envelope_malformed',
          'The request body is not an envelope (application/vnd.caliopen.envelope+json).',
        );
      request.log.error({ err: error }, 'federation endpoint failed');
      return reply
        .code(500)
        .type('application/problem+json')
        .send({ type: 'about:blank', title: 'Internal error; retry later.', status: 500, code: 'internal_error' });
    });

    app.get(PREKEYS_PATH, async (_request, reply) => {
      reply.header('cache-control', 'max-age=60');
      return reply.type('application/json').send(await deps.prekeys.published());
    });

    if (deps.directory) {
      registerDirectoryRoutes(app, {
        domain,
        signingKey,
        peers: deps.peers,
        nowSeconds,
        source: deps.directory,
        logger: deps.logger,
        peerLimiter,
      });
    }

    // The inbox authenticates from the headers and TLS alone, before reading a byte of body (onRequest runs before
    // the body parser): an anonymous or unknown client never makes the instance buffer a body, a labelled peer is
    // rate-limited, and only then is the body read, capped, and checked against the signed digest.
    const authenticated = new WeakMap<FastifyRequest, Authenticated>();
    app.post(
      INBOX_PATH,
      {
        bodyLimit: maxBytes,
        onRequest: async (request, reply) => {
          const refusal = await admit(request);
          if (!('code' in refusal)) {
            authenticated.set(request, refusal);
            return;
          }
          deps.logger.info({ peer: refusal.peer, code: refusal.code }, 'federation envelope refused');
          // The body is never read: the connection closes after the answer instead of draining it.
          reply.header('connection', 'close');
          if (refusal.retryAfter !== undefined) reply.header('retry-after', String(refusal.retryAfter));
          await sendProblem(reply, refusal.code, refusal.message);
          return reply;
        },
      },
      async (request, reply) => {
        const body = request.body;
        const auth = authenticated.get(request);
        if (!Buffer.isBuffer(body) || auth === undefined)
          return sendProblem(reply, 'envelope_malformed', 'The request has no envelope.');
        let bucket: number | null = null;
        try {
          const digest = checkRequestDigest(
            auth.verified,
            new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
          );
          if (!digest.ok) throw new InboxRefusal(digest.error.code as FederationHttpErrorCode, digest.error.message);
          const receipt = await receive(request, body, auth, (b) => {
            bucket = b;
          });
          deps.logger.info({ peer: auth.domain, bucket }, 'federation envelope accepted');
          return reply.code(200).type('application/json').send({ receipt });
        } catch (error) {
          if (!(error instanceof InboxRefusal)) throw error;
          deps.logger.info({ peer: auth.domain, bucket, code: error.code }, 'federation envelope refused');
          return sendProblem(reply, error.code, error.message, error.receipt);
        }
      },
    );
  };

  /**
   * The inbox's checks before the body (SPEC.md §10, steps 1 to 5, then the rate): the declared size, this instance's
   * own label, the request signature, the sender's label and TLS client certificate, the sender's allowance.
   */
  async function admit(
    request: FastifyRequest,
  ): Promise<
    Authenticated | { code: FederationHttpErrorCode; message: string; peer: string | null; retryAfter?: number }
  > {
    // 1. Size, before reading: a declared length beyond the limit (a chunked body is cut at the limit while read).
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes)
      return { code: 'envelope_oversize', message: `The inbox accepts at most ${maxBytes} bytes.`, peer: null };
    // 2. This instance is labelled now (its own entry in the feed it holds): without a valid label it is not a member
    // and takes no federation delivery (SPEC §10; a sender's retry finds it labelled again, or its own feed says not).
    const own = deps.peers()?.peer(domain) ?? null;
    if (own !== null && !own.labelValid)
      return {
        code: 'recipient_not_labelled',
        message: `${domain} holds no valid label now (${own.status}): it accepts no federation delivery until it does.`,
        peer: null,
      };
    // 3-5. Request signature (destination = us, keys from the directory; the body digest once read), label, TLS
    // client certificate.
    const auth = await authenticatePeerHeader(request, { domain, now: nowSeconds(), peers: deps.peers });
    if (!auth.ok) return { code: auth.code, message: auth.message, peer: auth.domain };
    const wait = peerLimiter.take(auth.domain);
    if (wait > 0)
      return {
        code: 'peer_rate_limited',
        message: `At most ${peerRate.burst} requests at once from one instance; retry in ${wait} s.`,
        peer: auth.domain,
        retryAfter: wait,
      };
    return auth;
  }

  async function receive(
    request: FastifyRequest,
    body: Buffer,
    auth: Authenticated,
    note: (bucket: number | null) => void,
  ): Promise<string> {
    const now = nowSeconds();
    const { domain: senderDomain, peer } = auth;
    // 5. Open the envelope.
    const opened = await openEnvelope(body, {
      expectedDestination: domain,
      now,
      prekeyPrivate: (kid) => deps.prekeys.privateHalf(kid),
      senderKeys: keysOf,
      expectedSender: senderDomain,
      maxEnvelopeBytes: maxBytes,
    });
    if (!opened.ok) throw new InboxRefusal(opened.error.code as FederationHttpErrorCode, opened.error.message);
    const { content } = opened.value;
    note(opened.value.bucket);
    // 6. Replay (persistent); a replay answers with the receipt issued the first time. The claim counts as done only
    // once the receipt is recorded, which happens after the message is filed: a claim without a receipt is a delivery
    // cut between the two (a crash) or still under way, and this delivery completes it — filing is idempotent (the
    // same Message-ID and bytes for the same account are stored once), so the message is in the mailbox exactly once
    // and the sender gets a receipt (docs/adr/0023-public-face-hardening.md).
    const replay = await checkReplay(deps.replay, content, { now });
    let key: string;
    if (replay.ok) key = replay.value.key;
    else {
      const code = replay.error.code as FederationHttpErrorCode;
      const first = code === 'envelope_replayed' ? await deps.replay.receiptOf(replayKey(content)) : null;
      if (code !== 'envelope_replayed' || first !== null) throw new InboxRefusal(code, replay.error.message, first);
      key = replayKey(content);
    }
    deps.afterClaim?.();
    try {
      // 7. The recipient.
      const account = await deps.accounts.getByUsername(content.to.local.toLowerCase());
      if (account === null || account.disabled)
        throw new InboxRefusal('recipient_unknown', 'No such recipient on this instance.');
      // 8. Store once, then sign the receipt.
      const tlsSocket = request.raw.socket as TLSSocket;
      const cipher = typeof tlsSocket.getCipher === 'function' ? tlsSocket.getCipher() : null;
      const version = typeof tlsSocket.getProtocol === 'function' ? tlsSocket.getProtocol() : null;
      await deps.ingest.ingest({
        accountId: account.id,
        raw: Buffer.from(content.body),
        direction: 'inbound',
        receivedAt: deps.clock(),
        read: false,
        facts: {
          transport: {
            via: 'federation',
            tls: cipher && version ? { version, cipher: cipher.standardName ?? cipher.name } : null,
            clientIp: request.ip,
            helo: senderDomain,
            receivedChain: [],
            externalHops: 0,
            plaintextHops: 0,
          },
          authentication: null,
          federation: {
            peerDomain: senderDomain,
            labelValid: true,
            peerInstancePi: peer.instancePi,
            sealed: true,
            forwardSecret: true,
            // The protocol authenticated the sending instance and the account it names: the message's own From
            // (and Sender) must be that account, or the identity shown is the mail's claim, not a verified one.
            senderAuthenticated: authorsBound(content.body, content.from),
            envelopeId: content.id,
            e2e: content.e2e,
          },
        },
      });
      const receipt = await signReceipt(
        {
          envelopeId: content.id,
          to: { instance: domain, local: content.to.local },
          receivedAt: now,
          status: 'delivered',
        },
        signingKey,
      );
      await deps.replay.setReceipt(key, receipt);
      return receipt;
    } catch (error) {
      // Nothing stored on a failure: the envelope may come again.
      await deps.replay.forget(key);
      throw error;
    }
  }
}

/**
 * Whether the mail's authors are the sender the protocol authenticated (SPEC §8.6, "Who the mail says wrote it"): one From address, equal to
 * `account@instance`, and no Sender but that same address; for a message of the instance itself (no account), every
 * From address at the instance's domain. Anything else (another person, another domain, several authors, an address
 * that cannot be read) is delivered as the mail's unverified claim: `senderAuthenticated: false`, scored as such.
 */
export function authorsBound(body: Uint8Array, from: EnvelopeFrom): boolean {
  const { from: authors, sender } = authorsOf(Buffer.from(body));
  const instance = normaliseDomainOf(from.instance);
  if (from.account === undefined) {
    return authors.length > 0 && [...authors, ...sender].every((a) => a !== null && domainOf(a) === instance);
  }
  const expected = `${from.account.toLowerCase()}@${instance}`;
  return authors.length === 1 && authors[0] === expected && sender.every((a) => a === expected);
}

const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1);
const normaliseDomainOf = (domain: string): string => domain.toLowerCase().replace(/\.$/, '');
