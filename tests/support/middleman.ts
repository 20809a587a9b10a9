import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A man in the middle on loopback between a peer and a real registry: it forwards, cuts the registry off (an outage:
 * every connection reset), answers 304 to every feed request (a withheld revocation), or hands a request to `forge`
 * (an attacker's answer). What passed is in `seen`, prefixed with the mode.
 */
export class Middleman {
  mode: 'forward' | 'down' | 'withhold' | 'forge' = 'forward';
  /** In `forge` mode: the answer to a request, or null to forward it. */
  forge: (path: string) => Promise<{ status: number; type: string; body: Uint8Array | string } | null> = async () =>
    null;
  readonly seen: string[] = [];
  private server!: Server;
  url = '';

  constructor(readonly target: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    this.seen.push(`${this.mode} ${path}`);
    if (this.mode === 'down') return void req.socket.destroy();
    if (this.mode === 'withhold' && path.startsWith('/v1/index')) return void res.writeHead(304).end();
    if (this.mode === 'forge') {
      const forged = await this.forge(path);
      if (forged !== null) return void res.writeHead(forged.status, { 'content-type': forged.type }).end(forged.body);
    }
    const upstream = await fetch(`${this.target}${path}`, {
      headers:
        typeof req.headers['if-none-match'] === 'string' ? { 'if-none-match': req.headers['if-none-match'] } : {},
    });
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'etag', 'x-feed-serial']) {
      const value = upstream.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    res.writeHead(upstream.status, headers).end(Buffer.from(await upstream.arrayBuffer()));
  }
}
