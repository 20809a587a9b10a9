import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect, createServer, type Server as TcpServer, type Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';

/**
 * The local federation's name server: one address (UDP and TCP) that answers for every `.test` zone of the
 * federation by relaying each question to the responder authoritative for it (the instance's own `dns.enabled`
 * responder), and relays anything else to `fallback` (the system's resolver) or refuses it. It is what a parent
 * zone's delegation does on the internet: the registry's checks, the instances' key lookups and their SPF/DKIM
 * checks all point here, so `alpha.test` finds `beta.test`'s records without touching /etc/hosts.
 *
 * A relay, not a resolver: it keeps nothing, answers nothing itself except REFUSED (no zone, no fallback) and
 * SERVFAIL (the upstream did not answer in time), and listens on loopback only.
 */
export interface ZoneRoute {
  zone: string;
  host: string;
  port: number;
}

export interface LoopbackResolverOptions {
  host?: string;
  port: number;
  routes: readonly ZoneRoute[];
  fallback?: { host: string; port: number } | null;
  timeoutMs?: number;
}

export interface LoopbackResolver {
  host: string;
  port: number;
  close(): Promise<void>;
}

const MAX_TCP_MESSAGE = 65535;
const MAX_TCP_CONNECTIONS = 64;
const TCP_IDLE_MS = 10_000;
const RCODE_SERVFAIL = 2;
const RCODE_REFUSED = 5;

export async function startLoopbackResolver(options: LoopbackResolverOptions): Promise<LoopbackResolver> {
  const host = options.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? 3000;
  const routes = options.routes.map((r) => ({ ...r, zone: r.zone.toLowerCase().replace(/\.$/, '') }));

  /** The upstream for a question, or null (refused). */
  const upstreamFor = (name: string): { host: string; port: number } | null => {
    const n = name.toLowerCase().replace(/\.$/, '');
    const route = routes.find((r) => n === r.zone || n.endsWith(`.${r.zone}`));
    return route ?? options.fallback ?? null;
  };

  /** The question of a query, or null when the bytes are not a query we relay (those get no answer). */
  const questionOf = (message: Buffer): { id: number; rd: boolean; questions: dnsPacket.Question[] } | null => {
    try {
      const decoded = dnsPacket.decode(message);
      if (decoded.type !== 'query' || decoded.questions?.length !== 1) return null;
      return {
        id: decoded.id ?? 0,
        rd: ((decoded.flags ?? 0) & dnsPacket.RECURSION_DESIRED) !== 0,
        questions: decoded.questions,
      };
    } catch {
      return null;
    }
  };

  const failure = (q: NonNullable<ReturnType<typeof questionOf>>, rcode: number): Buffer =>
    dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: (q.rd ? dnsPacket.RECURSION_DESIRED : 0) | rcode,
      questions: q.questions,
    });

  // UDP: each question relayed from its own socket (a random source port per question), the answer passed back as is.
  const newUdpSocket = (): UdpSocket => {
    const udp = createSocket('udp4');
    udp.on('message', (message, client) => {
      const q = questionOf(message);
      if (q === null) return;
      const upstream = upstreamFor(q.questions[0]!.name);
      if (upstream === null) return void udp.send(failure(q, RCODE_REFUSED), client.port, client.address);
      const relay = createSocket(upstream.host.includes(':') ? 'udp6' : 'udp4');
      let finished = false;
      const timer = setTimeout(() => done(failure(q, RCODE_SERVFAIL)), timeoutMs);
      const done = (answer: Buffer) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        relay.close();
        udp.send(answer, client.port, client.address);
      };
      relay.on('error', () => done(failure(q, RCODE_SERVFAIL)));
      relay.on('message', (answer) => done(answer));
      relay.connect(upstream.port, upstream.host, () => relay.send(message));
    });
    return udp;
  };

  // TCP: length-prefixed messages; each one relayed over its own upstream connection.
  const connections = new Set<TcpSocket>();
  const tcp: TcpServer = createServer((socket) => {
    if (connections.size >= MAX_TCP_CONNECTIONS) return void socket.destroy();
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        void relayTcp(message).then((answer) => {
          if (answer !== null && !socket.destroyed) socket.write(frame(answer));
        });
      }
      if (buffered.length > 2 + MAX_TCP_MESSAGE) socket.destroy();
    });
  });

  const relayTcp = async (message: Buffer): Promise<Buffer | null> => {
    const q = questionOf(message);
    if (q === null) return null;
    const upstream = upstreamFor(q.questions[0]!.name);
    if (upstream === null) return failure(q, RCODE_REFUSED);
    return new Promise((resolve) => {
      const out = tcpConnect({ host: upstream.host, port: upstream.port });
      let got = Buffer.alloc(0);
      let finished = false;
      const finish = (answer: Buffer) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        out.destroy();
        resolve(answer);
      };
      const timer = setTimeout(() => finish(failure(q, RCODE_SERVFAIL)), timeoutMs);
      out.on('connect', () => out.write(frame(message)));
      out.on('error', () => finish(failure(q, RCODE_SERVFAIL)));
      out.on('close', () => finish(failure(q, RCODE_SERVFAIL)));
      out.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) finish(got.subarray(2, 2 + got.readUInt16BE(0)));
      });
    });
  };

  // The same port for both; either failing to bind stops the start (EADDRINUSE names the port). With port 0 the
  // system picks the UDP port, whose TCP twin another process may hold: then another port is tried.
  let udp = newUdpSocket();
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(options.port, host, () => {
        udp.off('error', reject);
        udp.on('error', () => {});
        resolve();
      });
    });
    port = udp.address().port;
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (e) {
      await new Promise<void>((r) => udp.close(() => r()));
      if (options.port !== 0 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw e;
      udp = newUdpSocket();
    }
  }

  return {
    host,
    port,
    close: async () => {
      for (const c of connections) c.destroy();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    },
  };
}

function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}
