import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerDataStream,
  type SMTPServerSession,
} from 'smtp-server';
import type { Account } from '../accounts/account.entity.ts';
import { isAppError } from '../shared/errors.ts';
import { parseAddress } from './compose.address.ts';
import { ClientLimits } from './smtp-inbound.limits.ts';

/** The answer to a mail app's sign-in (app-passwords/mail-client.auth.ts gives it). */
export type SubmissionAuthResult =
  | { ok: true; account: Account }
  | { ok: false; reason: 'invalid' | 'throttled' | 'disabled'; retryAfterSeconds?: number };

/** What the submission server asks of the rest of the instance (the composition root, app/, gives it). */
export interface SubmissionDeps {
  authenticate(username: string, password: string, ip: string): Promise<SubmissionAuthResult>;
  /** Whether the account may send as this address (MAIL FROM). */
  ownsAddress(account: Account, address: string): Promise<boolean>;
  /** For a recipient on this instance: whether it is an enabled account (others are checked when the message is sent). */
  localRecipientExists(local: string): Promise<boolean>;
  /** The compose path (ComposeService.submit): throws AppError for what the user can fix. */
  submit(account: Account, message: { raw: Buffer; recipients: string[]; mailFrom: string }): Promise<{ id: string }>;
}

export interface SmtpSubmissionOptions extends SubmissionDeps {
  host: string;
  /** STARTTLS port (587 in production); AUTH is offered only once TLS is on. */
  port: number;
  /** Implicit TLS port (465 in production, RFC 8314). */
  tlsPort: number;
  domain: string;
  maxMessageBytes: number;
  maxRecipients: number;
  maxConnectionsPerIp: number;
  messagesPerHourPerAccount: number;
  tls: { certPem: string; keyPem: string };
  logger: Logger;
  socketTimeoutMs?: number;
  closeTimeoutMs?: number;
  now?: () => number;
}

type SmtpError = Error & { responseCode: number };

function smtpError(code: number, message: string): SmtpError {
  return Object.assign(new Error(message), { responseCode: code });
}

/** A reply text that carries its own enhanced status code (RFC 3463), e.g. "5.7.8 ...". */
const OWN_ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;
// eslint-disable-next-line no-control-regex
const CONTROL_OR_INVALID = /[\x00-\x1f\x7f\ufffd]/;

/** The SMTP reply for a refusal of the compose path: its stable code said as SMTP says it, with the detail. */
function replyFor(err: unknown): SmtpError | null {
  if (!isAppError(err)) return null;
  const text = (err.detail ?? err.message).replace(/[\r\n]+/g, ' ').slice(0, 400);
  switch (err.code) {
    case 'sender_not_owned':
      return smtpError(553, `5.7.1 ${text}`);
    case 'recipient_unknown':
      return smtpError(550, `5.1.1 ${text}`);
    case 'recipient_invalid':
      return smtpError(553, `5.1.3 ${text}`);
    case 'too_many_recipients':
      return smtpError(452, `4.5.3 ${text}`);
    case 'quota_exceeded':
      return smtpError(552, `5.2.2 Your mailbox is full: the Sent copy cannot be stored. ${text}`);
    case 'no_recipients':
      return smtpError(554, '5.5.1 No valid recipients');
    default:
      return smtpError(554, `5.6.0 ${text}`);
  }
}

/** Messages per hour per account: a token bucket refilled evenly over the hour. */
class AccountRate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perHour: number,
    private readonly now: () => number,
  ) {}

  take(accountId: string): boolean {
    const now = this.now();
    const b = this.buckets.get(accountId) ?? { tokens: this.perHour, at: now };
    b.tokens = Math.min(this.perHour, b.tokens + ((now - b.at) * this.perHour) / 3600_000);
    b.at = now;
    this.buckets.set(accountId, b);
    if (this.buckets.size > 100_000) {
      for (const [k, v] of this.buckets) if (now - v.at >= 3600_000) this.buckets.delete(k);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/**
 * Message submission for mail apps (RFC 6409): SMTP with AUTH PLAIN/LOGIN, on a STARTTLS port (587) and an implicit
 * TLS port (465, RFC 8314). Nothing is accepted before a successful AUTH, and AUTH only over TLS. The envelope sender
 * must be an address of the signed-in account; the message then goes through the compose path (DKIM, Sent copy,
 * local / federation / SMTP routing) and 250 means it is stored and queued. Limits: connections per client address,
 * messages per account per hour, failed AUTH per address and per account (the authenticator's throttle: 454 while
 * locked out).
 */
export class SmtpSubmissionServer {
  private readonly servers: SMTPServer[];
  private readonly limits: ClientLimits;
  private readonly rate: AccountRate;
  private readonly counted = new WeakSet<SMTPServerSession>();
  private addresses: { port: number; tlsPort: number } | null = null;

  constructor(private readonly options: SmtpSubmissionOptions) {
    this.limits = new ClientLimits({ maxConnectionsPerIp: options.maxConnectionsPerIp, messagesPerMinutePerIp: 0 });
    this.rate = new AccountRate(options.messagesPerHourPerAccount, options.now ?? Date.now);
    this.servers = [this.build(false), this.build(true)];
  }

  private build(secure: boolean): SMTPServer {
    const o = this.options;
    const server = new SMTPServer({
      secure,
      name: o.domain,
      banner: 'Caliopen submission',
      size: o.maxMessageBytes,
      maxRecipients: o.maxRecipients,
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: false,
      allowInsecureAuth: false,
      authRequiredMessage: '5.7.0 Authentication required: sign in with AUTH first',
      maxAllowedUnauthenticatedCommands: 10,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: true,
      hideREQUIRETLS: true,
      key: o.tls.keyPem,
      cert: o.tls.certPem,
      disableReverseLookup: true,
      logger: false,
      socketTimeout: o.socketTimeoutMs ?? 120_000,
      closeTimeout: o.closeTimeoutMs ?? 10_000,
      onConnect: (session, callback) => {
        this.ownEnhancedCodes(server, session);
        if (!this.limits.openConnection(session.remoteAddress)) {
          callback(smtpError(421, `4.7.0 ${o.domain} too many connections from your address, try again later`));
          return;
        }
        this.counted.add(session);
        callback();
      },
      onClose: (session) => {
        if (this.counted.delete(session)) this.limits.closeConnection(session.remoteAddress);
      },
      onAuth: (auth, session, callback) => {
        this.onAuth(auth, session).then(
          (account) => callback(null, { user: account }),
          (e: Error) => callback(e),
        );
      },
      onMailFrom: (address, session, callback) => {
        this.onMailFrom(address, session).then(
          () => callback(),
          (e: Error) => callback(e),
        );
      },
      onRcptTo: (address, session, callback) => {
        this.onRcptTo(address, session).then(
          () => callback(),
          (e: Error) => callback(e),
        );
      },
      onData: (stream, session, callback) => this.onData(stream, session, callback),
    });
    server.on('error', (err) =>
      o.logger.warn({ error: err.message, errorCode: (err as { code?: string }).code }, 'submission server error'),
    );
    return server;
  }

  /** Our replies carry their own enhanced status code; this keeps the library from prefixing a second one. */
  private ownEnhancedCodes(server: SMTPServer, session: SMTPServerSession): void {
    for (const connection of server.connections) {
      if (connection.session !== session) continue;
      const send = connection.send.bind(connection);
      connection.send = (code, data, context) => {
        // AUTH is not offered in clear (RFC 4954 §4): the EHLO answer lists it only once TLS is on.
        if (code === 250 && Array.isArray(data) && !connection.secure)
          data = data.filter((line) => !/^AUTH\b/i.test(line));
        send(code, data, typeof data === 'string' && OWN_ENHANCED_CODE.test(data) ? false : context);
      };
      return;
    }
  }

  private async onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<Account> {
    const username = auth.username ?? '';
    const password = auth.password ?? '';
    if (CONTROL_OR_INVALID.test(username) || username.length > 320 || password.length > 1024)
      throw smtpError(501, '5.5.2 Malformed credentials');
    const result = await this.options.authenticate(username, password, session.remoteAddress);
    if (result.ok) return result.account;
    if (result.reason === 'throttled')
      throw smtpError(
        454,
        `4.7.0 Too many failed sign-ins from your address or for this account; try again in ${result.retryAfterSeconds ?? 60} seconds`,
      );
    if (result.reason === 'disabled') throw smtpError(535, '5.7.8 This account is disabled');
    throw smtpError(
      535,
      '5.7.8 Authentication credentials invalid (with two-factor authentication on, use an app password)',
    );
  }

  private account(session: SMTPServerSession): Account {
    const account = session.user as Account | undefined;
    if (!account) throw smtpError(530, '5.7.0 Authentication required: sign in with AUTH first');
    return account;
  }

  private async onMailFrom(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const account = this.account(session);
    const given = address.address;
    if (CONTROL_OR_INVALID.test(given) || given.length > 254) throw smtpError(501, '5.1.7 Bad sender address syntax');
    if (!given || !(await this.options.ownsAddress(account, given)))
      throw smtpError(
        553,
        `5.7.1 <${given}> is not an address of your account: send as ${account.username}@${this.options.domain}`,
      );
    if (!this.rate.take(account.id))
      throw smtpError(
        450,
        `4.7.1 You sent ${this.options.messagesPerHourPerAccount} messages in the last hour, the most allowed: try again later`,
      );
  }

  private async onRcptTo(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    this.account(session);
    const parsed = parseAddress(address.address);
    if (!parsed.ok) throw smtpError(553, `5.1.3 <${address.address.slice(0, 80)}> ${parsed.reason}`);
    if (
      parsed.value.domain === this.options.domain &&
      !(await this.options.localRecipientExists(parsed.value.local.toLowerCase()))
    )
      throw smtpError(550, `5.1.1 <${parsed.value.address}>: no such user here`);
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
    stream.on('error', () => {});
    stream.once('end', () => {
      if (stream.sizeExceeded) {
        callback(smtpError(552, `5.3.4 Message exceeds the maximum size of ${this.options.maxMessageBytes} bytes`));
        return;
      }
      let account: Account;
      try {
        account = this.account(session);
      } catch (e) {
        callback(e as Error);
        return;
      }
      const raw = Buffer.concat(chunks, bytes);
      this.options
        .submit(account, {
          raw,
          recipients: session.envelope.rcptTo.map((r) => r.address),
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        })
        .then(
          (sent) => callback(null, `2.0.0 Ok: queued as ${sent.id}`),
          (e: unknown) => {
            const reply = replyFor(e);
            if (reply) {
              callback(reply);
              return;
            }
            this.options.logger.error({ error: (e as Error).message }, 'submission failed');
            callback(smtpError(451, '4.3.0 Local error in processing, try again later'));
          },
        );
    });
  }

  /** Starts both listeners; resolves the bound ports (useful with port 0). */
  async listen(): Promise<{ port: number; tlsPort: number }> {
    const ports: number[] = [];
    for (const [i, server] of this.servers.entries()) {
      const port = i === 0 ? this.options.port : this.options.tlsPort;
      ports.push(
        await new Promise<number>((resolve, reject) => {
          const onError = (e: Error) => reject(e);
          server.server.once('error', onError);
          server.listen(port, this.options.host, () => {
            server.server.off('error', onError);
            resolve((server.server.address() as AddressInfo).port);
          });
        }),
      );
    }
    this.addresses = { port: ports[0]!, tlsPort: ports[1]! };
    return this.addresses;
  }

  get boundPorts(): { port: number; tlsPort: number } | null {
    return this.addresses;
  }

  close(): Promise<void> {
    return Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(
      () => undefined,
    );
  }
}
