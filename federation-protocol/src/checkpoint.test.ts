import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { ErrorCode, Result } from './errors.ts';
import { checkpointOf, parseCheckpoint, signCheckpoint, verifyCheckpoint, verifyConsistentWith } from './checkpoint.ts';
import type { Checkpoint } from './checkpoint.ts';
import { encodeBase64 } from './encoding.ts';
import { LOG_ORIGIN, T0, keySet, logTree, registryKey, retiredRegistryKey, strangerKey } from './testing/fixtures.ts';

function assertCode(result: Result<unknown>, code: ErrorCode): void {
  assert.ok(!result.ok, `expected ${code}, got a valid result`);
  assert.equal(result.error.code, code, result.error.message);
}

const tree = logTree(20);
const forkedTree = logTree(20, 'fork', 9); // same first 9 entries, then another history
const options = { keySet, now: T0 };

function at(size: number, source = tree): Checkpoint {
  return checkpointOf(source, { origin: LOG_ORIGIN, timestamp: T0 + size, size });
}

describe('checkpoints', () => {
  it('signs a checkpoint that verifies to the same claims', async () => {
    const checkpoint = at(12);
    const jws = await signCheckpoint(checkpoint, registryKey);
    const verified = await verifyCheckpoint(jws, { ...options, expectedOrigin: LOG_ORIGIN });
    assert.ok(verified.ok);
    assert.deepEqual(verified.value, { checkpoint, kid: registryKey.kid, jws });
    assert.equal(checkpoint.rootHash, encodeBase64(tree.rootHash(12)));
  });

  it('rejects with stable codes', async () => {
    const jws = await signCheckpoint(at(12), registryKey);
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    const otherPayload = (await signCheckpoint(at(13), registryKey)).split('.')[1];
    assertCode(await verifyCheckpoint(`${header}.${otherPayload}.${signature}`, options), 'checkpoint_bad_signature');
    assertCode(await verifyCheckpoint(await signCheckpoint(at(12), strangerKey), options), 'checkpoint_unknown_key');
    assertCode(
      await verifyCheckpoint(await signCheckpoint(at(12), retiredRegistryKey), options),
      'checkpoint_key_outside_validity',
    );
    assertCode(await verifyCheckpoint(jws, { ...options, expectedOrigin: 'other/log' }), 'checkpoint_wrong_origin');
    assertCode(await verifyCheckpoint(`${header}.${payload}`, options), 'checkpoint_malformed');
    await assert.rejects(signCheckpoint({ ...at(12), rootHash: 'short' }, registryKey), {
      code: 'checkpoint_malformed',
    });
  });

  it('validates stored checkpoint claims', () => {
    assert.ok(parseCheckpoint(at(3)).ok);
    for (const bad of [
      null,
      { ...at(3), treeSize: -1 },
      { ...at(3), origin: 'has space' },
      { ...at(3), timestamp: 1.5 },
    ]) {
      assertCode(parseCheckpoint(bad), 'checkpoint_malformed');
    }
  });

  describe('verifyConsistentWith', () => {
    it('accepts an append-only extension with its proof, and the same tree without one', () => {
      for (const [m, n] of [
        [0, 20],
        [1, 20],
        [9, 20],
        [12, 17],
        [20, 20],
      ] as const) {
        const result = verifyConsistentWith(at(m), at(n), tree.consistencyProof(m, n));
        assert.ok(result.ok, `${m} -> ${n}`);
        assert.deepEqual(result.value, at(n));
      }
    });

    it('refuses a fork: another history with its own valid-looking proof', () => {
      const proofInFork = forkedTree.consistencyProof(12, 20);
      assertCode(verifyConsistentWith(at(12), at(20, forkedTree), proofInFork), 'checkpoint_inconsistent');
      assertCode(
        verifyConsistentWith(at(12), at(20, forkedTree), tree.consistencyProof(12, 20)),
        'checkpoint_inconsistent',
      );
      assertCode(verifyConsistentWith(at(12), at(12, forkedTree), []), 'checkpoint_inconsistent');
      // Before the fork point both histories agree.
      assert.ok(verifyConsistentWith(at(9), at(20, forkedTree), forkedTree.consistencyProof(9, 20)).ok);
    });

    it('refuses a rollback, another log and a missing proof', () => {
      assertCode(verifyConsistentWith(at(15), at(12), tree.consistencyProof(12, 15)), 'checkpoint_inconsistent');
      assertCode(
        verifyConsistentWith(at(12), { ...at(20), origin: 'other/log' }, tree.consistencyProof(12, 20)),
        'checkpoint_wrong_origin',
      );
      assertCode(verifyConsistentWith(at(12), at(20), []), 'checkpoint_inconsistent');
    });
  });
});
