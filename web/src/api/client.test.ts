import { afterEach, describe, expect, test, vi } from 'vitest';
import { ApiClient, ApiError, sessionStore } from './client.ts';

const problem = (status: number, code: string) =>
  new Response(JSON.stringify({ type: `urn:caliopen:problem:${code}`, title: 't', status, code, requestId: 'r' }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe('ApiClient', () => {
  test('sends the bearer token and reads JSON', async () => {
    const fetchMock = vi.fn(async () => Response.json({ items: [], next: null }));
    vi.stubGlobal('fetch', fetchMock);
    const api = new ApiClient(() => 'tok');
    expect(await api.discussions('importance')).toEqual({ items: [], next: null });
    const [url, init] = fetchMock.mock.calls[0]! as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/discussions?sort=importance&limit=100');
    expect((init.headers as Record<string, string>).authorization).toBe('Bearer tok');
  });

  test('an expired, revoked or unknown token ends the session; a wrong password does not', async () => {
    for (const code of ['token_expired', 'token_revoked', 'token_invalid', 'unauthenticated']) {
      vi.stubGlobal('fetch', async () => problem(401, code));
      const ended = vi.fn();
      const error = await new ApiClient(() => 'tok', ended).discussions('date').catch((e) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect(error.code).toBe(code);
      expect(ended).toHaveBeenCalledOnce();
    }
    vi.stubGlobal('fetch', async () => problem(401, 'invalid_credentials'));
    const ended = vi.fn();
    const error = await new ApiClient(() => null, ended).login('a', 'b').catch((e) => e);
    expect(error.code).toBe('invalid_credentials');
    expect(ended).not.toHaveBeenCalled();
  });

  test('a network failure and a non-JSON error are problems too, never raw text', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    expect((await new ApiClient(() => null).discussions('date').catch((e) => e)).problem).toBe('network');
    vi.stubGlobal('fetch', async () => new Response('<html>Bad gateway</html>', { status: 502 }));
    const e = await new ApiClient(() => null).discussions('date').catch((x) => x);
    expect(e.problem).toEqual({ status: 502, code: 'http_502' });
  });
});

describe('sessionStore', () => {
  test('keeps a session until it expires', () => {
    const future = new Date(Date.now() + 60_000).toISOString();
    sessionStore.write({ token: 't', expiresAt: future, username: 'alice', displayName: 'Alice' });
    expect(sessionStore.read()?.token).toBe('t');
    sessionStore.write({
      token: 't',
      expiresAt: new Date(Date.now() - 1).toISOString(),
      username: 'a',
      displayName: '',
    });
    expect(sessionStore.read()).toBeNull();
    expect(sessionStorage.getItem('caliopen.session')).toBeNull();
  });
});
