/**
 * The instance's side of the registry API: apply, follow the application, ask for verification. Plain fetch; every
 * non-2xx answer becomes a RegistryClientError carrying the registry's problem code and text.
 */
export class RegistryClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryClientError';
  }
}

export interface ApplicationBody {
  domain: string;
  endpoints: { https: string; smtp?: string };
  keys: { signing: { kty: string; crv: string; x: string }; encryption: { kty: string; crv: string; x: string } };
  certificatePem: string;
  declaration: string;
  listed?: boolean;
}

export interface ApplyAnswer {
  id: string;
  domain: string;
  status: string;
  token: string;
  challenge: { token: string; value: string; dns: { name: string; value: string }; https: { url: string } };
}

export interface CheckView {
  id: string;
  status: 'pass' | 'fail' | 'notice' | 'info';
  points: number;
  maxPoints: number;
  mandatory: boolean;
  evidence: string;
}

export interface ApplicationView {
  id: string;
  domain: string;
  status: string;
  checks: { mandatoryPassed: boolean; results: CheckView[] } | null;
  votes: { approvals: number; objections: number; approvalsRequired: number; objectionReasons: string[] };
  decision: { reached: boolean; blockers: string[] };
  label: {
    id: string;
    status: string;
    expiresAt: string;
    revokedAt: string | null;
    revocationReason: string | null;
  } | null;
}

export class RegistryClient {
  private readonly base: string;

  constructor(baseUrl: string) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async call<T>(method: string, path: string, options: { body?: unknown; token?: string } = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          'user-agent': 'caliopen-cli/0.1.0',
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (e) {
      throw new RegistryClientError(
        0,
        'registry_unreachable',
        `The registry at ${this.base} cannot be reached: ${(e as Error).message}`,
      );
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const p = (json ?? {}) as { code?: string; title?: string; detail?: string };
      throw new RegistryClientError(
        res.status,
        p.code ?? 'registry_error',
        p.detail ?? p.title ?? `HTTP ${res.status}`,
      );
    }
    return json as T;
  }

  apply(body: ApplicationBody): Promise<ApplyAnswer> {
    return this.call('POST', '/v1/applications', { body });
  }

  application(id: string, token: string): Promise<ApplicationView> {
    return this.call('GET', `/v1/applications/${encodeURIComponent(id)}`, { token });
  }

  verify(id: string, token: string): Promise<{ application: ApplicationView }> {
    return this.call('POST', `/v1/applications/${encodeURIComponent(id)}/verify`, { token });
  }

  /** The instance's renewed certificate replaces the declared one; the registry runs its checks again. */
  replaceCertificate(id: string, token: string, certificatePem: string): Promise<{ application: ApplicationView }> {
    return this.call('PUT', `/v1/applications/${encodeURIComponent(id)}/certificate`, {
      token,
      body: { certificatePem },
    });
  }
}
