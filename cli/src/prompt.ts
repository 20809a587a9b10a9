import { randomBytes } from 'node:crypto';
import { CliError } from './cli-error.ts';

/** Reads a whole secret from standard input (`--password-stdin`), trimming one trailing newline. */
export async function readStdinSecret(): Promise<string> {
  if (process.stdin.isTTY)
    throw new CliError('--password-stdin reads the password from a pipe, e.g. `printf %s "$PW" | caliopen ...`.', 2);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!text) throw new CliError('No password on standard input.', 2);
  return text;
}

/** A random password a person can type: 4 groups of 5 base32 characters (~100 bits). */
export function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(20);
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]);
  return [0, 5, 10, 15].map((i) => chars.slice(i, i + 5).join('')).join('-');
}
