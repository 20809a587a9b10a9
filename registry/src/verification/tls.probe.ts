import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { VerificationOptions, VerificationTarget } from './check.types.ts';

/**
 * The registry's two ways of talking to an instance over TLS. Neither trusts the system CAs: instances may use
 * self-signed certificates, and what the registry vouches for is the certificate the application declared.
 * - `probeTls`: a handshake that records what the endpoint presents (certificate, protocol) and sends nothing.
 * - `pinnedGet`: an HTTPS GET that first checks the peer presents the pinned certificate (SHA-256 of its DER) and
 *   only then writes the request; the body is capped, redirects are not followed.
 */

export interface TlsEndpoint {
  readonly host: string;
  readonly port: number;
  /** SNI and the name the endpoint is reached as. */
  readonly servername: string;
}

export interface TlsProbe {
  /** SHA-256 of the DER of the certificate the endpoint presented, lowercase hex. */
  readonly fingerprintSha256: string;
  /** `TLSv1.3`, `TLSv1.2`... */
  readonly protocol: string;
}

export interface HttpsResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Where to reach the instance for `servername`: `connectTo` if set, else that name, on the port of `httpsUrl`. */
export function endpointFor(target: VerificationTarget, options: VerificationOptions, servername: string): TlsEndpoint {
  const url = httpsBaseUrl(target);
  const port = url.port === '' ? 443 : Number(url.port);
  return {
    host: options.connectTo?.host ?? servername,
    port: options.connectTo?.port ?? port,
    servername,
  };
}

/** The application's HTTPS base URL, refused unless it is `https:` without credentials, query or fragment. */
export function httpsBaseUrl(target: VerificationTarget): URL {
  let url: URL;
  try {
    url = new URL(target.httpsUrl);
  } catch {
    throw new Error(`the HTTPS URL "${String(target.httpsUrl).slice(0, 200)}" does not parse`);
  }
  if (url.protocol !== 'https:') throw new Error(`the HTTPS URL ${url.href} is not https://`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new Error(`the HTTPS URL ${url.href} must have no credentials, query or fragment`);
  }
  return url;
}

/** `<httpsUrl>/<path>`, keeping a base path if the URL has one. */
export function urlUnder(target: VerificationTarget, path: string): URL {
  const base = httpsBaseUrl(target);
  return new URL(`${base.pathname.replace(/\/+$/, '')}${path}`, base.origin);
}

function connectTls(endpoint: TlsEndpoint, timeoutMs: number, signal?: AbortSignal): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('cancelled'));
      return;
    }
    const where = `${endpoint.host}:${endpoint.port}`;
    const socket = tlsConnect({
      host: endpoint.host,
      port: endpoint.port,
      // RFC 6066: SNI carries host names only.
      ...(isIP(endpoint.servername) === 0 ? { servername: endpoint.servername } : {}),
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
      minVersion: 'TLSv1.2',
    });
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const failWith = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = () => failWith(new Error(`TLS connection to ${where} cancelled`));
    const timer = setTimeout(
      () => failWith(new Error(`no TLS handshake with ${where} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (error) => failWith(new Error(`TLS connection to ${where} failed: ${error.message}`)));
    socket.once('secureConnect', () => {
      cleanup();
      resolve(socket);
    });
  });
}

function presented(socket: TLSSocket): { fingerprintSha256: string; protocol: string } {
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) throw new Error('the endpoint presented no certificate');
  return {
    fingerprintSha256: createHash('sha256').update(certificate.raw).digest('hex'),
    protocol: socket.getProtocol() ?? 'unknown',
  };
}

/** A TLS handshake with the endpoint (SNI = servername); reports what it presented, then closes. */
export async function probeTls(
  endpoint: TlsEndpoint,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<TlsProbe> {
  const socket = await connectTls(endpoint, options.timeoutMs, options.signal);
  try {
    return presented(socket);
  } finally {
    socket.destroy();
  }
}

/** Raised when the endpoint presents another certificate than the pinned one: nothing was sent to it. */
export class PinMismatchError extends Error {
  override readonly name = 'PinMismatchError';
  readonly presentedSha256: string;

  constructor(where: string, presentedSha256: string, pinnedSha256: string) {
    super(
      `${where} presented certificate SHA-256 ${presentedSha256}, not the declared ${pinnedSha256}; nothing was sent`,
    );
    this.presentedSha256 = presentedSha256;
  }
}

/**
 * GET `url` from `endpoint` over TLS pinned to `pinSha256`. Resolves with the status, headers and body of any
 * answer (a 404 is an answer); rejects on a pin mismatch, a body over `maxBytes`, the deadline or a network error.
 */
export async function pinnedGet(
  url: URL,
  options: { endpoint: TlsEndpoint; pinSha256: string; maxBytes: number; timeoutMs: number; signal?: AbortSignal },
): Promise<HttpsResponse> {
  const { endpoint, pinSha256, maxBytes, timeoutMs, signal } = options;
  const deadline = Date.now() + timeoutMs;
  const socket = await connectTls(endpoint, timeoutMs, signal);
  const seen = presented(socket);
  if (seen.fingerprintSha256 !== pinSha256.toLowerCase()) {
    socket.destroy();
    throw new PinMismatchError(
      `${endpoint.host}:${endpoint.port} (SNI ${endpoint.servername})`,
      seen.fingerprintSha256,
      pinSha256,
    );
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error: Error | undefined, response?: HttpsResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(response!);
    };
    const onAbort = () => {
      request.destroy();
      settle(new Error(`GET ${url.href} cancelled`));
    };
    const timer = setTimeout(
      () => {
        request.destroy();
        settle(new Error(`GET ${url.href}: no complete answer within ${timeoutMs} ms`));
      },
      Math.max(0, deadline - Date.now()),
    );
    const request = httpRequest({
      createConnection: () => socket,
      method: 'GET',
      host: url.hostname,
      port: endpoint.port,
      path: `${url.pathname}${url.search}`,
      headers: { host: url.host, accept: '*/*', 'user-agent': 'caliopen-registry-verifier/1', connection: 'close' },
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error) => settle(new Error(`GET ${url.href} failed: ${error.message}`)));
    request.on('response', (response) => {
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        response.destroy();
        settle(
          new Error(`GET ${url.href}: the answer announces ${declared} bytes, more than the ${maxBytes} accepted`),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          response.destroy();
          settle(new Error(`GET ${url.href}: the answer is longer than the ${maxBytes} bytes accepted`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', (error) => settle(new Error(`GET ${url.href} failed while reading: ${error.message}`)));
      response.on('end', () =>
        settle(undefined, { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
    request.end();
  });
}
