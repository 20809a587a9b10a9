import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import {
  checkRequestDigest,
  verifyRequestHeader,
  REQUEST_SIGNATURE_HEADER,
  type Ed25519PublicJwk,
  type FederationHttpErrorCode,
  type VerifiedRequest,
} from '@caliopen/federation-protocol';
import type { FastifyRequest } from 'fastify';
import type { PeerInfo } from './peer-directory.ts';

/** What the federation needs of the peer directory (PeerDirectory implements it; tests may hand a stand-in). */
export interface PeerLookup {
  peer(domain: string): PeerInfo | null;
}

/** SHA-256 of the DER of the TLS client certificate of a request, lowercase hex, or null without one. */
export function clientCertificateSha256(request: FastifyRequest): string | null {
  return peerCertificateSha256(request.raw.socket as TLSSocket);
}

/**
 * SHA-256 of the DER of a TLS socket's peer certificate, lowercase hex; null on a socket that is not TLS, before the
 * handshake, or without a certificate. (`getPeerCertificate`, not `getPeerX509Certificate`: on kept-alive TLS 1.3
 * connections the latter returned nothing where the former still had the certificate.)
 */
export function peerCertificateSha256(socket: TLSSocket): string | null {
  if (typeof socket.getPeerCertificate !== 'function') return null;
  const known = fingerprints.get(socket);
  if (known !== undefined) return known;
  const cert = socket.getPeerCertificate();
  if (!cert || !Buffer.isBuffer(cert.raw) || cert.raw.length === 0) return null;
  const fingerprint = createHash('sha256').update(cert.raw).digest('hex');
  // A kept-alive connection carries many requests, and Node builds the whole certificate as an object at each
  // getPeerCertificate: the fingerprint is kept with the socket. Only under TLS 1.3, which has no renegotiation; under
  // TLS 1.2 a renegotiation could bring another certificate on the same socket.
  if (socket.getProtocol?.() === 'TLSv1.3') fingerprints.set(socket, fingerprint);
  return fingerprint;
}

/** Peer certificate fingerprints of live TLS 1.3 sockets (peerCertificateSha256), gone with their socket. */
const fingerprints = new WeakMap<TLSSocket, string>();

export type PeerAuthentication =
  | { ok: true; domain: string; peer: PeerInfo; verified: VerifiedRequest }
  /** `domain`: the signer, once the request signature verified (for logs). */
  | { ok: false; code: FederationHttpErrorCode; message: string; domain: string | null };

/**
 * Authenticates a request from a peer instance (SPEC.md §6, the inbox's steps 2 to 4) from its headers and TLS alone,
 * before any body is read: the request signature (destination = us, keys from the peer directory; not yet the body
 * digest), then a valid label now, then the TLS client certificate against the feed's fingerprint for the signer. The
 * caller then reads the body (capped) and checks it with checkRequestDigest: an anonymous or unknown client never
 * makes the instance buffer a body.
 */
export async function authenticatePeerHeader(
  request: FastifyRequest,
  deps: { domain: string; now: number; peers: () => PeerLookup | null },
): Promise<PeerAuthentication> {
  const keysOf = (peerDomain: string): readonly Ed25519PublicJwk[] | undefined => {
    const peer = deps.peers()?.peer(peerDomain);
    return peer ? peer.signingKeys : undefined;
  };
  const verified = await verifyRequestHeader(
    { method: request.method, path: request.url, signature: request.headers[REQUEST_SIGNATURE_HEADER] },
    { expectedDestination: deps.domain, now: deps.now, keysOf },
  );
  if (!verified.ok)
    return {
      ok: false,
      code: verified.error.code as FederationHttpErrorCode,
      message: verified.error.message,
      domain: null,
    };
  const domain = verified.value.instance;
  const peer = deps.peers()?.peer(domain) ?? null;
  if (peer === null)
    return { ok: false, code: 'peer_unknown', message: `The feed lists no instance "${domain}".`, domain };
  if (!peer.labelValid)
    return {
      ok: false,
      code: 'peer_not_labelled',
      message: `"${domain}" holds no valid label (${peer.status}).`,
      domain,
    };
  const presented = clientCertificateSha256(request);
  if (presented === null || presented !== peer.certificateSha256.toLowerCase()) {
    return {
      ok: false,
      code: 'peer_certificate_mismatch',
      message:
        presented === null
          ? 'No TLS client certificate was presented.'
          : `The TLS client certificate is not the one the feed pins for "${domain}".`,
      domain,
    };
  }
  return { ok: true, domain, peer, verified: verified.value };
}

/** authenticatePeerHeader, then the body (already read; empty for a GET) against the signature's digest. */
export async function authenticatePeer(
  request: FastifyRequest,
  body: Uint8Array,
  deps: { domain: string; now: number; peers: () => PeerLookup | null },
): Promise<PeerAuthentication> {
  const auth = await authenticatePeerHeader(request, deps);
  if (!auth.ok) return auth;
  const digest = checkRequestDigest(auth.verified, body);
  if (!digest.ok)
    return {
      ok: false,
      code: digest.error.code as FederationHttpErrorCode,
      message: digest.error.message,
      domain: auth.domain,
    };
  return auth;
}
