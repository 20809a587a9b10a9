import { Agent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { peerCertificateSha256 } from './peer-auth.ts';

/**
 * HTTPS to a peer instance (SPEC.md §5): the server is authenticated by pinning — its certificate must be exactly the
 * one the feed pins (SHA-256 of the DER), checked once the handshake is done and before any byte of the request is
 * sent; system CAs play no part. Our instance certificate is presented as TLS client certificate. No redirects;
 * answers are bounded.
 */

export interface PeerRequest {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** SHA-256 of the peer certificate's DER, hex. */
  pinSha256: string;
  /** Our instance certificate and key (PEM), presented as client certificate. */
  clientCert: { certPem: string; keyPem: string };
  timeoutMs?: number;
  maxResponseBytes?: number;
  /** How the peer's host name is resolved (peer-host.lookup.ts); the system's resolver when absent. */
  lookup?: LookupFunction;
}

export interface PeerResponse {
  status: number;
  contentType: string;
  /** The `Retry-After` header when the peer gave one (429, 503), as sent. */
  retryAfter?: string;
  body: Buffer;
  /** TLS as negotiated on this connection. */
  tls: { version: string; cipher: string };
  /** host:port reached. */
  remote: string;
}

export class PeerTransportError extends Error {
  constructor(
    message: string,
    readonly pinMismatch = false,
  ) {
    super(message);
    this.name = 'PeerTransportError';
  }
}

/**
 * One keep-alive agent per pinned peer certificate: a delivery's prekey `GET` and inbox `POST`, and the next
 * deliveries, reuse a connection (and new connections resume the TLS session) instead of a full mutual-TLS handshake
 * each. The pin is checked on every request, reused connection or not; connections carrying another client
 * certificate are never shared (the agent's connection key includes it). Idle connections close after 30 s, below
 * the servers' keep-alive timeout, and do not keep the process alive.
 */
const agents = new Map<string, Agent>();
const MAX_AGENTS = 256;

function agentFor(pin: string): Agent {
  let agent = agents.get(pin);
  if (agent === undefined) {
    if (agents.size >= MAX_AGENTS) {
      const [oldest, first] = agents.entries().next().value as [string, Agent];
      first.destroy();
      agents.delete(oldest);
    }
    // No TLS session resumption: a resumed session shows no peer certificate, and the pin is checked on every
    // connection (a peer closes connections after a refusal or an idle keep-alive).
    agent = new Agent({ keepAlive: true, maxSockets: 8, maxFreeSockets: 4, timeout: 30_000, maxCachedSessions: 0 });
    agents.set(pin, agent);
  }
  return agent;
}

/** Closes every kept-alive peer connection (instance shutdown, tests). */
export function closePeerConnections(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

export function peerRequest(options: PeerRequest): Promise<PeerResponse> {
  const url = new URL(options.url);
  if (url.protocol !== 'https:')
    return Promise.reject(new PeerTransportError(`Peers are reached over HTTPS only (${url.protocol}).`));
  const maxBytes = options.maxResponseBytes ?? 256 * 1024;
  const pin = options.pinSha256.toLowerCase();
  return new Promise<PeerResponse>((resolve, reject) => {
    let tls: PeerResponse['tls'] | null = null;
    const req = httpsRequest(
      {
        protocol: 'https:',
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || 443,
        path: `${url.pathname}${url.search}`,
        method: options.method,
        headers: { ...options.headers, ...(options.body ? { 'content-length': String(options.body.byteLength) } : {}) },
        cert: options.clientCert.certPem,
        key: options.clientCert.keyPem,
        minVersion: 'TLSv1.2',
        // Pinning replaces chain validation: checked below, before the request is written.
        rejectUnauthorized: false,
        agent: agentFor(pin),
        ...(options.lookup ? { lookup: options.lookup } : {}),
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new PeerTransportError(`The peer answered more than ${maxBytes} bytes.`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            ...(typeof res.headers['retry-after'] === 'string' ? { retryAfter: res.headers['retry-after'] } : {}),
            body: Buffer.concat(chunks),
            tls: tls ?? { version: 'unknown', cipher: 'unknown' },
            remote: `${url.hostname}:${url.port || 443}`,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new PeerTransportError('The peer did not answer in time.')));
    req.on('error', (err) =>
      reject(
        err instanceof PeerTransportError
          ? err
          : new PeerTransportError(`The peer could not be reached: ${(err as Error).message}`),
      ),
    );
    req.on('socket', (socket) => {
      const s = socket as TLSSocket;
      const checkThenSend = (seen: string | null) => {
        if (seen !== pin) {
          req.destroy(new PeerTransportError('The peer certificate is not the one the feed pins.', true));
          return;
        }
        const cipher = s.getCipher();
        tls = { version: s.getProtocol() ?? 'unknown', cipher: cipher.standardName ?? cipher.name };
        req.end(options.body ? Buffer.from(options.body) : undefined);
      };
      // A kept-alive connection finished its handshake long ago: its certificate is checked at once (read once: Node
      // turns the whole certificate into an object on every call). A new one is checked once its handshake is done.
      const now = peerCertificateSha256(s);
      if (now !== null) checkThenSend(now);
      else s.once('secureConnect', () => checkThenSend(peerCertificateSha256(s)));
    });
  });
}
