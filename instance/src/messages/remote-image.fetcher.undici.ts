import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { isPublicAddress } from '@caliopen/platform/net/public-address.policy.ts';
import { AppError } from '../shared/errors.ts';

/**
 * Fetches a remote image of a mail on the reader's behalf (the sender sees the instance, never the reader's address).
 * A URL names a place the *sender* chose, so every hop is treated as hostile (SSRF):
 * - only absolute http(s) URLs, without credentials, on the default or an explicit port;
 * - the host is resolved first, every address must be public (unless allowed by `allowAddresses`, tests only), and
 *   the connection goes to the checked address (a second DNS answer cannot swap it: DNS rebinding);
 * - redirects are followed by hand (at most 3), each one checked the same way;
 * - no cookie, no referrer, no credentials are ever sent; the answer must be a raster image (SVG is a document that
 *   can carry script: refused), at most `maxBytes`, within `timeoutMs` for the whole exchange.
 */
export interface RemoteImageOptions {
  maxBytes: number;
  timeoutMs: number;
  /** Non-public addresses that may be reached anyway (tests only). */
  allowAddresses: readonly string[];
  /** Host name -> addresses (default: the system's resolver). */
  lookup?: (host: string) => Promise<string[]>;
}

export interface RemoteImage {
  contentType: string;
  bytes: Buffer;
}

/** The image types served back (raster only). */
export const RASTER_TYPES = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
  'image/x-icon',
  'image/vnd.microsoft.icon',
]);

const MAX_REDIRECTS = 3;
const MAX_URL_LENGTH = 4096;

/** The URL as a fetchable http(s) URL, or remote_image_url_invalid. */
export function parseRemoteImageUrl(raw: string): URL {
  if (raw.length === 0 || raw.length > MAX_URL_LENGTH)
    throw new AppError('remote_image_url_invalid', `The URL must be 1 to ${MAX_URL_LENGTH} characters long.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('remote_image_url_invalid', 'The URL cannot be parsed as an absolute URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AppError('remote_image_url_invalid', `The scheme ${JSON.stringify(url.protocol)} is not fetched.`);
  if (url.username !== '' || url.password !== '')
    throw new AppError('remote_image_url_invalid', 'URLs with credentials are not fetched.');
  if (url.hostname === '') throw new AppError('remote_image_url_invalid', 'The URL has no host.');
  return url;
}

const systemLookup = async (host: string) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

async function checkedAddress(url: URL, options: RemoteImageOptions): Promise<string> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = await (options.lookup ?? systemLookup)(host);
    } catch {
      throw new AppError('remote_image_unreachable', `The host ${host} does not resolve.`);
    }
    if (addresses.length === 0) throw new AppError('remote_image_unreachable', `The host ${host} has no address.`);
  }
  // Every address must pass: one public answer among private ones would let the connection land on the private one.
  for (const a of addresses)
    if (!isPublicAddress(a) && !options.allowAddresses.includes(a))
      throw new AppError('remote_image_host_forbidden', `${host} points to a non-public address.`);
  return addresses[0]!;
}

export async function fetchRemoteImage(raw: string, options: RemoteImageOptions): Promise<RemoteImage> {
  let url = parseRemoteImageUrl(raw);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  timer.unref();
  try {
    for (let hop = 0; ; hop++) {
      const address = await checkedAddress(url, options);
      // One connection, to the checked address only; the name stays in the URL for Host and TLS (SNI, certificate).
      const agent = new Agent({
        connect: {
          lookup: (_hostname, opts, callback) => {
            const cb = callback as (e: null, a: string | { address: string; family: number }[], f?: number) => void;
            if ((opts as { all?: boolean } | undefined)?.all) cb(null, [{ address, family: isIP(address) }]);
            else cb(null, address, isIP(address));
          },
        },
        connections: 1,
        pipelining: 0,
      });
      try {
        const response = await request(url, {
          method: 'GET',
          dispatcher: agent,
          signal: controller.signal,
          headers: { accept: [...RASTER_TYPES].join(', '), 'user-agent': 'Caliopen image proxy' },
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        });
        if (response.statusCode >= 300 && response.statusCode < 400) {
          await response.body.dump();
          const location = response.headers.location;
          if (typeof location !== 'string' || hop >= MAX_REDIRECTS)
            throw new AppError('remote_image_unreachable', 'Too many redirects, or a redirect without a location.');
          let next: URL;
          try {
            next = new URL(location, url);
          } catch {
            throw new AppError('remote_image_unreachable', 'A redirect names a malformed URL.');
          }
          url = parseRemoteImageUrl(next.href);
          continue;
        }
        if (response.statusCode !== 200) {
          await response.body.dump();
          throw new AppError('remote_image_unreachable', `The image host answered HTTP ${response.statusCode}.`);
        }
        const type = String(response.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim()
          .toLowerCase();
        if (!RASTER_TYPES.has(type)) {
          await response.body.dump();
          throw new AppError('remote_image_not_image', `The answer is ${JSON.stringify(type || 'untyped')}.`);
        }
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > options.maxBytes) {
          response.body.destroy();
          throw new AppError('remote_image_too_large', `The image is ${declared} bytes.`);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of response.body) {
          size += (chunk as Buffer).length;
          if (size > options.maxBytes) {
            response.body.destroy();
            throw new AppError('remote_image_too_large', `The image is over ${options.maxBytes} bytes.`);
          }
          chunks.push(chunk as Buffer);
        }
        return { contentType: type, bytes: Buffer.concat(chunks) };
      } finally {
        void agent.destroy().catch(() => {});
      }
    }
  } catch (e) {
    if (e instanceof AppError) throw e;
    if (controller.signal.aborted || /timeout/i.test((e as Error).name ?? ''))
      throw new AppError('remote_image_timeout', `No image within ${options.timeoutMs} ms.`);
    throw new AppError(
      'remote_image_unreachable',
      `The image host could not be reached (${(e as NodeJS.ErrnoException).code ?? (e as Error).name}).`,
    );
  } finally {
    clearTimeout(timer);
  }
}
