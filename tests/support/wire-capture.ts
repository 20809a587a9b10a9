import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay that records every byte crossing it, both ways: what a passive observer on the path between two
 * instances sees. Listens on `listenPort` (loopback) and forwards each connection to `targetPort`. When the target
 * is down, the connection is accepted and closed at once (the attempt is still counted).
 */
export interface WireCapture {
  /** Connections accepted so far. */
  readonly connections: number;
  /** Every byte seen so far, client-to-server and server-to-client, in arrival order. */
  bytes(): Buffer;
  /** Client-to-server bytes of each connection (its first record is the TLS ClientHello). */
  clientStreams(): Buffer[];
  reset(): void;
  close(): Promise<void>;
}

export async function startWireCapture(listenPort: number, targetPort: number): Promise<WireCapture> {
  let chunks: Buffer[] = [];
  let streams: Buffer[][] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    connections++;
    const mine: Buffer[] = [];
    streams.push(mine);
    sockets.add(client);
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    sockets.add(upstream);
    client.on('data', (d: Buffer) => {
      chunks.push(d);
      mine.push(d);
    });
    upstream.on('data', (d: Buffer) => chunks.push(d));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  return {
    get connections() {
      return connections;
    },
    bytes: () => Buffer.concat(chunks),
    clientStreams: () => streams.map((s) => Buffer.concat(s)),
    reset() {
      chunks = [];
      streams = [];
      connections = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
