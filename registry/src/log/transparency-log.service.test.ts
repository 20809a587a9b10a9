import assert from 'node:assert/strict';
import { test } from 'vitest';
import {
  canonicalJson,
  decodeBase64,
  leafHash,
  utf8Encode,
  verifyCheckpoint,
  verifyConsistentWith,
  verifyInclusion,
} from '@caliopen/federation-protocol';
import { unitRegistry } from '../testing/unit-registry.ts';
import { RegistryKeyService } from '../keys/registry-keys.service.ts';
import { TransparencyLogService } from './transparency-log.service.ts';

const NOW = new Date('2026-03-01T00:00:00.000Z');
const nowS = Math.floor(NOW.getTime() / 1000);

test('appends canonical entries, signs a checkpoint per batch, and proves inclusion and consistency', async () => {
  const r = await unitRegistry(NOW);
  try {
    const first = await r.log.append(
      [
        {
          type: 'label.issued',
          domain: 'a.test',
          labelId: 'l1',
          pi: { score: 70, level: 'protected', modelVersion: 'instance-pi/1' },
          at: nowS,
        },
      ],
      NOW,
    );
    assert.equal(first.firstIndex, 0);
    assert.equal(first.checkpoint.treeSize, 1);
    const second = await r.log.append(
      [
        { type: 'label.revoked', domain: 'a.test', labelId: 'l1', reason: 'abuse', at: nowS + 1 },
        {
          type: 'pi.changed',
          domain: 'b.test',
          pi: { score: 40, level: 'guarded', modelVersion: 'instance-pi/1' },
          at: nowS + 1,
        },
      ],
      NOW,
    );
    assert.equal(second.firstIndex, 1);
    const keySet = await r.keys.keySet();
    const cp1 = (
      await verifyCheckpoint(first.checkpoint.jws, { keySet, now: nowS, expectedOrigin: 'registry.unit.test/log' })
    ).ok;
    assert.ok(cp1);
    const checkpoint = await verifyCheckpoint(second.checkpoint.jws, { keySet, now: nowS });
    assert.ok(checkpoint.ok);
    const entries = await r.log.entries(0, 3);
    assert.deepEqual(
      entries.map((e) => (e.entry as { type: string }).type),
      ['label.issued', 'label.revoked', 'pi.changed'],
    );
    const { leafHash: leaf, proof } = await r.log.inclusionProof(1, 3);
    assert.deepEqual(leaf, leafHash(utf8Encode(canonicalJson(entries[1]!.entry))));
    assert.ok(verifyInclusion(leaf, 1, 3, proof, decodeBase64(checkpoint.value.checkpoint.rootHash)!));
    const old = await verifyCheckpoint(first.checkpoint.jws, { keySet, now: nowS });
    assert.ok(old.ok);
    assert.ok(
      verifyConsistentWith(old.value.checkpoint, checkpoint.value.checkpoint, await r.log.consistencyProof(1, 3)).ok,
    );
    await assert.rejects(r.log.entries(2, 9), /log_range_invalid|Entries are/);
    await assert.rejects(r.log.inclusionProof(3, 3));
  } finally {
    await r.close();
  }
});

test('the tree is rebuilt from the stored leaf hashes on start, and catches up with appends by another process', async () => {
  const r = await unitRegistry(NOW);
  try {
    for (let i = 0; i < 5; i++)
      await r.log.append([{ type: 'label.renewed', domain: `d${i}.test`, labelId: `l${i}`, at: nowS + i }], NOW);
    const rootBefore = (await r.log.latestCheckpoint(NOW)).jws;
    const storage = await r.reopen();
    const keys = new RegistryKeyService(storage, r.box, 'registry.unit.test');
    const reopened = await TransparencyLogService.open(storage, keys, 'registry.unit.test/log');
    assert.equal(reopened.size, 5);
    const other = await TransparencyLogService.open(storage, keys, 'registry.unit.test/log');
    await other.append(
      [{ type: 'label.lapsed', domain: 'd0.test', labelId: 'l0', reason: 'checks failing', at: nowS + 9 }],
      NOW,
    );
    assert.equal(await reopened.sync(), 6, 'the first service sees what the second appended');
    const proof = await reopened.inclusionProof(5, 6);
    assert.equal(proof.proof.length, 2);
    assert.notEqual((await reopened.latestCheckpoint(NOW)).jws, rootBefore);
  } finally {
    await r.close();
  }
});
