import pino, { type Logger } from 'pino';

/**
 * Structured logs (JSON lines). Request logs carry method, URL, status, timing and the request id — never bodies;
 * the redaction below is a second fence for anything that could hold a credential.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'caliopen-instance' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          '*.password',
          '*.currentPassword',
          '*.newPassword',
          '*.token',
          '*.totp',
          '*.secret',
          '*.passphrase',
          '*.exportPassphrase',
          '*.armoredPrivateKey',
          '*.privateKey',
          '*.kek',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ sync: false }),
  );
}
