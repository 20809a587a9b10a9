import assert from 'node:assert/strict';

/** One answer of a JSON API: the body parsed when it is JSON (else null), its text and its bytes. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
  bytes: Uint8Array;
}

export interface ApiOptions {
  token?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export type Api = (method: string, path: string, options?: ApiOptions) => Promise<ApiResponse>;

/** fetch against `url` with JSON in and out; `token` adds the bearer header, `rawBody` is sent as it is. */
export function jsonApi(url: string): Api {
  return async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | undefined;
    if (o.rawBody !== undefined) body = o.rawBody;
    else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, headers: res.headers, body: parsed, text, bytes };
  };
}

/** The body of an answer with this status (200 unless said); else fails, showing the start of what came. */
export function ok(r: ApiResponse, status = 200): any {
  assert.equal(r.status, status, `${r.status} ${r.text.slice(0, 500)}`);
  return r.body;
}

/** Checks an answer is an application/problem+json with this status; resolves its body. */
export function problemBody(r: ApiResponse, status: number, what: string): any {
  assert.equal(r.status, status, `${what}: expected ${status}, got ${r.status} ${r.text.slice(0, 300)}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  return r.body;
}

interface SqliteDatabase {
  prepare(sql: string): { all(): unknown[] };
}

/** Every row of every table of a SQLite database, in a stable order: what "nothing stored changed" compares. */
export function tablesSnapshot(db: SqliteDatabase): string {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
    name: string;
  }[];
  return JSON.stringify(
    tables.map(({ name }) => [
      name,
      db
        .prepare(`SELECT * FROM "${name}"`)
        .all()
        .map((row) => JSON.stringify(row))
        .sort(),
    ]),
  );
}
