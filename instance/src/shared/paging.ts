/** Keyset paging over (time, id) descending: stable under inserts, cheap on every engine. */
export interface TimeCursor {
  at: Date;
  id: string;
}

export interface TimePage {
  limit: number;
  /** Return items strictly older than this cursor (in (at desc, id desc) order). */
  before?: TimeCursor;
}

export function encodeCursor(c: TimeCursor): string {
  return Buffer.from(`${c.at.getTime()}:${c.id}`, 'utf8').toString('base64url');
}

/** Parses a cursor made by `encodeCursor`; returns null for anything else. */
export function decodeCursor(s: string): TimeCursor | null {
  const raw = Buffer.from(s, 'base64url').toString('utf8');
  const m = /^(\d{1,15}):([A-Za-z0-9-]{1,64})$/.exec(raw);
  if (!m) return null;
  return { at: new Date(Number(m[1])), id: m[2]! };
}

/** A page of results as the API gives it. */
export interface Page<T> {
  items: T[];
  /** Opaque cursor of the next page, null on the last one. */
  next: string | null;
}
