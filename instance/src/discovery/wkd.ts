import { request } from 'node:https';
import type { FastifyPluginAsync } from 'fastify';
import { parseMailAddress, wkdHash, wkdLocalPart } from './key-names.ts';
import type { LocalPartIndex } from './local-part.directory.ts';
import type { PublishedKeySource } from './published-keys.port.ts';

export { wkdHash, zBase32 } from './key-names.ts';

/**
 * OpenPGP Web Key Directory (draft-koch-openpgp-webkey-service): keys by mail address over HTTPS.
 *
 * Served (on the public HTTPS face, presenting the instance certificate):
 * - direct method: `GET /.well-known/openpgpkey/hu/<hash>[?l=<local part>]` and `GET /.well-known/openpgpkey/policy`;
 * - advanced method paths too (`/.well-known/openpgpkey/<domain>/hu/<hash>`, `.../<domain>/policy`), for an
 *   operator who points `openpgpkey.<domain>` at this face with a certificate covering that name. The instance's
 *   own zone does not publish `openpgpkey.<domain>`, so clients use the direct method.
 * `<hash>` is the z-base-32 of the SHA-1 of the local part with ASCII capitals lowercased. The answer is the binary
 * key (`application/octet-stream`), 404 when nothing is published, with `Access-Control-Allow-Origin: *` (the draft
 * asks for it, so web mail clients can fetch keys). The `l` parameter is only a hint: it is used when it hashes to
 * `<hash>`, otherwise the hash is looked up among the instance's usernames.
 */

export interface WkdRoutesOptions {
  domain: string;
  keys: PublishedKeySource;
  localParts: LocalPartIndex;
}

const HASH = /^[ybndrfg8ejkmcpqxot1uwisza345h769]{32}$/;

export function wkdRoutes(options: WkdRoutesOptions): FastifyPluginAsync {
  const domain = options.domain.toLowerCase();
  return async (app) => {
    const cors = { 'access-control-allow-origin': '*', 'cache-control': 'max-age=300' };
    const policy = async (_request: unknown, reply: import('fastify').FastifyReply) =>
      // An empty policy file says "WKD is served here, no special policy" (the draft's flags are all optional).
      reply.headers(cors).type('text/plain; charset=utf-8').send('');
    const key = async (hash: string, hint: string | undefined, reply: import('fastify').FastifyReply) => {
      reply.headers(cors);
      const bytes = HASH.test(hash) ? await keyFor(hash, hint) : null;
      if (bytes === null || bytes.length === 0)
        return reply.code(404).type('text/plain; charset=utf-8').send('no key published for this address\n');
      return reply.type('application/octet-stream').send(Buffer.from(bytes));
    };
    const keyFor = async (hash: string, hint: string | undefined): Promise<Uint8Array | null> => {
      const local =
        hint !== undefined && hint.length <= 64 && wkdHash(hint) === hash
          ? wkdLocalPart(hint)
          : await options.localParts.byWkdHash(hash);
      return local === null ? null : options.keys.publicKeyOf(local);
    };
    const hashParams = {
      type: 'object',
      properties: { hash: { type: 'string', maxLength: 64 } },
      required: ['hash'],
    } as const;
    const domainHashParams = {
      type: 'object',
      properties: { domain: { type: 'string', maxLength: 253 }, hash: { type: 'string', maxLength: 64 } },
      required: ['domain', 'hash'],
    } as const;
    const query = { type: 'object', properties: { l: { type: 'string', maxLength: 256 } } } as const;

    app.get('/.well-known/openpgpkey/policy', { config: { access: 'public' } }, policy);
    app.get<{ Params: { hash: string }; Querystring: { l?: string } }>(
      '/.well-known/openpgpkey/hu/:hash',
      { config: { access: 'public' }, schema: { params: hashParams, querystring: query } },
      (request, reply) => key(request.params.hash, request.query.l, reply),
    );
    app.get<{ Params: { domain: string } }>(
      '/.well-known/openpgpkey/:domain/policy',
      {
        config: { access: 'public' },
        schema: {
          params: { type: 'object', properties: { domain: { type: 'string', maxLength: 253 } }, required: ['domain'] },
        },
      },
      (request, reply) =>
        request.params.domain.toLowerCase() === domain ? policy(request, reply) : reply.code(404).send(''),
    );
    app.get<{ Params: { domain: string; hash: string }; Querystring: { l?: string } }>(
      '/.well-known/openpgpkey/:domain/hu/:hash',
      { config: { access: 'public' }, schema: { params: domainHashParams, querystring: query } },
      (request, reply) =>
        request.params.domain.toLowerCase() === domain
          ? key(request.params.hash, request.query.l, reply)
          : reply.code(404).headers(cors).send(''),
    );
  };
}

export type WkdErrorCode =
  | 'wkd_invalid_address'
  | 'wkd_timeout'
  | 'wkd_network'
  | 'wkd_tls'
  | 'wkd_http_status'
  | 'wkd_too_large'
  | 'wkd_empty';

export interface WkdLookupOptions {
  /** Deadline of the whole lookup (default 5000 ms). */
  timeoutMs?: number;
  /** Largest key accepted (default 64 KiB): a larger body is cut off and refused. */
  maxBytes?: number;
  /** Certificates (PEM) trusted instead of the system's CAs: a test CA, or one self-signed certificate pinned. */
  ca?: string | string[];
  /** `host -> host:port` to connect to instead of resolving the host (loopback tests); TLS still checks the name. */
  connectTo?: Record<string, string>;
  /** `direct` (default), or `advanced` first and `direct` only when `openpgpkey.<domain>` does not resolve. */
  method?: 'direct' | 'advanced';
}

export interface WkdLookup {
  /** The key bytes as served (binary transferable public key, unparsed), null when none. */
  key: Uint8Array | null;
  /** The URL asked last. */
  url: string | null;
  status: number | null;
  error: { code: WkdErrorCode; message: string } | null;
}

/** The direct and advanced URLs of an address's key. */
export function wkdUrls(address: string): { direct: string; advanced: string } | null {
  const parsed = parseMailAddress(address);
  if (parsed === null) return null;
  const hash = wkdHash(parsed.localPart);
  const l = `?l=${encodeURIComponent(parsed.localPart)}`;
  return {
    direct: `https://${parsed.domain}/.well-known/openpgpkey/hu/${hash}${l}`,
    advanced: `https://openpgpkey.${parsed.domain}/.well-known/openpgpkey/${parsed.domain}/hu/${hash}${l}`,
  };
}

/** Looks a correspondent's key up by WKD. Never throws: failures are in `error`; "no key" is `key: null` alone. */
export async function lookupWkd(address: string, options: WkdLookupOptions = {}): Promise<WkdLookup> {
  const urls = wkdUrls(address);
  if (urls === null)
    return {
      key: null,
      url: null,
      status: null,
      error: { code: 'wkd_invalid_address', message: `"${String(address).slice(0, 80)}" is not a mail address.` },
    };
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  if (options.method === 'advanced') {
    const advanced = await fetchKey(urls.advanced, options, deadline);
    // Only a sub-domain that does not exist sends the client to the direct method (an unreachable one does not).
    if (!(advanced.error?.code === 'wkd_network' && /ENOTFOUND/.test(advanced.error.message))) return advanced;
  }
  return fetchKey(urls.direct, options, deadline);
}

function fetchKey(url: string, options: WkdLookupOptions, deadline: number): Promise<WkdLookup> {
  const maxBytes = options.maxBytes ?? 64 * 1024;
  const target = new URL(url);
  const override = options.connectTo?.[target.hostname];
  const [connectHost, connectPort] = override ? splitHostPort(override) : [target.hostname, 443];
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: Omit<WkdLookup, 'url'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...result, url });
    };
    const fail = (code: WkdErrorCode, message: string, status: number | null = null) =>
      finish({ key: null, status, error: { code, message } });
    const timer = setTimeout(
      () => fail('wkd_timeout', `No complete answer from ${target.host} within the deadline.`),
      Math.max(0, deadline - Date.now()),
    );
    const req = request(
      {
        host: connectHost,
        port: connectPort,
        path: `${target.pathname}${target.search}`,
        method: 'GET',
        servername: target.hostname,
        headers: { host: target.hostname, accept: 'application/octet-stream' },
        ...(options.ca ? { ca: options.ca } : {}),
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status === 404) {
          res.resume();
          finish({ key: null, status, error: null });
          return;
        }
        if (status !== 200) {
          res.resume();
          fail('wkd_http_status', `${target.host} answered HTTP ${status} (redirects are not followed).`, status);
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          fail(
            'wkd_too_large',
            `The key from ${target.host} is ${declared} bytes; at most ${maxBytes} are accepted.`,
            status,
          );
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            fail('wkd_too_large', `The key from ${target.host} is larger than ${maxBytes} bytes.`, status);
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error) =>
          fail('wkd_network', `Reading the key from ${target.host} failed: ${error.message}.`, status),
        );
        res.on('end', () => {
          if (size === 0) fail('wkd_empty', `${target.host} answered 200 with an empty body.`, status);
          else finish({ key: new Uint8Array(Buffer.concat(chunks)), status, error: null });
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      const tls = /CERT|SSL|TLS|self.signed|altnames|unable to verify/i.test(`${error.code ?? ''} ${error.message}`);
      fail(
        tls ? 'wkd_tls' : 'wkd_network',
        `${tls ? 'TLS with' : 'Connecting to'} ${target.host} failed: ${error.code ?? ''} ${error.message}`.trim(),
      );
    });
    req.end();
  });
}

function splitHostPort(value: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value);
  if (!m) return [value, 443];
  return [m[1]!, Number(m[2])];
}
