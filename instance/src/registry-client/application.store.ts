import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';

/**
 * What the instance remembers of its application to a registry: where, which application, the applicant token
 * (sealed with the master key) and the domain-control challenge it must serve at
 * `/.well-known/caliopen-challenge/<token>`. A small JSON file in the data directory: read on each challenge
 * request (cheap, and the CLI that applies and the running instance share it without coordination).
 */
export interface RegistryApplicationState {
  registryUrl: string;
  applicationId: string;
  applicantTokenSealed: string;
  challenge: { token: string; value: string } | null;
  appliedAt: string;
}

const fileOf = (dataDir: string) => join(dataDir, 'registry', 'application.json');

export function readApplicationState(dataDir: string): RegistryApplicationState | null {
  const file = fileOf(dataDir);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as RegistryApplicationState;
}

export function writeApplicationState(dataDir: string, state: RegistryApplicationState): void {
  const file = fileOf(dataDir);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export function applicantToken(state: RegistryApplicationState, box: SecretBox): string {
  return box.open(state.applicantTokenSealed, `registry-applicant:${state.applicationId}`);
}

export function sealApplicantToken(box: SecretBox, applicationId: string, token: string): string {
  return box.seal(token, `registry-applicant:${applicationId}`);
}
