/** Compresses UIDs into an IMAP sequence set: [1,2,3,7,9,10] -> "1:3,7,9:10". */
export function toSequenceSet(uids: readonly number[]): string {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i]!;
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(',');
}

export interface Batch {
  /** UIDs to fetch, ascending. */
  fetch: number[];
  /** UIDs left out: larger than the limit. */
  skipped: number[];
  /** The highest UID of the batch (fetched or skipped): the folder position once the batch is done. */
  lastUid: number;
}

/**
 * Cuts messages (UID order) into fetch batches of at most `maxCount` messages and `maxBytes` bytes (a single larger
 * message gets a batch of its own), so that no more than one batch of message bodies is in memory at once.
 * Messages above `maxMessageBytes` are skipped.
 */
export function planBatches(
  messages: readonly { uid: number; size: number }[],
  limits: { maxCount: number; maxBytes: number; maxMessageBytes: number },
): Batch[] {
  const sorted = [...messages].sort((a, b) => a.uid - b.uid);
  const batches: Batch[] = [];
  let current: Batch | null = null;
  let bytes = 0;
  for (const m of sorted) {
    if (
      current === null ||
      (m.size <= limits.maxMessageBytes &&
        (current.fetch.length >= limits.maxCount || (current.fetch.length > 0 && bytes + m.size > limits.maxBytes)))
    ) {
      current = { fetch: [], skipped: [], lastUid: m.uid };
      bytes = 0;
      batches.push(current);
    }
    if (m.size > limits.maxMessageBytes) current.skipped.push(m.uid);
    else {
      current.fetch.push(m.uid);
      bytes += m.size;
    }
    current.lastUid = m.uid;
  }
  return batches;
}
