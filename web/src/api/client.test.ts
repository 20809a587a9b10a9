import { afterEach, describe, expect, test, vi } from 'vitest';
import { ApiClient, ApiError, deviceStore, sessionStore } from './client.ts';

const problem = (status: number, code: string) =>
  new Response(JSON.stringify({ type: `urn:caliopen:problem:${code}`, title: 't', status, code, requestId: 'r' }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
  localStorage.clear();
});

describe('ApiClient', () => {
  test('sends the bearer token and reads JSON', async () => {
    const fetchMock = vi.fn(async () => Response.json({ items: [], next: null }));
    vi.stubGlobal('fetch', fetchMock);
    const api = new ApiClient(() => 'tok');
    expect(await api.discussions('importance')).toEqual({ items: [], next: null });
    const [url, init] = fetchMock.mock.calls[0]! as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/discussions?sort=importance&limit=100&include=trust');
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

describe('the device id of this browser', () => {
  const DEVICE = '6f1c1e0a-3b9e-4c43-9d0e-2f8f0a6b7c11';
  const reply = (deviceId: string) =>
    Response.json({
      token: 't',
      tokenType: 'Bearer',
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      account: { username: 'alice' },
      device: { id: deviceId },
    });

  test('the first sign-in sends no id and no name; the next one sends back the id it got, per account', async () => {
    const fetchMock = vi.fn(async () => reply(DEVICE));
    vi.stubGlobal('fetch', fetchMock);
    const api = new ApiClient(() => null);
    await api.login('Alice', 'pw');
    await api.login('alice', 'pw');
    await api.login('bob', 'pw');
    const bodies = fetchMock.mock.calls.map((c) =>
      JSON.parse((c as unknown as [string, RequestInit])[1].body as string),
    );
    expect(bodies[0]).toEqual({ username: 'Alice', password: 'pw' });
    expect(bodies[1]).toEqual({ username: 'alice', password: 'pw', deviceId: DEVICE });
    expect(bodies[2]).toEqual({ username: 'bob', password: 'pw' });
  });

  test('a failed sign-in keeps the id; a stored value that is not an id is never sent', async () => {
    deviceStore.write('alice', DEVICE);
    vi.stubGlobal('fetch', async () => problem(401, 'invalid_credentials'));
    await new ApiClient(() => null).login('alice', 'bad').catch(() => {});
    expect(deviceStore.read('alice')).toBe(DEVICE);
    localStorage.setItem('caliopen.devices', JSON.stringify({ alice: '../../etc' }));
    expect(deviceStore.read('alice')).toBeNull();
    localStorage.setItem('caliopen.devices', '[not json');
    expect(deviceStore.read('alice')).toBeNull();
    deviceStore.write('alice', DEVICE);
    expect(deviceStore.read('alice')).toBe(DEVICE);
  });
});
