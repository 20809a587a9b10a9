import {
  canonicalJsonBytes,
  encodeBase64,
  leafHash,
  MerkleTree,
  parseKeySet,
  verifyCheckpoint,
} from '@caliopen/federation-protocol';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { type LogEntry, registryApi } from './api.ts';
import { formatDate } from './format.ts';
import { Link } from './Link.tsx';
import { ProofView } from './ProofView.tsx';
import {
  acceptsCurrent,
  type CheckpointVerdict,
  compareCheckpoint,
  loadSeen,
  readCheckpointJws,
  rememberSeen,
  type SeenCheckpoint,
  STORAGE_KEY,
} from './proofs/checkpoint-memory.ts';
import { type ProofReplay, replayConsistency, replayInclusion } from './proofs/proof-steps.ts';

const PAGE = 50;
const MAX_RANGE = 1000;

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** The leaf hash of an entry, recomputed here from its canonical JSON (RFC 9162: SHA-256(0x00 || entry)). */
export function recomputeLeafHash(entry: LogEntry): string {
  return encodeBase64(leafHash(canonicalJsonBytes(entry)));
}

type Row = { index: number; entry: LogEntry; leafHash: string };

export function LogScreen({ entry: selectedFromUrl }: { entry: number | null }) {
  const { t, i18n } = useTranslation();
  const lng = i18n.language;
  const [cp, setCp] = useState<SeenCheckpoint | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [verdict, setVerdict] = useState<CheckpointVerdict | null>(null);
  const [memoryProof, setMemoryProof] = useState<ProofReplay | null>(null);
  const [start, setStart] = useState<number | null>(null);
  const [rows, setRows] = useState<Row[]>([]);
  const [selected, setSelected] = useState<number | null>(selectedFromUrl);
  const [inclusion, setInclusion] = useState<{ index: number; replay: ProofReplay; leafOk: boolean } | null>(null);
  const [from, setFrom] = useState('1');
  const [consistency, setConsistency] = useState<{ from: number; replay: ProofReplay } | null>(null);
  const [busy, setBusy] = useState(false);
  const [signature, setSignature] = useState<{ ok: true; kid: string } | { ok: false; message: string } | null>(null);

  // The checkpoint, compared with the one this browser remembers.
  useEffect(() => {
    (async () => {
      const served = await registryApi.checkpoint();
      const current = readCheckpointJws(served.checkpoint);
      if (current === null) throw new Error('malformed checkpoint');
      setCp(current);
      // The checkpoint's signature, checked here with the protocol's verifyCheckpoint against the published key set.
      const keySet = parseKeySet(await registryApi.keys());
      const signed = keySet.ok
        ? await verifyCheckpoint(served.checkpoint, {
            keySet: keySet.value,
            now: Math.floor(Date.now() / 1000),
            expectedOrigin: current.origin,
          })
        : keySet;
      setSignature(signed.ok ? { ok: true, kid: signed.value.kid } : { ok: false, message: signed.error.message });
      const seen = loadSeen(storage(), current.origin);
      let v = compareCheckpoint(seen, current);
      if (v.kind === 'needs-proof' && seen) {
        const { proof } = await registryApi.consistency(seen.treeSize, current.treeSize);
        const replay = replayConsistency({
          from: seen.treeSize,
          to: current.treeSize,
          oldRoot: seen.rootHash,
          newRoot: current.rootHash,
          proof,
        });
        setMemoryProof(replay);
        v = compareCheckpoint(seen, current, replay.ok);
      }
      setVerdict(v);
      if (acceptsCurrent(v) && signed.ok) rememberSeen(storage(), current);
      setStart(
        selectedFromUrl !== null && selectedFromUrl < current.treeSize
          ? Math.floor(selectedFromUrl / PAGE) * PAGE
          : Math.max(0, Math.floor((current.treeSize - 1) / PAGE) * PAGE),
      );
      setFrom(String(Math.max(1, current.treeSize - 1)));
    })().catch((e: Error) => setError(e.message));
  }, [selectedFromUrl]);

  useEffect(() => {
    if (cp === null || start === null || cp.treeSize === 0) return;
    registryApi.entries(start, Math.min(cp.treeSize, start + PAGE)).then(
      (r) => setRows(r.entries),
      (e: Error) => setError(e.message),
    );
  }, [cp, start]);

  const verifyInclusion = useCallback(
    async (row: Row) => {
      if (cp === null) return;
      setSelected(row.index);
      setBusy(true);
      try {
        const served = await registryApi.inclusion(row.index, cp.treeSize);
        const recomputed = recomputeLeafHash(row.entry);
        const replay = replayInclusion({
          leafHash: recomputed,
          index: row.index,
          size: cp.treeSize,
          proof: served.proof,
          rootHash: cp.rootHash,
        });
        setInclusion({
          index: row.index,
          replay,
          leafOk: recomputed === served.leafHash && recomputed === row.leafHash,
        });
      } catch (e) {
        setError((e as Error).message);
      } finally {
        setBusy(false);
      }
    },
    [cp],
  );

  const verifyConsistencyFrom = useCallback(async () => {
    if (cp === null) return;
    const n = Number(from);
    if (!Number.isSafeInteger(n) || n < 1 || n > cp.treeSize) return;
    setBusy(true);
    try {
      // The old root, recomputed here from the first n entries (not taken from the registry's word).
      const tree = new MerkleTree();
      for (let s = 0; s < n; s += MAX_RANGE) {
        const page = await registryApi.entries(s, Math.min(n, s + MAX_RANGE));
        for (const e of page.entries) tree.appendEntry(canonicalJsonBytes(e.entry));
      }
      const oldRoot = encodeBase64(tree.rootHash(n));
      const { proof } = await registryApi.consistency(n, cp.treeSize);
      setConsistency({
        from: n,
        replay: replayConsistency({ from: n, to: cp.treeSize, oldRoot, newRoot: cp.rootHash, proof }),
      });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }, [cp, from]);

  const forget = () => {
    if (cp === null) return;
    try {
      storage()?.removeItem(`${STORAGE_KEY}:${cp.origin}`);
    } catch {
      // nothing remembered
    }
    rememberSeen(storage(), cp);
    setVerdict({ kind: 'first' });
  };

  return (
    <section aria-labelledby="log-title">
      <h1 id="log-title">{t('reg.log.title')}</h1>
      <p className="reg-intro">{t('reg.log.intro')}</p>
      {error && <p role="alert">{t('reg.failed', { message: error })}</p>}
      {verdict?.kind === 'inconsistent' && (
        <div className="reg-banner-danger" role="alert" data-testid="split-view">
          <strong>{t('reg.log.memory.inconsistentTitle')}</strong>
          <p>
            {t(`reg.log.memory.${verdict.reason}`, {
              size: cp?.treeSize,
              seenSize: verdict.seen.treeSize,
            })}
          </p>
          <p>{t('reg.log.memory.seen', { size: verdict.seen.treeSize, root: verdict.seen.rootHash })}</p>
          <button type="button" className="reg-button-secondary" onClick={forget}>
            {t('reg.log.memory.forget')}
          </button>
        </div>
      )}
      {cp === null && !error && <p>{t('reg.loading')}</p>}
      {cp && (
        <>
          <h2>{t('reg.log.checkpoint')}</h2>
          <dl className="reg-dl" data-testid="checkpoint">
            <dt>{t('reg.log.origin')}</dt>
            <dd>{cp.origin}</dd>
            <dt>{t('reg.log.treeSize')}</dt>
            <dd data-testid="tree-size">{cp.treeSize}</dd>
            <dt>{t('reg.log.rootHash')}</dt>
            <dd>
              <code className="reg-hash">{cp.rootHash}</code>
            </dd>
            <dt>{t('reg.log.timestamp')}</dt>
            <dd>{formatDate(cp.timestamp, lng)}</dd>
            <dt>{t('reg.log.signature')}</dt>
            <dd data-testid="signature" data-ok={signature === null ? undefined : String(signature.ok)}>
              {signature === null
                ? t('reg.loading')
                : signature.ok
                  ? `✔ ${t('reg.log.signatureOk', { kid: signature.kid })}`
                  : `✘ ${t('reg.log.signatureFailed', { message: signature.message })}`}
            </dd>
          </dl>
          {verdict && verdict.kind !== 'inconsistent' && (
            <p className="reg-memory" data-testid="memory" data-kind={verdict.kind}>
              {verdict.kind === 'first' && t('reg.log.memory.first')}
              {verdict.kind === 'same' && t('reg.log.memory.same')}
              {verdict.kind === 'extends' && t('reg.log.memory.extends', { from: verdict.from })}
              {verdict.kind === 'needs-proof' && t('reg.log.memory.needsProof', { from: verdict.from })}
            </p>
          )}
          {memoryProof && verdict && (verdict.kind === 'extends' || verdict.kind === 'inconsistent') && (
            <ProofView
              kind="consistency"
              title={t('reg.log.consistencyTitle', {
                from: verdict.kind === 'extends' ? verdict.from : verdict.seen.treeSize,
                to: cp.treeSize,
              })}
              replay={memoryProof}
              start={memoryProof.steps[0]?.before ?? null}
            />
          )}

          <h2>{t('reg.log.entries')}</h2>
          {start !== null && cp.treeSize > 0 && (
            <p>
              {t('reg.log.entriesRange', {
                start,
                end: Math.min(cp.treeSize, start + PAGE) - 1,
                size: cp.treeSize,
              })}{' '}
              {start > 0 && (
                <button
                  type="button"
                  className="reg-button-secondary"
                  onClick={() => setStart(Math.max(0, start - PAGE))}
                >
                  ←
                </button>
              )}
              {start + PAGE < cp.treeSize && (
                <button type="button" className="reg-button-secondary" onClick={() => setStart(start + PAGE)}>
                  →
                </button>
              )}
            </p>
          )}
          <div className="reg-table-wrap">
            <table className="reg-table reg-entries">
              <thead>
                <tr>
                  <th scope="col">{t('reg.log.index')}</th>
                  <th scope="col">{t('reg.log.type')}</th>
                  <th scope="col">{t('reg.log.domain')}</th>
                  <th scope="col">{t('reg.log.at')}</th>
                  <th scope="col">{t('reg.log.leaf')}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t('reg.log.verifyInclusion')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.index} data-index={r.index} aria-current={selected === r.index ? 'true' : undefined}>
                    <th scope="row">{r.index}</th>
                    <td>
                      {t(`reg.log.entryTypes.${r.entry.type}`, { defaultValue: r.entry.type })}
                      {r.entry.reason && <div className="reg-reason">{r.entry.reason}</div>}
                    </td>
                    <td>
                      <Link href={`/members/${r.entry.domain}`}>{r.entry.domain}</Link>
                    </td>
                    <td>{formatDate(r.entry.at, lng)}</td>
                    <td>
                      <code className="reg-hash" title={r.leafHash}>
                        {r.leafHash.slice(0, 12)}…
                      </code>
                    </td>
                    <td>
                      <button
                        type="button"
                        className="reg-button"
                        disabled={busy}
                        onClick={() => void verifyInclusion(r)}
                      >
                        {t('reg.log.verifyInclusion')}
                        <span className="visually-hidden"> #{r.index}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {inclusion && (
            <>
              <p data-testid="leaf-check">
                {t('reg.log.leafRecomputed', {
                  result: inclusion.leafOk ? t('reg.log.matches') : t('reg.log.differs'),
                })}
              </p>
              <ProofView
                kind="inclusion"
                title={t('reg.log.inclusionTitle', { index: inclusion.index, size: cp.treeSize })}
                replay={inclusion.replay}
                start={inclusion.replay.steps[0]?.before ?? null}
              />
            </>
          )}

          {cp.treeSize > 1 && (
            <form
              className="reg-consistency-form"
              onSubmit={(e) => {
                e.preventDefault();
                void verifyConsistencyFrom();
              }}
            >
              <h2>{t('reg.log.consistencyForm')}</h2>
              <p className="reg-hint">{t('reg.log.consistencyHint')}</p>
              <label>
                {t('reg.log.consistencyFrom')}
                <input type="number" min={1} max={cp.treeSize} value={from} onChange={(e) => setFrom(e.target.value)} />
              </label>{' '}
              <button type="submit" className="reg-button" disabled={busy}>
                {t('reg.log.verifyConsistency')}
              </button>
            </form>
          )}
          {consistency && (
            <ProofView
              kind="consistency"
              title={t('reg.log.consistencyTitle', { from: consistency.from, to: cp.treeSize })}
              replay={consistency.replay}
              start={consistency.replay.steps[0]?.before ?? null}
            />
          )}
          <p>
            <Link href="/">{t('reg.member.back')}</Link>
          </p>
        </>
      )}
    </section>
  );
}
