// Forwarding of names outside the gateway's domain to the configured upstream resolver. The
// client's query is sent unchanged (so its ID and EDNS options are preserved) from a fresh socket
// per query (random source port); only a reply with the same ID and question is accepted.
// UDP first, TCP when the client used TCP or the UDP reply came back truncated. Every exchange has
// a deadline; nothing is retried.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { FrameReader, frame } from './tcp.js';
import { asciiLower } from './zone.js';

/** The upstream resolver's address. */
export interface UpstreamAddress {
  host: string;
  port: number;
  family: 4 | 6;
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
}

/** Decodes a reply and checks it answers `expect`; null for anything else (ignored). */
function check(msg: Buffer, expect: Expected): Reply | null {
  try {
    const r = dnsPacket.decode(msg);
    const q = r.questions?.[0];
    if (!r.flag_qr || r.id !== expect.id || r.questions?.length !== 1 || q === undefined) return null;
    if (q.type !== expect.type || asciiLower(q.name) !== asciiLower(expect.name)) return null;
    return { msg, truncated: r.flag_tc };
  } catch {
    return null;
  }
}

/** The forwarding client for one upstream resolver. */
export class Upstream {
  private readonly active = new Set<() => void>();
  private pending = 0;

  constructor(readonly address: UpstreamAddress, private readonly timeoutMs: number) {}

  /** Exchanges in progress (for the responder's bound on concurrent forwards). */
  get inflight(): number {
    return this.pending;
  }

  /**
   * Forwards `query` and resolves with the upstream's reply bytes, or null on timeout, error or
   * close(). `udpLimit` is the client's UDP size: a full answer fetched over TCP after a truncated
   * UDP reply is only returned when it fits, otherwise the truncated reply is (the client retries
   * over TCP itself).
   */
  async exchange(query: Buffer, expect: Expected, overTcp: boolean, udpLimit: number): Promise<Buffer | null> {
    this.pending++;
    try {
      if (overTcp) return (await this.overTcp(query, expect))?.msg ?? null;
      const udp = await this.overUdp(query, expect);
      if (udp === null || !udp.truncated) return udp?.msg ?? null;
      const full = await this.overTcp(query, expect);
      return full !== null && full.msg.length <= udpLimit ? full.msg : udp.msg;
    } finally {
      this.pending--;
    }
  }

  /** Abandons every exchange in progress (their promises resolve with null). */
  close(): void {
    for (const cancel of [...this.active]) cancel();
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
      const timer = setTimeout(cancel, this.timeoutMs);
      this.active.add(cancel);
      try {
        const c = start(finish);
        if (settled) c(); else cleanup = c;
      } catch {
        finish(null);
      }
    });
  }

  private overUdp(query: Buffer, expect: Expected): Promise<Reply | null> {
    return this.attempt((finish) => {
      const sock = dgram.createSocket(this.address.family === 6 ? 'udp6' : 'udp4');
      sock.on('error', () => finish(null));
      sock.on('message', (msg) => {
        const r = check(msg, expect);
        if (r) finish(r);
      });
      sock.connect(this.address.port, this.address.host, () => sock.send(query));
      return () => {
        try { sock.close(); } catch { /* already closed after an error */ }
      };
    });
  }

  private overTcp(query: Buffer, expect: Expected): Promise<Reply | null> {
    return this.attempt((finish) => {
      const sock = net.connect({ host: this.address.host, port: this.address.port });
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
