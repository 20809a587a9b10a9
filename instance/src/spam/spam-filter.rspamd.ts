import { request } from 'undici';
import {
  MAX_SYMBOL_DESCRIPTION,
  MAX_SYMBOL_NAME,
  MAX_SYMBOLS,
  SpamFilterError,
  type LearnClass,
  type LearnOutcome,
  type SpamCheck,
  type SpamEnvelope,
  type SpamFilter,
  type SpamSymbol,
} from './spam-filter.port.ts';

export interface RspamdOptions {
  /** The normal worker (scans): `http://127.0.0.1:11333`. */
  url: string;
  /** The controller (learns): `http://127.0.0.1:11334`; null: the filter is never taught. */
  controllerUrl: string | null;
  /** The controller's password (sent as its `Password` header); null: none (a controller trusting our address). */
  password: string | null;
  /** One request (connect, send, answer) takes at most this long. */
  timeoutMs: number;
}

/** An answer larger than this is not rspamd's (a scan result is a few kilobytes). */
const MAX_ANSWER_BYTES = 1024 * 1024;

const SYMBOL_NAME = /^[A-Za-z0-9_.:-]+$/;

/** One header value as rspamd may take it: no line breaks, no control characters, bounded. */
function headerValue(v: string): string | null {
  const s = v.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 512);
  return s === '' ? null : s;
}

/**
 * The rspamd adapter: `POST /checkv2` on the normal worker with the message and its envelope in headers (`IP`,
 * `Helo`, `From`, `Rcpt`), `POST /learnspam` / `/learnham` on the controller with its password. Every answer is read
 * with a size bound and checked against the protocol's shape before anything of it is used.
 */
export class RspamdSpamFilter implements SpamFilter {
  readonly name = 'rspamd';
  readonly canLearn: boolean;

  constructor(private readonly options: RspamdOptions) {
    this.canLearn = options.controllerUrl !== null;
  }

  async check(raw: Buffer, envelope: SpamEnvelope = {}): Promise<SpamCheck> {
    const headers: Record<string, string | string[]> = { 'content-type': 'message/rfc822' };
    const ip = envelope.clientIp ? headerValue(envelope.clientIp) : null;
    if (ip) headers['ip'] = ip;
    const helo = envelope.helo ? headerValue(envelope.helo) : null;
    if (helo) headers['helo'] = helo;
    if (envelope.mailFrom !== undefined && envelope.mailFrom !== null)
      headers['from'] = headerValue(envelope.mailFrom) ?? '<>';
    const rcpts = (envelope.recipients ?? []).flatMap((r) => headerValue(r) ?? []).slice(0, 100);
    if (rcpts.length > 0) headers['rcpt'] = rcpts;
    const { status, body } = await this.post(this.options.url, '/checkv2', raw, headers);
    if (status !== 200) throw new SpamFilterError('bad-answer', `rspamd /checkv2 answered HTTP ${status}`);
    return parseCheck(body);
  }

  async learn(raw: Buffer, as: LearnClass): Promise<LearnOutcome> {
    const controller = this.options.controllerUrl;
    if (controller === null) throw new SpamFilterError('refused', 'no rspamd controller is configured');
    const headers: Record<string, string> = { 'content-type': 'message/rfc822' };
    if (this.options.password !== null) headers['password'] = this.options.password;
    const { status, body } = await this.post(controller, as === 'spam' ? '/learnspam' : '/learnham', raw, headers);
    if (status === 208) return 'already-learned';
    if (status === 204) return 'skipped';
    if (status === 401 || status === 403)
      throw new SpamFilterError('refused', `rspamd controller refused the lesson (HTTP ${status}): check the password`);
    if (status !== 200) throw new SpamFilterError('bad-answer', `rspamd controller answered HTTP ${status}`);
    const answer = parseJson(body);
    if (answer === null || typeof answer !== 'object' || (answer as { success?: unknown }).success !== true)
      throw new SpamFilterError('bad-answer', 'rspamd controller answered 200 without success');
    return 'learned';
  }

  private async post(
    base: string,
    path: string,
    raw: Buffer,
    headers: Record<string, string | string[]>,
  ): Promise<{ status: number; body: Buffer }> {
    const { timeoutMs } = this.options;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await request(new URL(path, base), {
        method: 'POST',
        headers,
        body: raw,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_ANSWER_BYTES) {
          res.body.destroy();
          throw new SpamFilterError('bad-answer', `rspamd answered more than ${MAX_ANSWER_BYTES} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      return { status: res.statusCode, body: Buffer.concat(chunks) };
    } catch (e) {
      if (e instanceof SpamFilterError) throw e;
      const err = e as Error & { code?: string };
      if (signal.aborted || err.name === 'TimeoutError' || /timeout/i.test(err.code ?? ''))
        throw new SpamFilterError('timeout', `rspamd did not answer within ${timeoutMs} ms`);
      throw new SpamFilterError('unavailable', `rspamd unreachable: ${err.code ?? err.name}`);
    }
  }
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A `/checkv2` answer, checked: a finite score, an action word, symbols as rspamd gives them (others dropped). */
export function parseCheck(body: Buffer): SpamCheck {
  const answer = parseJson(body);
  if (answer === null || typeof answer !== 'object' || Array.isArray(answer))
    throw new SpamFilterError('bad-answer', 'rspamd answered something that is not a JSON object');
  const a = answer as Record<string, unknown>;
  if (!finite(a.score) || Math.abs(a.score) > 1e6)
    throw new SpamFilterError('bad-answer', 'rspamd answered without a usable score');
  if (typeof a.action !== 'string' || a.action.length > 64 || !/^[a-z ]+$/.test(a.action))
    throw new SpamFilterError('bad-answer', 'rspamd answered without a usable action');
  const symbols: SpamSymbol[] = [];
  const raw = a.symbols;
  if (raw !== undefined && (raw === null || typeof raw !== 'object' || Array.isArray(raw)))
    throw new SpamFilterError('bad-answer', 'rspamd answered symbols that are not an object');
  for (const [key, value] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    if (value === null || typeof value !== 'object') continue;
    const s = value as Record<string, unknown>;
    const name = typeof s.name === 'string' ? s.name : key;
    if (name.length > MAX_SYMBOL_NAME || !SYMBOL_NAME.test(name) || !finite(s.score)) continue;
    const description =
      typeof s.description === 'string'
        ? s.description.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, MAX_SYMBOL_DESCRIPTION)
        : null;
    symbols.push({ name, score: s.score, description });
  }
  symbols.sort((x, y) => Math.abs(y.score) - Math.abs(x.score) || x.name.localeCompare(y.name));
  return { score: a.score, action: a.action, symbols: symbols.slice(0, MAX_SYMBOLS) };
}
