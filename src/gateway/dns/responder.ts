// The gateway's DNS responder: answers A/AAAA for the project's host names (`app`, `app.zerops`)
// and the gateway's own name on UDP and TCP, authoritatively, with negative answers that carry an
// SOA so resolvers cache them sensibly; forwards every other name to the configured upstream
// resolver or refuses it. Host table, domain and upstream can be replaced while it runs (live
// config apply) without rebinding. Malformed input is counted and dropped (UDP) or ends the TCP
// connection; no input makes it throw.
import dgram from 'node:dgram';
import net from 'node:net';
import type { DecodedPacket, Question, SoaAnswer, StringAnswer } from 'dns-packet';
import type { Logger } from '../../device/log.js';
import { RCODE, encodeResponse, parseQuery, type ResponseBody } from './message.js';
import { FrameReader, frame } from './tcp.js';
import { Upstream, parseUpstream } from './upstream.js';
import { DnsZone, type GatewayName, type HostsInput, type NameRecords } from './zone.js';

export type { GatewayName, HostsInput } from './zone.js';

/** Construction options of DnsResponder; only the data options can change later (set*). */
export interface DnsResponderOptions {
  /** Domain of the project network (`zerops`); undefined: only the bare host names answer. */
  domain?: string;
  /** Host name -> addresses (IPv4 and/or IPv6). Names are DNS names, case-insensitive. */
  hosts?: HostsInput;
  /** The gateway's own name (default `gateway`) and tunnel address(es). */
  gateway?: GatewayName;
  /** Resolver for names outside the domain: `IP`, `IPv4:PORT` or `[IPv6]:PORT`. Absent: REFUSED. */
  upstream?: string;
  /** TTL of every record, and the negative-caching TTL (SOA minimum), in seconds. Default 30. */
  ttl?: number;
  logger?: Pick<Logger, 'verbose' | 'error'>;
  /** Deadline of one upstream exchange (UDP, and again TCP after truncation), ms. Default 2000. */
  upstreamTimeoutMs?: number;
  /** A TCP connection without traffic for this long is closed, ms. Default 10000. */
  tcpIdleTimeoutMs?: number;
  /** Concurrent TCP connections; further ones are dropped by the server. Default 64. */
  maxTcpConnections?: number;
  /** Concurrent forwarded queries; beyond it clients get SERVFAIL. Default 256. */
  maxForwards?: number;
}

/**
 * Counters since construction. Every received message counts in `queries` and then in exactly one
 * of: answered (authoritative NOERROR, including NODATA), nxdomain, refused, forwarded (sent
 * upstream), malformed (dropped or TCP connection closed), formerr (incl. EDNS BADVERS), notimp, or
 * servfail when too many forwards are in flight. `servfail` also counts forwards that got no
 * upstream answer (those are already in `forwarded`).
 */
export interface DnsCounters {
  queries: number;
  answered: number;
  nxdomain: number;
  refused: number;
  forwarded: number;
  malformed: number;
  formerr: number;
  notimp: number;
  servfail: number;
}

/** Largest query accepted (UDP datagram or TCP message); real queries are a few hundred bytes. */
const MAX_QUERY = 4096;
/** Per TCP connection: queries awaiting an answer before the connection stops being read. */
const TCP_MAX_WAITING = 16;
/** Per TCP connection: unsent response bytes before the connection stops being read. */
const TCP_MAX_UNSENT = 64 * 1024;
/** Port retries when listening on port 0 and the UDP port picked is taken for TCP. */
const PORT_ATTEMPTS = 10;

type Send = (msg: Buffer) => void;

/**
 * The DNS server of the gateway (one UDP socket + one TCP listener on the same address and port).
 * Construct, `listen()`, update with setHosts/setDomain/setUpstream at any time, `close()`.
 */
export class DnsResponder {
  private zone: DnsZone;
  private hosts: Map<string, string[]>;
  private serial = Math.floor(Date.now() / 1000) >>> 0;
  /** The zone's SOA (authority section of negative answers); none without a domain. */
  private soa: SoaAnswer[] = [];
  private upstream: Upstream | null = null;
  private readonly gateway: GatewayName | undefined;
  private readonly ttl: number;
  private readonly log: Pick<Logger, 'verbose' | 'error'> | undefined;
  private readonly upstreamTimeoutMs: number;
  private readonly tcpIdleTimeoutMs: number;
  private readonly maxTcpConnections: number;
  private readonly maxForwards: number;
  private readonly stats: DnsCounters = {
    queries: 0, answered: 0, nxdomain: 0, refused: 0, forwarded: 0, malformed: 0, formerr: 0, notimp: 0, servfail: 0,
  };
  private readonly scratch = Buffer.alloc(1024);
  private readonly conns = new Set<net.Socket>();
  private udp: dgram.Socket | null = null;
  private tcp: net.Server | null = null;
  private boundPort = 0;
  private state: 'new' | 'listening' | 'closed' = 'new';

  /** Validates everything up front: throws on a bad domain, host, address, upstream or limit. */
  constructor(opts: DnsResponderOptions = {}) {
    this.ttl = intAtLeast(opts.ttl ?? 30, 'ttl', 0);
    this.upstreamTimeoutMs = intAtLeast(opts.upstreamTimeoutMs ?? 2000, 'upstreamTimeoutMs', 1);
    this.tcpIdleTimeoutMs = intAtLeast(opts.tcpIdleTimeoutMs ?? 10_000, 'tcpIdleTimeoutMs', 1);
    this.maxTcpConnections = intAtLeast(opts.maxTcpConnections ?? 64, 'maxTcpConnections', 1);
    this.maxForwards = intAtLeast(opts.maxForwards ?? 256, 'maxForwards', 1);
    this.gateway = opts.gateway;
    this.log = opts.logger;
    this.hosts = copyHosts(opts.hosts ?? {});
    this.zone = this.rebuild(opts.domain, this.hosts);
    this.setUpstream(opts.upstream);
  }

  /** Replaces the host table (same domain). Throws, keeping the old table, when it is invalid. */
  setHosts(hosts: HostsInput): void {
    const copy = copyHosts(hosts);
    this.zone = this.rebuild(this.zone.domain, copy);
    this.hosts = copy;
  }

  /** Replaces the domain (same hosts); undefined or '' = no domain. Throws when invalid. */
  setDomain(domain: string | undefined): void {
    this.zone = this.rebuild(domain, this.hosts);
  }

  /**
   * Replaces the upstream resolver (undefined: none, names outside the domain get REFUSED).
   * Forwards still in flight to a replaced upstream are abandoned (their clients get SERVFAIL).
   */
  setUpstream(upstream: string | undefined): void {
    const next = upstream === undefined || upstream === '' ? null : parseUpstream(upstream);
    const cur = this.upstream?.address;
    if (next !== null && cur !== undefined && next.host === cur.host && next.port === cur.port) return;
    this.upstream?.close();
    this.upstream = next === null ? null : new Upstream(next, this.upstreamTimeoutMs);
  }

  /** Counters since construction (a snapshot). */
  get counters(): Readonly<DnsCounters> {
    return { ...this.stats };
  }

  /** The bound port (useful after listen(addr, 0)); 0 when not listening. */
  get port(): number {
    return this.boundPort;
  }

  /**
   * Binds UDP and TCP on `address`:`port` (the same port for both; port 0 picks a free one, see
   * `port`). Rejects when the address cannot be bound; call once.
   */
  async listen(address: string, port = 53): Promise<void> {
    if (this.state !== 'new') throw new Error(`DnsResponder is already ${this.state}`);
    const family = net.isIP(address);
    if (family === 0) throw new Error(`DNS listen address '${address}' is not an IP address`);
    this.state = 'listening';
    for (let attempt = 1; ; attempt++) {
      const udp = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      udp.on('message', (msg, rinfo) => this.onDatagram(udp, msg, rinfo));
      try {
        await bindUdp(udp, address, port);
      } catch (e) {
        this.resetAfterFailedListen();
        throw e;
      }
      const bound = udp.address().port;
      const tcp = net.createServer((sock) => this.onConnection(sock));
      tcp.maxConnections = this.maxTcpConnections;
      try {
        await listenTcp(tcp, address, bound);
      } catch (e) {
        udp.close();
        if (port === 0 && attempt < PORT_ATTEMPTS && errnoCode(e) === 'EADDRINUSE') continue;
        this.resetAfterFailedListen();
        throw e;
      }
      udp.on('error', (e) => this.log?.error(`dns: UDP socket: ${e.message}`));
      tcp.on('error', (e) => this.log?.error(`dns: TCP server: ${e.message}`));
      tcp.on('drop', () => this.log?.verbose(`dns: TCP connection refused: ${this.maxTcpConnections} already open`));
      this.udp = udp;
      this.tcp = tcp;
      this.boundPort = bound;
      // close() may have run while binding: it could not see these sockets then.
      if (this.isClosed()) await this.close();
      return;
    }
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private resetAfterFailedListen(): void {
    if (!this.isClosed()) this.state = 'new';
  }

  /** Stops listening, closes TCP connections and abandons forwards in flight. Idempotent. */
  async close(): Promise<void> {
    this.state = 'closed';
    this.upstream?.close();
    for (const sock of this.conns) sock.destroy();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = null;
    this.tcp = null;
    this.boundPort = 0;
    await Promise.all([
      udp ? new Promise<void>((resolve) => udp.close(() => resolve())) : undefined,
      tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : undefined,
    ]);
  }

  private rebuild(domain: string | undefined, hosts: Map<string, string[]>): DnsZone {
    const zone = new DnsZone(domain, hosts, this.gateway);
    this.serial = (this.serial + 1) >>> 0;
    this.soa = zone.domain === undefined ? [] : [{
      type: 'SOA', name: zone.domain, ttl: this.ttl, class: 'IN',
      data: {
        mname: `${zone.gatewayName}.${zone.domain}`, rname: `hostmaster.${zone.domain}`, serial: this.serial,
        refresh: 3600, retry: 600, expire: 86400, minimum: this.ttl,
      },
    }];
    return zone;
  }

  private onDatagram(udp: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.handle(msg, false, (out) => {
      if (this.udp === udp) udp.send(out, rinfo.port, rinfo.address);
    });
  }

  private onConnection(sock: net.Socket): void {
    if (this.state === 'closed') {
      sock.destroy();
      return;
    }
    this.conns.add(sock);
    sock.setNoDelay(true);
    sock.setTimeout(this.tcpIdleTimeoutMs, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', (e) => this.log?.verbose(`dns: TCP client ${sock.remoteAddress ?? '?'}: ${e.message}`));
    const reader = new FrameReader(MAX_QUERY);
    // Each handled query is answered through `send` exactly once (at once, or after a forward).
    let waiting = 0;
    const throttle = (): void => {
      if (waiting >= TCP_MAX_WAITING || sock.writableLength > TCP_MAX_UNSENT) sock.pause();
      else if (sock.isPaused()) sock.resume();
    };
    const send: Send = (out) => {
      waiting--;
      if (sock.destroyed) return;
      sock.write(frame(out));
      throttle();
    };
    sock.on('drain', throttle);
    sock.on('data', (chunk: Buffer) => {
      const status = reader.push(chunk, (msg) => {
        waiting++;
        return this.handle(msg, true, send);
      });
      if (status === 'oversize') {
        this.stats.queries++;
        this.drop('TCP message longer than the bound');
      }
      if (status === 'ok') throttle();
      else sock.destroy();
    });
  }

  /** Handles one message; false when it was malformed (a TCP connection is then closed). */
  private handle(msg: Buffer, overTcp: boolean, send: Send): boolean {
    this.stats.queries++;
    if (msg.length > MAX_QUERY) return this.drop(`${msg.length}-byte message`);
    const inc = parseQuery(msg, this.scratch);
    if (inc.kind === 'drop') return this.drop(inc.reason);
    const ra = this.upstream !== null;
    if (inc.kind === 'reject') {
      if (inc.rcode === RCODE.NOTIMP) this.stats.notimp++;
      else this.stats.formerr++;
      this.log?.verbose(`dns: rejected query (${inc.reason}), rcode ${inc.rcode}`);
      send(encodeResponse(inc.request, undefined, inc.rcode, { aa: false, ra }, inc.edns, {}, Infinity));
      return true;
    }
    const { request, question, edns } = inc;
    const limit = overTcp ? Infinity : inc.udpLimit;
    const reply = (rcode: number, aa: boolean, body: ResponseBody): void =>
      send(encodeResponse(request, question, rcode, { aa, ra }, edns, body, limit));
    const found = this.zone.lookup(question.name);
    if (found === 'outside') {
      this.forward(msg, request, question, overTcp, limit, reply, send);
    } else if ((question.class !== 'IN' && question.class !== 'ANY') || question.type === 'AXFR' || question.type === 'IXFR') {
      // Only class IN exists here, and the zone is not offered for transfer.
      this.stats.refused++;
      reply(RCODE.REFUSED, false, {});
    } else if (found === 'nxdomain') {
      this.stats.nxdomain++;
      reply(RCODE.NXDOMAIN, true, { authorities: this.soa });
    } else {
      this.stats.answered++;
      reply(RCODE.NOERROR, true, found === 'apex' ? this.apex(question) : this.records(question, found));
    }
    return true;
  }

  private drop(reason: string): false {
    this.stats.malformed++;
    this.log?.verbose(`dns: dropped message (${reason})`);
    return false;
  }

  /** A/AAAA of a name; NODATA (SOA in authority) when it has none of the asked type. */
  private records(question: Question, rec: NameRecords): ResponseBody {
    const type = question.type;
    const list = type === 'A' ? rec.v4 : type === 'AAAA' ? rec.v6 : [];
    if (list.length === 0) return { authorities: this.soa };
    return { answers: list.map((data): StringAnswer => ({ type: type === 'A' ? 'A' : 'AAAA', name: question.name, ttl: this.ttl, class: 'IN', data })) };
  }

  /** The domain apex: its SOA, its NS (the gateway, with glue), NODATA for anything else. */
  private apex(question: Question): ResponseBody {
    const zone = this.zone;
    const [soa] = this.soa;
    if (question.type === 'SOA' && soa) return { answers: [{ ...soa, name: question.name }] };
    if (question.type !== 'NS') return { authorities: this.soa };
    const ns = `${zone.gatewayName}.${zone.domain ?? ''}`;
    const glue = zone.records(zone.gatewayName);
    const additionals: StringAnswer[] = [
      ...(glue?.v4 ?? []).map((data): StringAnswer => ({ type: 'A', name: ns, ttl: this.ttl, class: 'IN', data })),
      ...(glue?.v6 ?? []).map((data): StringAnswer => ({ type: 'AAAA', name: ns, ttl: this.ttl, class: 'IN', data })),
    ];
    return { answers: [{ type: 'NS', name: question.name, ttl: this.ttl, class: 'IN', data: ns }], additionals };
  }

  private forward(msg: Buffer, request: DecodedPacket, question: Question, overTcp: boolean, limit: number,
    reply: (rcode: number, aa: boolean, body: ResponseBody) => void, send: Send): void {
    const upstream = this.upstream;
    if (upstream === null) {
      this.stats.refused++;
      reply(RCODE.REFUSED, false, {});
      return;
    }
    if (upstream.inflight >= this.maxForwards) {
      this.stats.servfail++;
      reply(RCODE.SERVFAIL, false, {});
      return;
    }
    this.stats.forwarded++;
    const done = (answer: Buffer | null): void => {
      if (this.state === 'closed') return;
      if (answer !== null) {
        send(answer);
        return;
      }
      this.stats.servfail++;
      const up = upstream.address;
      this.log?.verbose(`dns: no answer from upstream ${up.host}:${up.port} for ${question.name} ${question.type}`);
      reply(RCODE.SERVFAIL, false, {});
    };
    upstream.exchange(msg, { id: request.id ?? 0, name: question.name, type: question.type }, overTcp, limit)
      .then(done, () => done(null));
  }
}

function intAtLeast(v: number, what: string, min: number): number {
  if (!Number.isInteger(v) || v < min || v > 0x7fffffff) throw new Error(`${what} must be an integer >= ${min}, got ${v}`);
  return v;
}

function copyHosts(hosts: HostsInput): Map<string, string[]> {
  const entries = hosts instanceof Map ? [...hosts.entries()] : Object.entries(hosts);
  return new Map(entries.map(([name, addrs]) => [name, [...addrs]]));
}

function errnoCode(e: unknown): string | undefined {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

function bindUdp(udp: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (e: Error): void => {
      try { udp.close(); } catch { /* never bound */ }
      reject(e);
    };
    udp.once('error', fail);
    udp.bind({ address, port, exclusive: true }, () => {
      udp.off('error', fail);
      resolve();
    });
  });
}

function listenTcp(server: net.Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
