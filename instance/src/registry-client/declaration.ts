import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { currentCharter, parseDeclaration, type Declaration } from '@caliopen/charter';
import { canonicalJsonBytes } from '@caliopen/federation-protocol';
import { CompactSign, importJWK, type JWK } from 'jose';

export const DECLARATION_FILE = 'declaration.json';
const DECLARATION_JWS_TYPE = 'caliopen-declaration+jws';

export function declarationPath(dataDir: string): string {
  return join(dataDir, DECLARATION_FILE);
}

/** A starting declaration with the charter's most protective commitments; the operator reviews it before applying. */
export function declarationTemplate(input: {
  domain: string;
  jurisdiction: string;
  adminName: string;
  adminEmail: string;
  doesEmail: boolean;
}): Declaration {
  return {
    charterVersion: currentCharter().version,
    domain: input.domain,
    jurisdiction: input.jurisdiction,
    retention: { messagesDays: null, logsDays: 30, backupsDays: 30, deletedAccountDays: 30 },
    logging: { ipAddresses: false, messageMetadata: false, retentionDays: 7 },
    keyStorageOptions: ['client', 'server'],
    noResaleOfUserData: true,
    noProfilingOrAds: true,
    spamHandling: { contentScanning: 'local' },
    adminContact: { name: input.adminName, email: input.adminEmail },
    incidentDisclosureDays: 3,
    doesEmail: input.doesEmail,
  };
}

/** Reads and validates the declaration file; the error lists each problem with its JSON path. */
export function readDeclaration(file: string): Declaration {
  if (!existsSync(file)) throw new Error(`No declaration at ${file}.`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = parseDeclaration(raw);
  if (!parsed.ok)
    throw new Error(
      `${file} is not a valid declaration:\n${parsed.errors.map((e) => `  - ${e.path || '(root)'}: ${e.message}`).join('\n')}`,
    );
  return parsed.value;
}

export function writeDeclaration(file: string, declaration: Declaration): void {
  writeFileSync(file, `${JSON.stringify(declaration, null, 2)}\n`, { mode: 0o644 });
}

/** The declaration as the registry wants it: a compact JWS of { declaration, nonce, iat } by the instance key. */
export async function signDeclaration(
  declaration: Declaration,
  signing: { privateJwk: JWK; thumbprint: string },
  now: Date,
): Promise<string> {
  const payload = { declaration, nonce: randomBytes(24).toString('base64url'), iat: Math.floor(now.getTime() / 1000) };
  const key = await importJWK(signing.privateJwk, 'EdDSA');
  return new CompactSign(canonicalJsonBytes(payload))
    .setProtectedHeader({ alg: 'EdDSA', typ: DECLARATION_JWS_TYPE, kid: signing.thumbprint })
    .sign(key);
}
