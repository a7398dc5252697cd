// Forwarding to upstream resolvers: an ordered list of servers (the `Upstream =` lines, or the
// nameservers of the gateway host's resolv.conf), asked one at a time.
//
// Order and failover follow what glibc users expect (resolv.conf order is a preference, the
// first server is the primary) with dnsmasq's memory of dead servers: a query goes to the first
// server; when it does not answer within the attempt timeout, fails on the network (ICMP port or
// host unreachable), or answers SERVFAIL, REFUSED or NOTIMP, the next one is asked, up to
// MAX_ATTEMPTS servers. A server that did not answer at all is tried last for HOLD_DOWN_MS, so a
// dead primary costs one timeout, not one per query. When every attempt fails, the last error
// answer received is relayed (else the caller answers SERVFAIL).
//
// Each exchange uses a fresh socket (random source port) and accepts only a reply with the query's
// ID and question; UDP first, TCP when the client used TCP or the UDP reply came back truncated.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { FrameReader, frame } from './tcp.js';
import { asciiLower } from './zone.js';

/** An upstream resolver's address; `host` may carry an IPv6 zone (`fe80::1%eth0`). */
export interface UpstreamAddress {
  host: string;
  port: number;
  family: 4 | 6;
}

/** At most this many servers are asked for one query (glibc's MAXNS). */
export const MAX_ATTEMPTS = 3;
/** A server that did not answer is tried after the others for this long (ms). */
export const HOLD_DOWN_MS = 30_000;

/** `HOST:PORT` text of an upstream (IPv6 in brackets; port 53 is shown too). */
export function formatUpstream(a: UpstreamAddress): string {
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Parses `IP`, `IPv4:PORT` or `[IPv6]:PORT` (port 53 when absent); throws naming the bad text. */
export function parseUpstream(text: string): UpstreamAddress {
  const t = text.trim();
  const bare = net.isIP(t);
  if (bare !== 0) return { host: t, port: 53, family: bare === 6 ? 6 : 4 };
  const bracket = /^\[([^\]]+)\]:([0-9]{1,5})$/.exec(t);
  const plain = /^([0-9.]+):([0-9]{1,5})$/.exec(t);
  const m = bracket ?? plain;
  const family = m ? net.isIP(m[1] as string) : 0;
  const port = m ? Number(m[2]) : 0;
  if (!m || family === 0 || (family === 6) !== (bracket !== null) || port < 1 || port > 65535) {
    throw new Error(`upstream '${text}' is not IP, IPv4:PORT or [IPv6]:PORT`);
  }
  return { host: m[1] as string, port, family: family === 6 ? 6 : 4 };
}

/** What a reply must carry: the forwarded query's ID and question. */
export interface Expected {
  id: number;
  name: string;
  type: string;
}

interface Reply {
  msg: Buffer;
  truncated: boolean;
  rcode: number;
}

/** RCODEs after which the next server is asked (as glibc does). */
const TRY_NEXT = new Set([2 /* SERVFAIL */, 4 /* NOTIMP */, 5 /* REFUSED */]);

/** Decodes a reply and checks it answers `expect`; null for anything else (ignored). */
function check(msg: Buffer, expect: Expected): Reply | null {
  try {
    const r = dnsPacket.decode(msg);
    const q = r.questions?.[0];
    if (!r.flag_qr || r.id !== expect.id || r.questions?.length !== 1 || q === undefined) return null;
    if (q.type !== expect.type || asciiLower(q.name) !== asciiLower(expect.name)) return null;
    return { msg, truncated: r.flag_tc, rcode: (r.flags ?? 0) & 0xf };
  } catch {
    return null;
  }
}

const keyOf = (a: UpstreamAddress): string => `${a.host}#${a.port}`;

/** Forwarding client for an ordered list of upstream servers (the list may change between queries). */
export class Forwarder {
  private readonly active = new Set<() => void>();
  /** Server key -> time until which it is tried last (it did not answer). */
  private readonly heldDown = new Map<string, number>();
  private pending = 0;
  private closed = false;

  /**
   * `servers()` is asked for the current list at each query. `attemptTimeoutMs` bounds one
   * exchange with one server (UDP, and again TCP after a truncated reply).
   */
  constructor(private readonly servers: () => readonly UpstreamAddress[], private readonly attemptTimeoutMs: number,
    private readonly now: () => number = Date.now) {}

  /** Exchanges in progress (for the responder's bound on concurrent forwards). */
  get inflight(): number {
    return this.pending;
  }

  /** The servers in the order the next query tries them. */
  order(): UpstreamAddress[] {
    const t = this.now();
    const list = [...this.servers()];
    const down = (a: UpstreamAddress): boolean => (this.heldDown.get(keyOf(a)) ?? 0) > t;
    return [...list.filter((a) => !down(a)), ...list.filter(down)];
  }

  /**
   * Forwards `query` and resolves with the reply bytes, or null when no server answered (or on
   * close()). `udpLimit` is the client's UDP size: a full answer fetched over TCP after a truncated
   * UDP reply is only returned when it fits, otherwise the truncated reply is (the client retries
   * over TCP itself). Never rejects.
   */
  async exchange(query: Buffer, expect: Expected, overTcp: boolean, udpLimit: number): Promise<Buffer | null> {
    this.pending++;
    try {
      let fallback: Buffer | null = null;
      for (const server of this.order().slice(0, MAX_ATTEMPTS)) {
        const r = await this.ask(server, query, expect, overTcp, udpLimit);
        if (r === 'closed') return null;
        if (r === null) {
          this.heldDown.set(keyOf(server), this.now() + HOLD_DOWN_MS);
          continue;
        }
        this.heldDown.delete(keyOf(server));
        if (!TRY_NEXT.has(r.rcode)) return r.msg;
        fallback = r.msg;
      }
      return fallback;
    } finally {
      this.pending--;
    }
  }

  /** Abandons every exchange in progress (their promises resolve with null). */
  close(): void {
    this.closed = true;
    for (const cancel of [...this.active]) cancel();
  }

  private async ask(server: UpstreamAddress, query: Buffer, expect: Expected, overTcp: boolean, udpLimit: number): Promise<Reply | null | 'closed'> {
    if (this.closed) return 'closed';
    if (overTcp) return this.settle(await this.overTcp(server, query, expect));
    const udp = await this.overUdp(server, query, expect);
    if (udp === null || !udp.truncated) return this.settle(udp);
    const full = await this.overTcp(server, query, expect);
    return this.settle(full !== null && full.msg.length <= udpLimit ? full : udp);
  }

  private settle(r: Reply | null): Reply | null | 'closed' {
    return this.closed ? 'closed' : r;
  }

  /** Runs one exchange under the deadline; `start` returns its cleanup. */
  private attempt(start: (finish: (r: Reply | null) => void) => () => void): Promise<Reply | null> {
    return new Promise((resolve) => {
      let settled = false;
      let cleanup: (() => void) | null = null;
      const finish = (r: Reply | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.active.delete(cancel);
        if (cleanup) cleanup();
        resolve(r);
      };
      const cancel = (): void => finish(null);
      const timer = setTimeout(cancel, this.attemptTimeoutMs);
      this.active.add(cancel);
      try {
        const c = start(finish);
        if (settled) c(); else cleanup = c;
      } catch {
        finish(null);
      }
    });
  }

  private overUdp(server: UpstreamAddress, query: Buffer, expect: Expected): Promise<Reply | null> {
    return this.attempt((finish) => {
      const sock = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
      sock.on('error', () => finish(null));
      sock.on('message', (msg) => {
        const r = check(msg, expect);
        if (r) finish(r);
      });
      sock.connect(server.port, server.host, () => sock.send(query));
      return () => {
        try { sock.close(); } catch { /* already closed after an error */ }
      };
    });
  }

  private overTcp(server: UpstreamAddress, query: Buffer, expect: Expected): Promise<Reply | null> {
    return this.attempt((finish) => {
      const sock = net.connect({ host: server.host, port: server.port });
      const reader = new FrameReader(65535);
      sock.setNoDelay(true);
      sock.on('connect', () => sock.write(frame(query)));
      sock.on('data', (chunk: Buffer) => {
        // After a matching reply finish() has run; 'stopped' then changes nothing.
        const status = reader.push(chunk, (msg) => {
          const r = check(msg, expect);
          if (r) finish(r);
          return r === null;
        });
        if (status !== 'ok') finish(null);
      });
      sock.on('error', () => finish(null));
      sock.on('close', () => finish(null));
      return () => sock.destroy();
    });
  }
}
