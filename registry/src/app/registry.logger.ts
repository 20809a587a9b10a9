import pino, { type Logger } from 'pino';

/**
 * Structured logs (JSON lines) of the registry. Request logs carry method, URL, status, timing and the request id,
 * never bodies (no declarations, passwords or tokens); the redaction is a second fence.
 */
export function createRegistryLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'caliopen-registry' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          '*.password',
          '*.token',
          '*.declaration',
          '*.privateJwk',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ sync: false }),
  );
}
