/** Row <-> domain helpers shared by the SQLite repositories. */
export const toMs = (d: Date): number => d.getTime();
export const toMsOrNull = (d: Date | null): number | null => (d === null ? null : d.getTime());
export const fromMs = (n: number): Date => new Date(n);
export const fromMsOrNull = (n: number | null): Date | null => (n === null ? null : new Date(n));
export const jsonOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
export const parseOrNull = <T>(s: string | null): T | null => (s === null ? null : (JSON.parse(s) as T));
