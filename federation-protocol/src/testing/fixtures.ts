import { sha256 } from '../canonical-json.ts';
import { encodeHex, utf8Encode } from '../encoding.ts';
import { buildFeed } from '../feed.ts';
import type { Feed, FeedInstance } from '../feed.types.ts';
import {
  ed25519KeyPairFromSeed,
  jwkThumbprint,
  keySetEntry,
  parseKeySet,
  x25519PublicJwkFromPrivate,
} from '../keys.ts';
import type { Ed25519KeyPair, KeySet, KeySetDocument } from '../keys.ts';
import { issueLabel } from '../label.ts';
import { MerkleTree } from '../merkle.ts';
import { levelForScore } from '../pi.types.ts';
import type { PrivacyIndex } from '../pi.types.ts';
import { checkpointOf, signCheckpoint } from '../checkpoint.ts';
import { unwrap } from '../errors.ts';
import { entryLogLeaf } from '../entry-binding.ts';

/**
 * Deterministic fixtures for the tests and the test-vector generator: every key derives from a readable name,
 * every time from T0, so regenerating the vectors gives the same bytes.
 */

/** 2026-01-01T00:00:00Z. */
export const T0 = 1_767_225_600;
export const DAY = 24 * 3600;

export const REGISTRY = 'registry.caliopen.test';
export const LOG_ORIGIN = 'registry.caliopen.test/log';
export const CHARTER_VERSION = '1.0';

/** A 32-byte seed derived from a name: SHA-256("caliopen test vectors: " + name). */
export function seedOf(name: string): Uint8Array {
  return sha256(`caliopen test vectors: ${name}`);
}

export const registryKey: Ed25519KeyPair = ed25519KeyPairFromSeed(seedOf('registry key 2026'));
/** Retired before T0: in the key set, outside its window. */
export const retiredRegistryKey: Ed25519KeyPair = ed25519KeyPairFromSeed(seedOf('registry key 2025'));
/** The key a rotation brings in (key-set-statements.json, the peer directory's rotation tests). */
export const nextRegistryKey: Ed25519KeyPair = ed25519KeyPairFromSeed(seedOf('registry key 2027'));
/** Never in the key set. */
export const strangerKey: Ed25519KeyPair = ed25519KeyPairFromSeed(seedOf('stranger key'));

export const keySetDocument: KeySetDocument = {
  keys: [
    keySetEntry(retiredRegistryKey.publicJwk, { notBefore: T0 - 400 * DAY, notAfter: T0 - 30 * DAY }),
    keySetEntry(registryKey.publicJwk, { notBefore: T0 - 60 * DAY, notAfter: T0 + 365 * DAY }),
  ],
};

export const keySet: KeySet = unwrap(parseKeySet(keySetDocument));

export function samplePi(score: number): PrivacyIndex {
  return {
    score,
    level: levelForScore(score),
    factors: [
      { id: 'jurisdiction.gdpr', contribution: 30, evidence: 'Operated in FR under the GDPR' },
      { id: 'transport.tls', contribution: 20, evidence: 'TLS 1.3 with a valid certificate for the domain' },
      { id: 'dns.dane', contribution: Math.max(0, score - 50), evidence: 'TLSA record verified with DNSSEC' },
    ],
    suggestions:
      score < 100 ? [{ action: 'instance.enable_mta_sts', element: 'instance', gain: Math.min(10, 100 - score) }] : [],
    modelVersion: 'instance-pi/1',
  };
}

export interface InstanceFixture {
  readonly domain: string;
  readonly signingKey: Ed25519KeyPair;
  readonly encryptionJwk: ReturnType<typeof x25519PublicJwkFromPrivate>;
  readonly certFingerprint: string;
  readonly pi: PrivacyIndex;
}

export function instanceFixture(domain: string, score = 90): InstanceFixture {
  return {
    domain,
    signingKey: ed25519KeyPairFromSeed(seedOf(`${domain} signing key`)),
    encryptionJwk: x25519PublicJwkFromPrivate(seedOf(`${domain} encryption key`)),
    certFingerprint: encodeHex(sha256(utf8Encode(`${domain} certificate`))),
    pi: samplePi(score),
  };
}

/** A label for an instance fixture, signed by `key` (the registry key by default). */
export function labelFor(
  instance: InstanceFixture,
  options: { issuedAt: number; expiresAt?: number; key?: Ed25519KeyPair },
) {
  return issueLabel(
    {
      id: `label-${instance.domain}-${options.issuedAt}`,
      issuer: REGISTRY,
      domain: instance.domain,
      issuedAt: options.issuedAt,
      ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }),
      charterVersion: CHARTER_VERSION,
      instanceKeys: {
        signing: instance.signingKey.kid,
        encryption: jwkThumbprint(instance.encryptionJwk),
      },
      certFingerprint: instance.certFingerprint,
      pi: { score: instance.pi.score, level: instance.pi.level, modelVersion: instance.pi.modelVersion },
    },
    options.key ?? registryKey,
  );
}

/** A feed entry for an instance fixture, with a fresh label issued at `issuedAt`. */
export async function feedEntryFor(
  instance: InstanceFixture,
  issuedAt: number,
  overrides: Partial<Pick<FeedInstance, 'status' | 'listed' | 'logIndex'>> = {},
): Promise<FeedInstance> {
  const { jws, claims } = await labelFor(instance, { issuedAt });
  return {
    domain: instance.domain,
    endpoints: { federation: `https://${instance.domain}/.well-known/caliopen/federation` },
    keys: { signing: instance.signingKey.publicJwk, encryption: instance.encryptionJwk },
    certFingerprint: instance.certFingerprint,
    labelId: claims.id,
    labelExpiresAt: claims.expiresAt,
    label: jws,
    pi: instance.pi,
    status: overrides.status ?? 'labelled',
    listed: overrides.listed ?? true,
    logIndex: overrides.logIndex ?? 0,
  };
}

/**
 * Binds entries to `tree` as the registry does: each gets the next index and its binding leaf is appended there
 * (entryLogLeaf). Returns the bound entries.
 */
export function bindEntries(tree: MerkleTree, entries: readonly FeedInstance[]): FeedInstance[] {
  return entries.map((entry) => {
    const bound = { ...entry, logIndex: tree.size };
    tree.appendEntry(entryLogLeaf(bound));
    return bound;
  });
}

/** Log entries as the registry might append them; only their bytes matter to the tree. */
export function logEntry(index: number, history = 'main'): Uint8Array {
  return utf8Encode(JSON.stringify({ index, event: 'label_issued', history }));
}

export function logTree(size: number, history = 'main', forkAt = size): MerkleTree {
  const tree = new MerkleTree();
  for (let index = 0; index < size; index++) tree.appendEntry(logEntry(index, index < forkAt ? 'main' : history));
  return tree;
}

export async function signedCheckpointOf(tree: MerkleTree, timestamp: number, size = tree.size): Promise<string> {
  return signCheckpoint(checkpointOf(tree, { origin: LOG_ORIGIN, timestamp, size }), registryKey);
}

/** A feed of the given instance fixtures at `serial`, with the log checkpoint of `tree`. */
export async function feedOf(
  instances: readonly InstanceFixture[],
  options: { serial: number; issuedAt: number; tree: MerkleTree },
): Promise<Feed> {
  const entries = await Promise.all(instances.map((instance) => feedEntryFor(instance, options.issuedAt)));
  return buildFeed({
    serial: options.serial,
    issuedAt: options.issuedAt,
    registry: REGISTRY,
    checkpoint: await signedCheckpointOf(options.tree, options.issuedAt),
    instances: entries,
  });
}
