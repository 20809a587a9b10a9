import type { LookupFunction } from 'node:net';
import {
  ENVELOPE_MEDIA_TYPE,
  FEDERATION_HTTP_ERRORS,
  INBOX_PATH,
  PREKEYS_PATH,
  REQUEST_SIGNATURE_HEADER,
  choosePrekey,
  isProtocolError,
  newEnvelopeId,
  sealEnvelope,
  signRequest,
  verifyPrekeyList,
  verifyReceipt,
  type Ed25519KeyPair,
  type Prekey,
} from '@caliopen/federation-protocol';
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import { buildBounce } from '../email/bounce.ts';
import { LOCAL_FACTS } from '../email/compose.service.ts';
import { asMessageIdHeader, headerSection } from '../email/compose.mime.ts';
import { readSentCopy } from '../email/sent-copy.ts';
import {
  deliveryEnqueueOptions,
  deliveryJobId,
  SMTP_OUT_QUEUE,
  type RetryPolicy,
  type DeliveryJob,
  type OnDelivered,
  type RecipientResult,
} from '../email/smtp-outbound.types.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Storage } from '../database/storage.port.ts';
import { peerRequest, PeerTransportError, type PeerResponse } from './federation.client.ts';
import type { PeerLookup } from './inbox.routes.ts';
import type { PeerInfo } from './peer-directory.ts';

/** Queue 'federation-out': one job per (message, recipient instance, attempt), like 'smtp-out'. */
export const FEDERATION_OUT_QUEUE = 'federation-out';

export interface FederationJob extends DeliveryJob {
  /** Envelope id per recipient address, drawn on the first attempt and kept across retries (SPEC.md §9). */
  envelopeIds?: Record<string, string>;
}

export const federationJobId = (messageId: string, domain: string, attempt: number) =>
  `fed.${messageId}.${domain}.${attempt}`;

export interface FederationWorkerDeps {
  domain: string;
  clock: Clock;
  storage: Storage;
  queue: JobQueue;
  ingest: MessageIngest;
  blobs: BlobStore;
  /** The peer directory as it is now (null: federation off). */
  peers: () => PeerLookup | null;
  signingKey: Ed25519KeyPair;
  /** Our instance certificate, presented as TLS client certificate. */
  clientCert: { certPem: string; keyPem: string };
  retry: RetryPolicy;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  onDelivered?: OnDelivered;
  timeoutMs?: number;
  /** How peers' host names are resolved (peer-host.lookup.ts); the system's resolver when absent. */
  lookup?: LookupFunction;
}

type Outcome = RecipientResult & { response?: PeerResponse; receipt?: string };

const HISTORY_KEPT = 20;
/** Reseal attempts within one delivery attempt (`reseal` answers: prekey rotated, envelope expired). */
const MAX_RESEALS = 2;

/** True when the message is PGP/MIME encrypted (RFC 3156): the envelope says `e2e`. */
function isEncrypted(raw: Buffer): boolean {
  const head = headerSection(raw).toString('latin1');
  return /^content-type:[ \t]*multipart\/encrypted/im.test(head);
}

/**
 * The federation delivery worker (queue 'federation-out', SPEC.md §10, the pattern of smtp-outbound.worker.ts): per
 * recipient at a labelled peer, fetch and verify the peer's prekeys, seal the Sent copy (without Bcc) to the current
 * one, sign the request, POST it to the peer's inbox over pinned TLS with our certificate as client certificate, and
 * verify the receipt, which is recorded on the Sent copy with the delivery. Error answers are acted on as
 * FEDERATION_HTTP_ERRORS says (fail, reseal, retry, done); deferred recipients get a follow-up job with backoff;
 * failures and give-ups bounce to the sender. When the peer's label (or our own) is no longer valid at sending time,
 * nothing is sent over federation and the sender gets a notice saying why (no fallback to email without consent).
 */
/** How long a verified prekey list is reused for further deliveries to the same peer (a `reseal` answer drops it). */
const PREKEY_LIST_REUSE_SECONDS = 60;

export class FederationDeliveryWorker {
  /** Verified prekey lists per peer (domain, signing key and pinned certificate): one fetch serves a burst. */
  private readonly prekeyLists = new Map<string, { prekeys: readonly Prekey[]; fetchedAt: number }>();

  constructor(private readonly deps: FederationWorkerDeps) {}

  start(concurrency: number): Worker {
    return this.deps.queue.process<FederationJob>(FEDERATION_OUT_QUEUE, (job) => this.handle(job.payload), {
      concurrency,
    });
  }

  async handle(job: FederationJob): Promise<void> {
    const { deps } = this;
    const log = { messageId: job.messageId, domain: job.domain, attempt: job.attempt };
    const copy = await readSentCopy(deps, job.accountId, job.messageId);
    if (copy === null) {
      deps.logger.warn(log, 'outbound message no longer stored (deleted by its sender?): federation delivery dropped');
      return;
    }
    const { message, transmitted } = copy;
    const at = deps.clock().toISOString();

    const directory = deps.peers();
    const peer = directory?.peer(job.domain) ?? null;
    const own = directory?.peer(deps.domain) ?? null;
    let refusal: string | null = null;
    if (peer === null) refusal = `${job.domain} is no longer in the registry's feed`;
    else if (!peer.labelValid)
      refusal = `the label of ${job.domain} is no longer valid (${peer.status === 'labelled' ? 'expired' : peer.status})`;
    else if (own === null || !own.labelValid) refusal = `this instance (${deps.domain}) no longer holds a valid label`;
    if (refusal !== null && job.emailFallback === true) {
      // The sender (or the instance's policy) consented: by email instead, through the SMTP queue, as a new delivery.
      deps.logger.info(
        { ...log, recipients: job.recipients.length },
        'federation closed before delivery: falling back to email (consented)',
      );
      const byEmail: DeliveryJob = {
        accountId: job.accountId,
        messageId: job.messageId,
        from: job.from,
        domain: job.domain,
        recipients: job.recipients,
        attempt: 1,
        queuedAt: job.queuedAt,
        history: [],
      };
      await deps.queue.enqueue(
        SMTP_OUT_QUEUE,
        'deliver',
        byEmail,
        deliveryEnqueueOptions(deliveryJobId(job.messageId, job.domain, 1), deps.retry),
      );
      return;
    }
    if (refusal !== null) {
      deps.logger.info(
        { ...log, recipients: job.recipients.length },
        'federation delivery not attempted: label not valid',
      );
      const failed = job.recipients.map((address) => ({
        address,
        outcome: 'failed' as const,
        status: '5.7.0',
        diagnostic: `not sent over the federation: ${refusal}. Nothing was sent; send it again by email if you accept a less private route (or allow it in advance: emailFallback).`,
        smtpReply: null,
        remoteMta: null,
      }));
      await this.bounce(job, message, transmitted, failed);
      return;
    }

    const envelopeIds: Record<string, string> = { ...job.envelopeIds };
    for (const address of job.recipients) envelopeIds[address] ??= newEnvelopeId();
    const e2e = isEncrypted(transmitted);
    const fromLocal = job.from.slice(0, job.from.lastIndexOf('@'));

    const results: Outcome[] = [];
    for (const address of job.recipients) {
      results.push(await this.deliverOne(peer!, address, envelopeIds[address]!, transmitted, e2e, fromLocal));
    }
    const count = (o: RecipientResult['outcome']) => results.filter((r) => r.outcome === o).length;
    deps.logger.info(
      { ...log, delivered: count('delivered'), deferred: count('deferred'), failed: count('failed') },
      'federation delivery attempt',
    );

    const delivered = results.filter((r) => r.outcome === 'delivered');
    if (delivered.length > 0 && deps.onDelivered) {
      const first = delivered.find((r) => r.receipt) ?? delivered.find((r) => r.response) ?? delivered[0]!;
      await deps
        .onDelivered(job.accountId, job.messageId, {
          domain: job.domain,
          via: 'federation',
          tls: first.response?.tls ?? null,
          peer: first.response?.remote ?? null,
          at,
          ...(first.receipt ? { receipt: first.receipt } : {}),
          // The peer's label was checked valid just above; every envelope was sealed to a verified prekey.
          federation: {
            labelValid: peer!.labelValid,
            peerInstancePi: peer!.instancePi,
            sealed: true,
            forwardSecret: true,
            receiptVerified: delivered.every((r) => r.receipt !== undefined),
            e2e,
          },
        })
        .catch((err: unknown) => deps.logger.warn({ ...log, err }, 'could not record the delivery on the Sent copy'));
    }

    const last = job.attempt >= deps.retry.attempts;
    const deferred = results.filter((r) => r.outcome === 'deferred');
    const failed: (RecipientResult & { remoteMta: string | null })[] = results
      .filter((r) => r.outcome === 'failed')
      .map((r) => ({
        address: r.address,
        outcome: r.outcome,
        status: r.status,
        diagnostic: r.diagnostic,
        smtpReply: null,
        remoteMta: r.response?.remote ?? null,
      }));
    const attemptRecord = {
      at,
      remoteMta: results.find((r) => r.response)?.response?.remote ?? null,
      tls: (() => {
        const t = results.find((r) => r.response)?.response?.tls;
        return t ? { ...t, certificateVerified: true } : null;
      })(),
      recipients: results.map(({ address, outcome, status, diagnostic, smtpReply }) => ({
        address,
        outcome,
        status,
        diagnostic,
        smtpReply,
      })),
    };
    if (deferred.length > 0 && !last) {
      const next: FederationJob = {
        ...job,
        recipients: deferred.map((r) => r.address),
        attempt: job.attempt + 1,
        envelopeIds: Object.fromEntries(deferred.map((r) => [r.address, envelopeIds[r.address]!])),
        history: [...job.history, attemptRecord].slice(-HISTORY_KEPT),
      };
      await deps.queue.enqueue(
        FEDERATION_OUT_QUEUE,
        'deliver',
        next,
        deliveryEnqueueOptions(federationJobId(job.messageId, job.domain, next.attempt), deps.retry, job.attempt),
      );
    } else if (deferred.length > 0) {
      for (const r of deferred) {
        failed.push({
          address: r.address,
          outcome: 'failed',
          status: r.status,
          diagnostic: `gave up after ${job.attempt} attempts; last: ${r.diagnostic}`,
          smtpReply: null,
          remoteMta: r.response?.remote ?? null,
        });
      }
    }
    if (failed.length > 0) await this.bounce(job, message, transmitted, failed);
  }

  private async bounce(
    job: FederationJob,
    message: { externalId: string | null; subject: string },
    transmitted: Buffer,
    failed: (RecipientResult & { remoteMta: string | null })[],
  ): Promise<void> {
    const { deps } = this;
    const bounce = buildBounce({
      domain: deps.domain,
      to: job.from,
      original: transmitted,
      originalMessageId: asMessageIdHeader(message.externalId),
      originalSubject: message.subject,
      arrivalDate: new Date(job.queuedAt),
      now: deps.clock(),
      failed,
      attempts: job.attempt,
    });
    await deps.ingest.ingest({
      accountId: job.accountId,
      raw: bounce,
      direction: 'inbound',
      receivedAt: deps.clock(),
      facts: LOCAL_FACTS,
      tags: ['bounce'],
      read: false,
    });
    deps.logger.info(
      { messageId: job.messageId, domain: job.domain, failed: failed.length },
      'federation bounce delivered to the sender',
    );
  }

  private async deliverOne(
    peer: PeerInfo,
    address: string,
    envelopeId: string,
    body: Buffer,
    e2e: boolean,
    fromLocal: string,
  ): Promise<Outcome> {
    const { deps } = this;
    const local = address.slice(0, address.lastIndexOf('@'));
    const base = (peer.endpoints.federation ?? peer.endpoints['https'] ?? '').replace(/\/+$/, '');
    const request = (path: string, method: 'GET' | 'POST', headers: Record<string, string>, bytes?: Uint8Array) =>
      peerRequest({
        url: `${base}${path}`,
        method,
        headers,
        ...(bytes ? { body: bytes } : {}),
        pinSha256: peer.certificateSha256,
        clientCert: deps.clientCert,
        ...(deps.timeoutMs ? { timeoutMs: deps.timeoutMs } : {}),
        ...(deps.lookup ? { lookup: deps.lookup } : {}),
      });
    const deferred = (status: string, diagnostic: string, response?: PeerResponse): Outcome => ({
      address,
      outcome: 'deferred',
      status,
      diagnostic,
      smtpReply: null,
      ...(response ? { response } : {}),
    });
    const failed = (status: string, diagnostic: string, response?: PeerResponse): Outcome => ({
      address,
      outcome: 'failed',
      status,
      diagnostic,
      smtpReply: null,
      ...(response ? { response } : {}),
    });

    for (let seal = 0; seal <= MAX_RESEALS; seal++) {
      const now = Math.floor(deps.clock().getTime() / 1000);
      try {
        // Prekeys: fetched and verified against the feed's signing key for the peer, then the current one chosen. A
        // list verified less than a minute ago is reused while it still has a prekey usable now.
        const cacheKey = `${peer.domain}|${peer.certificateSha256}|${peer.keys.signing.x}`;
        const cached = this.prekeyLists.get(cacheKey);
        let prekey =
          cached && now - cached.fetchedAt < PREKEY_LIST_REUSE_SECONDS && seal === 0
            ? choosePrekey(cached.prekeys, now)
            : undefined;
        if (prekey === undefined) {
          this.prekeyLists.delete(cacheKey);
          const listed = await request(PREKEYS_PATH, 'GET', { accept: 'application/json' });
          if (listed.status !== 200)
            return deferred('4.4.0', `the peer's prekeys are unavailable (HTTP ${listed.status})`, listed);
          let document: unknown;
          try {
            document = JSON.parse(listed.body.toString('utf8'));
          } catch {
            return deferred('4.7.0', "the peer's prekey list is not JSON", listed);
          }
          const prekeys = await verifyPrekeyList(document, {
            signingKeys: [peer.keys.signing],
            expectedDomain: peer.domain,
            now,
          });
          if (!prekeys.ok) return deferred('4.7.0', `the peer's prekeys do not verify (${prekeys.error.code})`, listed);
          prekey = choosePrekey(prekeys.value, now);
          if (prekey === undefined) return deferred('4.7.0', 'the peer publishes no prekey usable now', listed);
          this.prekeyLists.set(cacheKey, { prekeys: prekeys.value, fetchedAt: now });
          if (this.prekeyLists.size > 1024) this.prekeyLists.delete(this.prekeyLists.keys().next().value!);
        }

        const sealed = await sealEnvelope(
          {
            from: { instance: deps.domain, account: fromLocal },
            to: { instance: peer.domain, local },
            contentType: 'message/rfc822',
            body,
            e2e,
            created: now,
            id: envelopeId,
          },
          { prekey, signingKey: deps.signingKey },
        );
        const path = `${new URL(base).pathname.replace(/\/+$/, '')}${INBOX_PATH}`;
        const signature = await signRequest(
          { instance: deps.domain, method: 'POST', path, destination: peer.domain, body: sealed.bytes, created: now },
          deps.signingKey,
        );
        const answer = await request(
          INBOX_PATH,
          'POST',
          { 'content-type': ENVELOPE_MEDIA_TYPE, [REQUEST_SIGNATURE_HEADER]: signature, accept: 'application/json' },
          sealed.bytes,
        );

        let parsed: Record<string, unknown> = {};
        try {
          const value = JSON.parse(answer.body.toString('utf8')) as unknown;
          if (typeof value === 'object' && value !== null && !Array.isArray(value))
            parsed = value as Record<string, unknown>;
        } catch {
          // an answer that is not JSON: handled by its status below
        }
        const checkReceipt = async () => {
          if (typeof parsed['receipt'] !== 'string') return null;
          const verified = await verifyReceipt(parsed['receipt'], {
            signingKeys: [peer.keys.signing],
            expectedEnvelopeId: envelopeId,
            expectedTo: { instance: peer.domain, local },
          });
          return verified.ok ? (parsed['receipt'] as string) : null;
        };
        if (answer.status === 200) {
          const receipt = await checkReceipt();
          if (receipt === null) return deferred('4.7.0', 'the peer answered without a valid receipt', answer);
          return {
            address,
            outcome: 'delivered',
            status: '2.0.0',
            diagnostic: 'delivered over the federation (receipt verified)',
            smtpReply: null,
            response: answer,
            receipt,
          };
        }
        const code = typeof parsed['code'] === 'string' ? parsed['code'] : '';
        const known = Object.hasOwn(FEDERATION_HTTP_ERRORS, code)
          ? FEDERATION_HTTP_ERRORS[code as keyof typeof FEDERATION_HTTP_ERRORS]
          : null;
        const what = `the peer refused it: ${code || `HTTP ${answer.status}`}`;
        if (known === null)
          return answer.status >= 500 || answer.status === 429
            ? deferred('4.4.0', what, answer)
            : failed('5.7.0', what, answer);
        switch (known.senderAction) {
          case 'done': {
            const receipt = await checkReceipt();
            return {
              address,
              outcome: 'delivered',
              status: '2.0.0',
              diagnostic: 'already delivered over the federation',
              smtpReply: null,
              response: answer,
              ...(receipt ? { receipt } : {}),
            };
          }
          case 'reseal':
            // The peer rotated or dropped that prekey: fetch its list again.
            this.prekeyLists.delete(cacheKey);
            if (seal < MAX_RESEALS) continue;
            return deferred('4.7.0', what, answer);
          case 'retry':
            return deferred('4.7.0', what, answer);
          case 'fail':
            return failed(
              code === 'recipient_unknown' ? '5.1.1' : code === 'envelope_oversize' ? '5.3.4' : '5.7.0',
              what,
              answer,
            );
        }
      } catch (error) {
        if (isProtocolError(error)) {
          return error.code === 'envelope_oversize'
            ? failed('5.3.4', 'the message is too large for the federation')
            : deferred('4.7.0', `could not seal: ${error.code}`);
        }
        if (error instanceof PeerTransportError) return deferred(error.pinMismatch ? '4.7.5' : '4.4.1', error.message);
        throw error;
      }
    }
    return deferred('4.7.0', 'the peer kept asking for a new seal');
  }
}
