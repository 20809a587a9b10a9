import { decodeBase64Url, utf8Decode } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import { signJws, verifyJws } from './jws.ts';
import type { JwsErrorCodes } from './jws.ts';
import { parseKeySet } from './keys.ts';
import type { Ed25519KeyPair, KeySet, KeySetDocument } from './keys.ts';
import { isCount, isRecord, isTimestamp, isToken } from './validate.ts';

/**
 * Registry key rotation statements (SPEC.md §3, "Registry key rotation"): "from sequence N on, the registry key set
 * is this document", signed by a key of the set before it (sequence N − 1; sequence 0 is the set peers pinned). A peer
 * follows the chain from its pinned set and adopts a set only when every link verifies, so it never trusts a key it
 * cannot chain from keys it already trusted; a feed signed by an unchained key stays refused. Compact JWS, typ
 * `caliopen-key-set+jws`, payload `{ registry, sequence, issuedAt, keys }` (`keys` as in the key set document).
 */

export const KEY_SET_STATEMENT_JWS_TYPE = 'caliopen-key-set+jws';
/** Statements a peer follows at once; a longer chain is refused (a registry rotates a few times a year). */
export const MAX_KEY_SET_CHAIN = 256;
const CLOCK_TOLERANCE_SECONDS = 60;

export interface KeySetStatement {
  readonly registry: string;
  /** 1 for the first rotation after the pinned set, then one more per rotation. */
  readonly sequence: number;
  /** NumericDate (seconds); the signing key must be valid then, in the previous set. */
  readonly issuedAt: number;
  readonly keys: KeySetDocument['keys'];
}

const STATEMENT_CODES: JwsErrorCodes = {
  malformed: 'key_set_statement_malformed',
  unknownKey: 'key_set_statement_unknown_key',
  keyOutsideValidity: 'key_set_statement_key_outside_validity',
  badSignature: 'key_set_statement_bad_signature',
};

/** Signs a rotation statement with a key of the previous set. Throws a `ProtocolError` on a malformed statement. */
export async function signKeySetStatement(statement: KeySetStatement, keyPair: Ed25519KeyPair): Promise<string> {
  const parsed = parseStatement(statement);
  if (!parsed.ok) throw parsed.error;
  return signJws(
    { registry: statement.registry, sequence: statement.sequence, issuedAt: statement.issuedAt, keys: statement.keys },
    keyPair,
    KEY_SET_STATEMENT_JWS_TYPE,
  );
}

export interface FollowedKeySet {
  readonly keySet: KeySet;
  /** The sequence of the set reached (0: the pinned set itself). */
  readonly sequence: number;
  /** The statements that lead from the pinned set to it, in order. */
  readonly statements: readonly string[];
}

/**
 * Follows rotation statements from `pinned` (sequence 0): each must be the next sequence, be for `registry` when
 * given, be issued no later than `now` (60 s tolerance), and verify against the set reached so far with its key
 * valid at its `issuedAt`. The first failure is the answer; statements are in sequence order, from 1.
 */
export async function followKeySetChain(
  pinned: KeySet,
  statements: readonly unknown[],
  options: { readonly now: number; readonly registry?: string },
): Promise<Result<FollowedKeySet>> {
  if (statements.length > MAX_KEY_SET_CHAIN) {
    return fail('key_set_chain_broken', `The chain has ${statements.length} statements; at most ${MAX_KEY_SET_CHAIN}.`);
  }
  let keySet = pinned;
  const followed: string[] = [];
  for (const [index, jws] of statements.entries()) {
    const sequence = index + 1;
    const claimed = unverifiedIssuedAt(jws);
    if (claimed === undefined) return malformed(`statement ${sequence} is not a compact JWS with an issuedAt`);
    const verified = await verifyJws(jws, {
      keySet,
      now: claimed,
      typ: KEY_SET_STATEMENT_JWS_TYPE,
      codes: STATEMENT_CODES,
    });
    if (!verified.ok) {
      return fail(verified.error.code, `Key set statement ${sequence}: ${verified.error.message}`, verified.error);
    }
    const statement = parseStatement(verified.value.payload);
    if (!statement.ok) return statement;
    if (statement.value.sequence !== sequence) {
      return fail(
        'key_set_chain_broken',
        `Statement ${sequence} of the chain says sequence ${statement.value.sequence}.`,
      );
    }
    if (options.registry !== undefined && statement.value.registry !== options.registry) {
      return fail('key_set_chain_broken', `Statement ${sequence} is for "${statement.value.registry}".`);
    }
    if (statement.value.issuedAt > options.now + CLOCK_TOLERANCE_SECONDS) {
      return fail(
        'key_set_chain_broken',
        `Statement ${sequence} is issued in the future (${statement.value.issuedAt}).`,
      );
    }
    const next = parseKeySet({ keys: statement.value.keys });
    if (!next.ok) return malformed(`statement ${sequence}: ${next.error.message}`);
    keySet = next.value;
    followed.push(jws as string);
  }
  return ok({ keySet, sequence: followed.length, statements: followed });
}

function unverifiedIssuedAt(jws: unknown): number | undefined {
  if (typeof jws !== 'string') return undefined;
  const parts = jws.split('.');
  if (parts.length !== 3) return undefined;
  const text = utf8Decode(decodeBase64Url(parts[1] ?? '') ?? new Uint8Array([0xff]));
  if (text === undefined) return undefined;
  try {
    const payload = JSON.parse(text) as unknown;
    return isRecord(payload) && isTimestamp(payload['issuedAt']) ? payload['issuedAt'] : undefined;
  } catch {
    return undefined;
  }
}

function parseStatement(input: unknown): Result<KeySetStatement> {
  if (!isRecord(input)) return malformed('the payload is not an object');
  const { registry, sequence, issuedAt, keys } = input;
  if (!isToken(registry)) return malformed('registry is not a registry name');
  if (!isCount(sequence) || sequence < 1) return malformed('sequence is not a positive integer');
  if (!isTimestamp(issuedAt)) return malformed('issuedAt is not integer seconds');
  const parsed = parseKeySet({ keys });
  if (!parsed.ok) return malformed(`keys: ${parsed.error.message}`);
  return ok({ registry, sequence, issuedAt, keys: parsed.value.document.keys });
}

function malformed(reason: string) {
  return fail('key_set_statement_malformed', `Malformed key set statement: ${reason}.`);
}
