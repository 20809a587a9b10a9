import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureVersion, type TLSSocket } from 'node:tls';

/**
 * A raw SMTP client for exact protocol checks (what nodemailer would smooth over): send any bytes, read each reply
 * as the server wrote it. Replies are parsed per RFC 5321 (multi-line `250-...` up to `250 ...`).
 */
export interface SmtpReply {
  code: number;
  lines: string[];
  /** The text of the last line (after the code). */
  text: string;
}

export class RawSmtpClient {
  private buffer = '';
  private waiting: ((reply: SmtpReply | null) => void) | null = null;
  private replies: SmtpReply[] = [];
  private closed = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.listen(socket);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawSmtpClient> {
    const socket = netConnect({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawSmtpClient(socket);
  }

  private listen(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.parse();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.(null);
      this.waiting = null;
    });
  }

  private parse(): void {
    let lines: string[] = [];
    for (;;) {
      const eol = this.buffer.indexOf('\r\n');
      if (eol < 0) break;
      const line = this.buffer.slice(0, eol);
      this.buffer = this.buffer.slice(eol + 2);
      lines.push(line);
      if (/^\d{3}(?: |$)/.test(line)) {
        const reply = { code: Number(line.slice(0, 3)), lines: lines.map((l) => l.slice(4)), text: line.slice(4) };
        lines = [];
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(reply);
        } else this.replies.push(reply);
      }
    }
    if (lines.length) this.buffer = `${lines.join('\r\n')}\r\n${this.buffer}`;
  }

  /** The next reply; null when the server closed the connection first. */
  read(timeoutMs = 10_000): Promise<SmtpReply | null> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no SMTP reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one command line (CRLF added) and reads the reply. */
  async command(line: string | Buffer): Promise<SmtpReply | null> {
    this.write(typeof line === 'string' ? `${line}\r\n` : Buffer.concat([line, Buffer.from('\r\n')]));
    return this.read();
  }

  /** STARTTLS, then the TLS handshake on the same socket. `ca` is the certificate to trust (the instance's). */
  async startTls(options: { ca: string; servername: string; maxVersion?: SecureVersion }): Promise<TLSSocket> {
    const reply = await this.command('STARTTLS');
    if (reply?.code !== 220) throw new Error(`STARTTLS refused: ${reply?.code} ${reply?.text}`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tlsConnect({
      socket: plain,
      ca: options.ca,
      servername: options.servername,
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.buffer = '';
    this.listen(secure);
    return secure;
  }

  /** MAIL FROM, RCPT TO each, DATA, the message (dot-stuffed) and the final dot: resolves the final reply. */
  async send(from: string, to: string[], message: string | Buffer): Promise<SmtpReply | null> {
    const mail = await this.command(`MAIL FROM:<${from}>`);
    if (mail?.code !== 250) return mail;
    let accepted = 0;
    for (const rcpt of to) if ((await this.command(`RCPT TO:<${rcpt}>`))?.code === 250) accepted++;
    if (!accepted) {
      await this.command('RSET');
      return null;
    }
    const data = await this.command('DATA');
    if (data?.code !== 354) return data;
    const body = Buffer.isBuffer(message) ? message.toString('latin1') : message;
    const stuffed = body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.write(Buffer.from(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1'));
    return this.read();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** QUIT when the connection is still open, then close. */
  async quit(): Promise<void> {
    if (!this.closed) {
      try {
        await this.command('QUIT');
      } catch {
        // closed meanwhile
      }
    }
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
