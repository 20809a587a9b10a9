import { rootCertificates } from 'node:tls';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { AppError, isAppError } from '../shared/errors.ts';
import type {
  FetchedMessage,
  ImapConnector,
  ImapEndpoint,
  ImapSession,
  OpenedFolder,
  RemoteFolder,
  RemoteMessageSize,
} from '../identities/imap-session.port.ts';
import { resolveImportHost, type Lookup } from './remote-host.policy.ts';
import { toSequenceSet } from './sequence-set.ts';

export interface ImapflowConnectorOptions {
  /** Allow loopback and private addresses (tests, private deployments). */
  allowPrivateHosts: boolean;
  /** Extra trusted CA certificates (PEM), on top of Node's bundled roots. */
  extraCa?: string[];
  /** The largest message literal accepted from the server (bounds memory against a hostile server). */
  maxMessageBytes: number;
  /** Connection and greeting timeout (default 20 s). */
  connectTimeoutMs?: number;
  lookup?: Lookup;
}

const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|HOSTNAME|ALTNAME|EPROTO|handshake/i;
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'GREETING_TIMEOUT',
  'UPGRADE_TIMEOUT',
  'ETIMEOUT',
  'NoConnection',
  'EConnectionClosed',
  'ClosedAfterConnectText',
  'ClosedAfterConnectTLS',
]);

interface ImapflowErrorShape {
  code?: string;
  message?: string;
  authenticationFailed?: boolean;
  tlsFailed?: boolean;
  serverResponseCode?: string;
  responseText?: string;
  _err?: { code?: string; message?: string };
}

/**
 * Turns what imapflow (or the socket under it) threw into a stable imap_* AppError whose detail says what happened
 * without echoing anything the user sent (no username, no password).
 */
export function classifyImapError(err: unknown, where: { host: string; port: number }): AppError {
  if (isAppError(err)) return err;
  const e = (err ?? {}) as ImapflowErrorShape;
  const code = e.code ?? e._err?.code ?? '';
  const text = `${e.message ?? ''} ${e._err?.message ?? ''}`;
  const at = `${where.host}:${where.port}`;
  if (e.authenticationFailed) {
    // Dovecot says [UNAVAILABLE] when its auth backend is down: not the user's password.
    if (e.serverResponseCode === 'UNAVAILABLE')
      return new AppError('imap_unreachable', `${at} cannot check logins right now (temporary failure); retry later.`);
    return new AppError(
      'imap_auth_failed',
      `${at} refused the login${e.serverResponseCode ? ` (${e.serverResponseCode})` : ''}.`,
    );
  }
  if (
    e.tlsFailed ||
    TLS_ERROR.test(code) ||
    /certificate|self[- ]signed|altnames|wrong version number|handshake/i.test(text)
  ) {
    return new AppError(
      'imap_tls_failed',
      `TLS with ${at} failed${code ? ` (${code})` : ''}: check the TLS mode, or ask the operator to trust this server's certificate authority.`,
    );
  }
  if (code === 'ECONNREFUSED') return new AppError('imap_unreachable', `${at} refused the connection.`);
  if (UNREACHABLE.has(code) || /timed? ?out|closed|ECONN/i.test(text)) {
    return new AppError('imap_unreachable', `${at} did not answer as an IMAP server${code ? ` (${code})` : ''}.`);
  }
  if (/STARTTLS/i.test(text))
    return new AppError('imap_tls_failed', `${at} does not offer STARTTLS: choose implicit TLS (usually port 993).`);
  return new AppError('imap_unreachable', `${at} gave an answer that could not be used${code ? ` (${code})` : ''}.`);
}

/** The IMAP connector on imapflow: resolves and checks the host, connects to the checked address, logs in. */
export class ImapflowConnector implements ImapConnector {
  constructor(private readonly options: ImapflowConnectorOptions) {}

  async verify(endpoint: ImapEndpoint): Promise<void> {
    const session = await this.connect(endpoint);
    await session.close();
  }

  async connect(endpoint: ImapEndpoint): Promise<ImapSession> {
    const target = await resolveImportHost(endpoint.host, {
      allowPrivate: this.options.allowPrivateHosts,
      ...(this.options.lookup ? { lookup: this.options.lookup } : {}),
    });
    const timeout = this.options.connectTimeoutMs ?? 20_000;
    const tlsOptions: NonNullable<ImapFlowOptions['tls']> = {
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...(target.servername ? { servername: target.servername } : {}),
      ...(this.options.extraCa?.length ? { ca: [...rootCertificates, ...this.options.extraCa] } : {}),
    };
    const client = new ImapFlow({
      host: target.address,
      port: endpoint.port,
      secure: endpoint.tls === 'implicit',
      doSTARTTLS: endpoint.tls === 'starttls' ? true : endpoint.tls === 'none' ? false : undefined,
      ...(target.servername ? { servername: target.servername } : {}),
      tls: tlsOptions,
      auth: { user: endpoint.username, pass: endpoint.password },
      clientInfo: { name: 'Caliopen', vendor: 'Caliopen' },
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: 5 * 60_000,
      maxLiteralSize: this.options.maxMessageBytes + 64 * 1024,
      maxResponseSize: this.options.maxMessageBytes + 1024 * 1024,
    });
    // Socket errors are also emitted as events: without a listener they would crash the process.
    let lastError: unknown = null;
    client.on('error', (err: unknown) => {
      lastError = err;
    });
    const where = { host: endpoint.host, port: endpoint.port };
    try {
      await client.connect();
    } catch (err) {
      client.close();
      throw classifyImapError(err, where);
    }
    if (endpoint.tls === 'starttls' && !client.secureConnection) {
      client.close();
      throw new AppError(
        'imap_tls_failed',
        `${where.host}:${where.port} did not switch to TLS (no STARTTLS): choose implicit TLS (usually port 993).`,
      );
    }
    return new ImapflowSession(client, where, () => lastError);
  }
}

class ImapflowSession implements ImapSession {
  constructor(
    private readonly client: ImapFlow,
    private readonly where: { host: string; port: number },
    private readonly lastError: () => unknown,
  ) {}

  private fail(err: unknown): never {
    throw classifyImapError(err ?? this.lastError(), this.where);
  }

  async listFolders(): Promise<RemoteFolder[]> {
    try {
      const listed = await this.client.list();
      return listed
        .filter((f) => !f.flags.has('\\Noselect') && !f.flags.has('\\NonExistent'))
        .map((f) => ({ path: f.path, specialUse: f.specialUse ?? null }));
    } catch (err) {
      this.fail(err);
    }
  }

  async withFolder<T>(path: string, fn: (folder: OpenedFolder) => Promise<T>): Promise<T> {
    let lock;
    try {
      lock = await this.client.getMailboxLock(path, { readOnly: true });
    } catch (err) {
      this.fail(err);
    }
    try {
      const mailbox = this.client.mailbox;
      if (!mailbox) this.fail(new Error(`folder ${path} did not open`));
      return await fn({
        uidValidity: mailbox.uidValidity.toString(),
        uidNext: mailbox.uidNext,
        exists: mailbox.exists,
      });
    } finally {
      lock.release();
    }
  }

  async uidsFrom(fromUid: number): Promise<number[]> {
    try {
      const found = await this.client.search({ uid: `${fromUid}:*` }, { uid: true });
      // `n:*` always matches the last message, even below n.
      return (Array.isArray(found) ? found : []).filter((u) => u >= fromUid).sort((a, b) => a - b);
    } catch (err) {
      this.fail(err);
    }
  }

  async sizes(uids: readonly number[]): Promise<RemoteMessageSize[]> {
    if (uids.length === 0) return [];
    try {
      const out: RemoteMessageSize[] = [];
      for await (const m of this.client.fetch(toSequenceSet(uids), { uid: true, size: true }, { uid: true })) {
        out.push({ uid: m.uid, size: m.size ?? 0 });
      }
      return out;
    } catch (err) {
      this.fail(err);
    }
  }

  async *fetch(uids: readonly number[]): AsyncIterable<FetchedMessage> {
    if (uids.length === 0) return;
    try {
      for await (const m of this.client.fetch(
        toSequenceSet(uids),
        { uid: true, source: true, flags: true, internalDate: true },
        { uid: true },
      )) {
        if (!m.source) continue;
        const internalDate =
          m.internalDate instanceof Date
            ? m.internalDate
            : typeof m.internalDate === 'string'
              ? new Date(m.internalDate)
              : null;
        yield {
          uid: m.uid,
          source: m.source,
          flags: m.flags ?? new Set(),
          internalDate: internalDate && !Number.isNaN(internalDate.getTime()) ? internalDate : null,
        };
      }
    } catch (err) {
      this.fail(err);
    }
  }

  async close(): Promise<void> {
    try {
      await this.client.logout();
    } catch {
      this.client.close();
    }
  }
}
