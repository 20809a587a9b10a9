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
import { headerSection } from '../mail/compose.mime.ts';
import { peerRequest, PeerTransportError, type PeerResponse } from '../federation/federation.client.ts';
import type { PeerLookup } from '../federation/inbox.routes.ts';
import type { PeerInfo } from '../federation/peer-directory.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { FederationJob } from './delivery.types.ts';
import type { RecipientOutcome, SentCopy, Transport, TransportResult } from './transport.port.ts';

export interface FederationTransportDeps {
  /** The instance domain (the envelope's and the request's sender instance). */
  domain: string;
  clock: Clock;
  /** The peer directory as it is now (null: federation off). */
  peers: () => PeerLookup | null;
  signingKey: Ed25519KeyPair;
  /** Our instance certificate, presented as TLS client certificate. */
  clientCert: { certPem: string; keyPem: string };
  timeoutMs?: number;
  /** How peers' host names are resolved (peer-host.lookup.ts); the system's resolver when absent. */
  lookup?: LookupFunction;
}

type Outcome = RecipientOutcome & { response?: PeerResponse };

/** Reseal attempts within one delivery attempt (`reseal` answers: prekey rotated, envelope expired). */
const MAX_RESEALS = 2;
/** How long a verified prekey list is reused for further deliveries to the same peer (a `reseal` answer drops it). */
const PREKEY_LIST_REUSE_SECONDS = 60;

/** True when the message is PGP/MIME encrypted (RFC 3156): the envelope says `e2e`. */
function isEncrypted(raw: Buffer): boolean {
  const head = headerSection(raw).toString('latin1');
  return /^content-type:[ \t]*multipart\/encrypted/im.test(head);
}

/**
 * The federation as a delivery transport (SPEC.md §10): per recipient at a labelled peer, fetch and verify the peer's
 * prekeys, seal the Sent copy to the current one, sign the request, POST it to the peer's inbox over pinned TLS with
 * our certificate as client certificate, and verify the receipt (recorded with the delivery fact). Error answers are
 * acted on as FEDERATION_HTTP_ERRORS says: `fail` is a permanent refusal (e.g. `recipient_unknown`, bounced at once),
 * `retry` a temporary one, `reseal` seals again, `done` is delivered. When the peer's label (or our own) is no longer
 * valid at sending time nothing is sent: every recipient is refused for good with the reason — or, with the sender's
 * consent (`emailFallback`), the job is rerouted to SMTP.
 */
export class FederationTransport implements Transport<FederationJob> {
  readonly name = 'federation' as const;
  /** Verified prekey lists per peer (domain, signing key and pinned certificate): one fetch serves a burst. */
  private readonly prekeyLists = new Map<string, { prekeys: readonly Prekey[]; fetchedAt: number }>();

  constructor(private readonly deps: FederationTransportDeps) {}

  async attempt(job: FederationJob, copy: SentCopy): Promise<TransportResult<FederationJob>> {
    const { deps } = this;
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
      // The sender (or the instance's policy) consented: by email instead, as a new delivery.
      return {
        kind: 'reroute',
        to: 'smtp',
        reason: 'federation closed before delivery: falling back to email (consented)',
      };
    }
    if (refusal !== null) {
      return {
        kind: 'attempted',
        attempt: {
          at,
          remote: null,
          tls: null,
          fact: null,
          log: { refused: 'label not valid' },
          recipients: job.recipients.map((address) => ({
            kind: 'permanent',
            address,
            status: '5.7.0',
            diagnostic: `not sent over the federation: ${refusal}. Nothing was sent; send it again by email if you accept a less private route (or allow it in advance: emailFallback).`,
            reply: null,
            remote: null,
            code: 'label_not_valid',
          })),
        },
      };
    }

    const envelopeIds: Record<string, string> = { ...job.envelopeIds };
    for (const address of job.recipients) envelopeIds[address] ??= newEnvelopeId();
    const e2e = isEncrypted(copy.transmitted);
    const fromLocal = job.from.slice(0, job.from.lastIndexOf('@'));

    const results: Outcome[] = [];
    for (const address of job.recipients) {
      results.push(await this.deliverOne(peer!, address, envelopeIds[address]!, copy.transmitted, e2e, fromLocal));
    }
    const delivered = results.filter((r) => r.kind === 'delivered');
    const first = delivered.find((r) => r.receipt) ?? delivered.find((r) => r.response) ?? delivered[0];
    const answered = results.find((r) => r.response)?.response;
    return {
      kind: 'attempted',
      attempt: {
        at,
        remote: answered?.remote ?? null,
        tls: answered?.tls ? { ...answered.tls, certificateVerified: true } : null,
        recipients: results.map(({ response: _response, ...outcome }) => outcome),
        fact:
          first === undefined
            ? null
            : {
                domain: job.domain,
                via: 'federation',
                tls: first.response?.tls ?? null,
                peer: first.response?.remote ?? null,
                at,
                ...(first.kind === 'delivered' && first.receipt ? { receipt: first.receipt } : {}),
                // The peer's label was checked valid just above; every envelope was sealed to a verified prekey.
                federation: {
                  labelValid: peer!.labelValid,
                  peerInstancePi: peer!.instancePi,
                  sealed: true,
                  forwardSecret: true,
                  receiptVerified: delivered.every((r) => r.receipt !== undefined),
                  e2e,
                },
              },
        // A retry sends the same envelope ids: the peer recognises what it already has.
        carry: {
          envelopeIds: Object.fromEntries(
            results.filter((r) => r.kind === 'temporary').map((r) => [r.address, envelopeIds[r.address]!]),
          ),
        },
      },
    };
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
    const refused =
      (kind: 'temporary' | 'permanent') =>
      (status: string, diagnostic: string, response?: PeerResponse, code?: string): Outcome => ({
        kind,
        address,
        status,
        diagnostic,
        reply: null,
        remote: response?.remote ?? null,
        ...(code ? { code } : {}),
        ...(response ? { response } : {}),
      });
    const deferred = refused('temporary');
    const failed = refused('permanent');
    const delivered = (diagnostic: string, response: PeerResponse, receipt: string | null): Outcome => ({
      kind: 'delivered',
      address,
      status: '2.0.0',
      diagnostic,
      reply: null,
      remote: response.remote,
      response,
      ...(receipt ? { receipt } : {}),
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
            signingKeys: peer.signingKeys,
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
            signingKeys: peer.signingKeys,
            expectedEnvelopeId: envelopeId,
            expectedTo: { instance: peer.domain, local },
          });
          return verified.ok ? (parsed['receipt'] as string) : null;
        };
        if (answer.status === 200) {
          const receipt = await checkReceipt();
          if (receipt === null) return deferred('4.7.0', 'the peer answered without a valid receipt', answer);
          return delivered('delivered over the federation (receipt verified)', answer, receipt);
        }
        const code = typeof parsed['code'] === 'string' ? parsed['code'] : '';
        const known = Object.hasOwn(FEDERATION_HTTP_ERRORS, code)
          ? FEDERATION_HTTP_ERRORS[code as keyof typeof FEDERATION_HTTP_ERRORS]
          : null;
        const what = `the peer refused it: ${code || `HTTP ${answer.status}`}`;
        if (known === null)
          return answer.status >= 500 || answer.status === 429
            ? deferred('4.4.0', what, answer, code || undefined)
            : failed('5.7.0', what, answer, code || undefined);
        switch (known.senderAction) {
          case 'done': {
            // "Already accepted" counts only with the receipt issued then: without one, the peer may hold the claim of
            // an earlier attempt whose message it never filed (a crash between the two): retried, same envelope id,
            // until a receipt comes (SPEC.md §9; docs/adr/0023-public-face-hardening.md).
            const receipt = await checkReceipt();
            if (receipt === null)
              return deferred('4.7.0', 'the peer says it already accepted it but gave no valid receipt', answer, code);
            return delivered('already delivered over the federation (receipt verified)', answer, receipt);
          }
          case 'reseal':
            // The peer rotated or dropped that prekey: fetch its list again.
            this.prekeyLists.delete(cacheKey);
            if (seal < MAX_RESEALS) continue;
            return deferred('4.7.0', what, answer, code);
          case 'retry':
            return deferred('4.7.0', what, answer, code);
          case 'fail':
            return failed(
              code === 'recipient_unknown' ? '5.1.1' : code === 'envelope_oversize' ? '5.3.4' : '5.7.0',
              what,
              answer,
              code,
            );
        }
      } catch (error) {
        if (isProtocolError(error)) {
          return error.code === 'envelope_oversize'
            ? failed('5.3.4', 'the message is too large for the federation', undefined, error.code)
            : deferred('4.7.0', `could not seal: ${error.code}`, undefined, error.code);
        }
        if (error instanceof PeerTransportError) return deferred(error.pinMismatch ? '4.7.5' : '4.4.1', error.message);
        throw error;
      }
    }
    return deferred('4.7.0', 'the peer kept asking for a new seal');
  }
}
