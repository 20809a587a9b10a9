import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './net.ts';
import { realComponent } from './real-component.ts';
import { tempDir } from './tmp.ts';

/** A mailbox user of the test Dovecot. */
export interface DovecotUser {
  username: string;
  password: string;
}

export interface DovecotServer {
  host: '127.0.0.1';
  /** Plain IMAP (STARTTLS offered when `ssl` was asked for). */
  port: number;
  /** Implicit-TLS IMAP (IMAPS), when started with `ssl: true`. */
  tlsPort: number | null;
  /** The self-signed certificate (PEM) of the SSL variant. */
  certPem: string | null;
  /** Where the maildirs live (`<mailRoot>/<username>`). */
  mailRoot: string;
  /** The last lines of Dovecot's log (for failing assertions). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Whether Dovecot is installed. Under CI a missing binary throws; elsewhere it warns loudly and returns a skip reason
 * for vitest. Call it at module level, before registering the tests that need it.
 */
export function dovecotComponent(): { skip: boolean; path: string } {
  return realComponent('dovecot', 'dovecot-imapd');
}

/** The unprivileged account that owns the test mailboxes: Dovecot refuses to give mail access as root. */
const MAIL_USER = 'nobody';

function idOf(flag: '-u' | '-g', user: string): number {
  return Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
}

/** An existing user for Dovecot's internal processes: the Debian package's own, or `nobody` as a fallback. */
function systemUser(preferred: string): string {
  try {
    execFileSync('id', ['-u', preferred], { stdio: 'ignore' });
    return preferred;
  } catch {
    return MAIL_USER;
  }
}

/**
 * Starts a throwaway Dovecot (IMAP only) with its own configuration, base_dir, state and log in a temp dir: a
 * passwd-file user database with the given users, maildirs under the temp dir, listening on free loopback ports,
 * plaintext login allowed (loopback only). With `ssl: true` it also gets a fresh self-signed certificate, offers
 * STARTTLS on the plain port and listens for implicit TLS on a second port. `stop()` stops it and removes everything.
 */
export async function startDovecot(
  options: { users: DovecotUser[]; ssl?: boolean },
  binary = dovecotComponent().path,
): Promise<DovecotServer> {
  if (!binary) throw new Error('dovecot is not installed: apt-get install -y dovecot-imapd');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary, options);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function startOnce(binary: string, options: { users: DovecotUser[]; ssl?: boolean }): Promise<DovecotServer> {
  const tmp = tempDir('caliopen-dovecot-');
  const root = tmp.dir;
  // Dovecot's unprivileged processes (login, imap as the mail user) must traverse the temp dir.
  chmodSync(root, 0o755);
  const mailUid = idOf('-u', MAIL_USER);
  const mailGid = idOf('-g', MAIL_USER);
  const mailRoot = join(root, 'mail');
  mkdirSync(mailRoot, { mode: 0o755 });
  chownSync(mailRoot, mailUid, mailGid);
  for (const d of ['run', 'state']) mkdirSync(join(root, d), { mode: 0o755 });

  for (const u of options.users) {
    if (!/^[a-z0-9._-]{1,64}$/i.test(u.username) || /[:\n]/.test(u.password))
      throw new Error(`unusable test user ${u.username}`);
  }
  const internalUser = systemUser('dovecot');
  const loginUser = systemUser('dovenull');
  // Only the auth process (running as the internal user) reads the user database.
  const passwdFile = join(root, 'users');
  writeFileSync(passwdFile, options.users.map((u) => `${u.username}:{PLAIN}${u.password}::::::\n`).join(''), {
    mode: 0o600,
  });
  chownSync(passwdFile, idOf('-u', internalUser), idOf('-g', internalUser));

  let certPem: string | null = null;
  let tlsConfig = 'ssl = no\n';
  const port = await freePort();
  let tlsPort: number | null = null;
  if (options.ssl) {
    tlsPort = await freePort();
    const cert = join(root, 'cert.pem');
    const key = join(root, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    certPem = readFileSync(cert, 'utf8');
    tlsConfig = `ssl = yes\nssl_cert = <${cert}\nssl_key = <${key}\nssl_min_protocol = TLSv1.2\n`;
  }

  const conf = join(root, 'dovecot.conf');
  const logFile = join(root, 'dovecot.log');
  writeFileSync(
    conf,
    `# Generated by tests/support/dovecot.ts: a throwaway IMAP server on loopback.
instance_name = caliopen-test-${port}
base_dir = ${join(root, 'run')}
state_dir = ${join(root, 'state')}
log_path = ${logFile}
protocols = imap
listen = 127.0.0.1
default_internal_user = ${internalUser}
default_internal_group = ${internalUser === MAIL_USER ? 'nogroup' : internalUser}
default_login_user = ${loginUser}
first_valid_uid = ${mailUid}
last_valid_uid = ${mailUid}
${tlsConfig}
# Loopback test server: plaintext LOGIN is allowed (the production importer prefers TLS).
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
mail_location = maildir:${mailRoot}/%u
mail_uid = ${mailUid}
mail_gid = ${mailGid}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${passwdFile}
}
userdb {
  driver = static
  args = home=${mailRoot}/%u
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Drafts {
    special_use = \\Drafts
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${tlsPort ?? 0}
    ssl = yes
  }
}
service anvil {
  chroot =
}
service stats {
  inet_listener http {
    port = 0
  }
}
`,
  );

  const child = spawn(binary, ['-F', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A test run that crashes must not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const log = () => {
    let text = output;
    try {
      text += readFileSync(logFile, 'utf8').slice(-8000);
    } catch {
      // no log yet
    }
    return text;
  };

  const stop = async () => {
    process.off('exit', killOnExit);
    await terminate(child);
    tmp.cleanup();
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const why = log();
      await stop();
      throw new Error(`dovecot exited early (port ${port}):\n${why}`);
    }
    if ((await greeting(port).catch(() => '')).startsWith('* OK')) break;
    if (Date.now() > deadline) {
      const why = log();
      await stop();
      throw new Error(`dovecot did not greet on port ${port} within 15 s:\n${why}`);
    }
    await sleep(50);
  }
  return { host: '127.0.0.1', port, tlsPort, certPem, mailRoot, log, stop };
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Reads the IMAP greeting line, so the helper needs no IMAP client library. */
function greeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy(new Error('greeting timed out')));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.end('a LOGOUT\r\n');
        resolve(reply.trim());
      }
    });
    socket.on('error', reject);
  });
}
