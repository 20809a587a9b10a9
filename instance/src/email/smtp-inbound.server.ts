import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { TlsFacts } from '../mail/message.facts.ts';
import type { SpamEnvelope } from '../spam/spam-filter.port.ts';
import type { SpamScreening } from '../spam/spam.verdict.ts';
import type { InboundSpool, SpoolRecipient } from './inbound-spool.port.ts';
import { ClientLimits } from './smtp-inbound.limits.ts';
import type { RecipientResolver } from './smtp-inbound.recipients.ts';

/**
 * The inbound MX: an SMTP server (smtp-server) that takes mail for the instance's accounts and answers `250` only
 * after the message is durably in the spool. No AUTH: this is the receiving side only (submission by users goes
 * through the API). STARTTLS with the instance certificate; what TLS was actually negotiated is recorded per message.
 */
export interface SmtpInboundOptions {
  host: string;
  port: number;
  /** The instance domain: greeting and HELO name, the only domain mail is accepted for. */
  domain: string;
  maxMessageBytes: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  messagesPerMinutePerIp: number;
  /** The instance certificate; without it STARTTLS is not offered. */
  tls: { certPem: string; keyPem: string } | null;
  spool: Pick<InboundSpool, 'append'>;
  recipients: RecipientResolver;
  logger: SmtpLog;
  /** Idle time before a silent client is disconnected. */
  socketTimeoutMs?: number;
  /** On close, how long open sessions may take to finish before they are cut. */
  closeTimeoutMs?: number;
  onAccepted?: (bytes: number) => void;
  onRejected?: (reason: string) => void;
  /**
   * The spam filter's look at each message before it is spooled (spam/spam.service.ts): far beyond junk it is refused
   * with the given 5xx; otherwise its verdict (or `unchecked`) is spooled with it. Absent: no filter, as before.
   */
  spam?: { screen(raw: Buffer, envelope: SpamEnvelope): Promise<SpamScreening> };
}

/** What the server logs through (a pino logger, or the SMTP thread's, which hands each record to the main thread). */
export interface SmtpLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Max recipients per transaction (RFC 5321 §4.5.3.1.8 asks servers to accept at least 100). */
const MAX_RECIPIENTS = 100;
/** A reply text that carries its own enhanced status code (RFC 3463), e.g. "5.1.1 <x@y>: no such user here". */
const OWN_ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;
// eslint-disable-next-line no-control-regex
const CONTROL_OR_INVALID = /[\x00-\x1f\x7f\ufffd]/;
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

interface SessionState {
  counted: boolean;
  tls: TlsFacts | null;
  /** accountId of each accepted RCPT of the current transaction, by lowercased address. */
  accounts: Map<string, string>;
}

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

export class SmtpInboundServer {
  private readonly server: SMTPServer;
  private readonly limits: ClientLimits;
  private readonly sessions = new WeakMap<SMTPServerSession, SessionState>();
  private address: AddressInfo | null = null;

  constructor(private readonly options: SmtpInboundOptions) {
    this.limits = new ClientLimits(options);
    const log = options.logger;
    this.server = new SMTPServer({
      name: options.domain,
      banner: 'Caliopen',
      heloResponse: '%s greets %s',
      size: options.maxMessageBytes,
      maxClients: options.maxConnections,
      maxRecipients: MAX_RECIPIENTS,
      authOptional: true,
      disabledCommands: options.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      hideENHANCEDSTATUSCODES: false,
      hideDSN: true,
      hideREQUIRETLS: true,
      socketTimeout: options.socketTimeoutMs ?? 120_000,
      closeTimeout: options.closeTimeoutMs ?? 10_000,
      ...(options.tls ? { key: options.tls.keyPem, cert: options.tls.certPem } : {}),
      // Nothing here uses the client's reverse DNS name (SPF does its own lookups): no lookup, no wait on DNS.
      disableReverseLookup: true,
      logger: false,
      onConnect: (session, callback) => this.onConnect(session, callback),
      onSecure: (socket, session, callback) => {
        const tlsSocket = socket as TLSSocket;
        const version = typeof tlsSocket.getProtocol === 'function' ? tlsSocket.getProtocol() : null;
        const cipher = typeof tlsSocket.getCipher === 'function' ? tlsSocket.getCipher() : null;
        const state = this.state(session);
        state.tls = version && cipher ? { version, cipher: cipher.name } : null;
        callback();
      },
      onMailFrom: (address, session, callback) => this.onMailFrom(address, session, callback),
      onRcptTo: (address, session, callback) => {
        this.onRcptTo(address, session).then(
          () => callback(),
          (e: Error) => callback(e),
        );
      },
      onData: (stream, session, callback) => this.onData(stream, session, callback),
      onClose: (session) => {
        const state = this.sessions.get(session);
        if (state?.counted) {
          state.counted = false;
          this.limits.closeConnection(session.remoteAddress);
        }
      },
    });
    // Socket errors of sessions (and a failed listen, also reported by listen()); pino's redaction hides any `code` key.
    this.server.on('error', (err) =>
      log.warn({ error: err.message, errorCode: (err as { code?: string }).code }, 'smtp server error'),
    );
  }

  /** Offers a new certificate to the next STARTTLS (an ACME renewal); sessions already in TLS keep theirs. */
  reloadCertificate(tls: { certPem: string; keyPem: string }): void {
    this.server.updateSecureContext({ key: tls.keyPem, cert: tls.certPem });
  }

  private state(session: SMTPServerSession): SessionState {
    let s = this.sessions.get(session);
    if (!s) {
      s = { counted: false, tls: null, accounts: new Map() };
      this.sessions.set(session, s);
    }
    return s;
  }

  /** Our replies carry their own enhanced status code; this keeps the library from prefixing a second one. */
  private ownEnhancedCodes(session: SMTPServerSession): void {
    for (const connection of this.server.connections) {
      if (connection.session !== session) continue;
      const send = connection.send.bind(connection);
      connection.send = (code, data, context) =>
        send(code, data, typeof data === 'string' && OWN_ENHANCED_CODE.test(data) ? false : context);
      return;
    }
  }

  private onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    this.ownEnhancedCodes(session);
    if (!this.limits.openConnection(session.remoteAddress)) {
      this.options.onRejected?.('connections-per-ip');
      callback(smtpError(421, `4.7.0 ${this.options.domain} too many connections from your address, try again later`));
      return;
    }
    this.state(session).counted = true;
    callback();
  }

  private onMailFrom(
    address: SMTPServerAddress,
    session: SMTPServerSession,
    callback: (err?: Error | null) => void,
  ): void {
    const state = this.state(session);
    state.accounts.clear();
    // smtp-server takes any bytes as the EHLO name; one that is not text would end up in the recorded facts.
    if (CONTROL_OR_INVALID.test(session.hostNameAppearsAs || '')) {
      callback(
        smtpError(501, '5.5.4 The name given in EHLO/HELO has control characters or invalid bytes; send EHLO again'),
      );
      return;
    }
    const bad = this.badAddress(address.address, session);
    if (bad) {
      callback(bad);
      return;
    }
    if (!this.limits.takeMessage(session.remoteAddress)) {
      this.options.onRejected?.('rate-limit');
      callback(smtpError(450, '4.7.1 Too many messages from your address, slow down and try again later'));
      return;
    }
    callback();
  }

  private badAddress(address: string, session: SMTPServerSession): Error | null {
    if (CONTROL_OR_INVALID.test(address))
      return smtpError(501, '5.1.7 Bad address syntax: control characters or invalid bytes');
    if (NON_ASCII.test(address) && !session.envelope.smtpUtf8) {
      return smtpError(553, '5.6.7 A non-ASCII address needs SMTPUTF8 (RFC 6531)');
    }
    if (address.length > 254) return smtpError(501, '5.1.3 Address too long');
    return null;
  }

  private async onRcptTo(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const bad = this.badAddress(address.address, session);
    if (bad) throw bad;
    const declared =
      session.envelope.mailFrom && session.envelope.mailFrom.args
        ? Number(session.envelope.mailFrom.args.SIZE ?? 0)
        : 0;
    const decision = await this.options.recipients.resolve(address.address, Number.isFinite(declared) ? declared : 0);
    if (!decision.accept) {
      this.options.onRejected?.(`rcpt-${decision.code}`);
      throw smtpError(decision.code, decision.message);
    }
    this.state(session).accounts.set(address.address.toLowerCase(), decision.accountId);
  }

  private onData(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      if (stream.sizeExceeded) return;
      chunks.push(chunk);
      bytes += chunk.length;
    });
    // The client went away before the final dot: the stream is destroyed, nothing is stored, nothing acknowledged.
    stream.on('error', () => {});
    stream.once('end', () => {
      if (stream.sizeExceeded) {
        this.options.onRejected?.('size');
        callback(smtpError(552, `5.3.4 Message exceeds the maximum size of ${this.options.maxMessageBytes} bytes`));
        return;
      }
      const state = this.state(session);
      const recipients: SpoolRecipient[] = [];
      const seen = new Set<string>();
      for (const r of session.envelope.rcptTo) {
        const accountId = state.accounts.get(r.address.toLowerCase());
        // Two addresses of one account (alice@, alice+news@) deliver one copy.
        if (accountId && !seen.has(accountId)) {
          seen.add(accountId);
          recipients.push({ address: r.address, accountId });
        }
      }
      if (recipients.length === 0) {
        callback(smtpError(554, '5.5.1 No valid recipients'));
        return;
      }
      const raw = Buffer.concat(chunks, bytes);
      const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const helo = session.hostNameAppearsAs || null;
      const screening: Promise<SpamScreening | null> = this.options.spam
        ? this.options.spam.screen(raw, {
            clientIp: session.remoteAddress,
            helo,
            mailFrom,
            recipients: recipients.map((r) => r.address),
          })
        : Promise.resolve(null);
      screening
        .then((screened) => {
          if (screened?.kind === 'reject') {
            this.options.onRejected?.('spam');
            this.options.logger.info({ score: screened.score }, 'message refused as spam');
            return Promise.reject(smtpError(550, screened.reply));
          }
          return this.options.spool.append({
            receivedAt: new Date(),
            mailFrom,
            recipients,
            transport: {
              tls: state.tls,
              clientIp: session.remoteAddress,
              helo,
              ...(screened ? { spam: screened.facts } : {}),
            },
            raw,
          });
        })
        .then(
          (id) => {
            this.options.onAccepted?.(bytes);
            callback(null, `2.0.0 Ok: queued as ${id}`);
          },
          (e: Error & { responseCode?: number }) => {
            if (e.responseCode === 550) return callback(e);
            this.options.logger.error({ error: e.message }, 'spool append failed');
            callback(smtpError(451, '4.3.0 Local error in processing, try again later'));
          },
        );
    });
  }

  /** Starts listening; resolves the bound address (useful with port 0). */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.server.off('error', onError);
        this.address = this.server.server.address() as AddressInfo;
        resolve(this.address);
      });
    });
  }

  get boundAddress(): AddressInfo | null {
    return this.address;
  }

  /** Stops accepting connections; open sessions get to finish their transaction (up to closeTimeoutMs). */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
