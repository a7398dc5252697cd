// The gateway's DNS responder: answers A/AAAA for the project's host names (`app`, `app.zerops`)
// and the gateway's own name on UDP and TCP, authoritatively, with negative answers that carry an
// SOA so resolvers cache them sensibly. Names it does not hold go upstream (upstream.ts): names
// outside the domain are forwarded as asked; a bare service name (`web`, `web.zerops`) no Host line
// holds is asked for as `web` and answered under the question's name (fallback.ts). The upstream is
// the host's own resolvers (resolv-conf.ts), a fixed list, or none (then REFUSED / NXDOMAIN).
//
// Only clients inside the given prefixes (the tunnel subnets) are served (sources.ts): anything
// else is dropped unread and counted, on every address the responder listens on. TCP connections
// are bounded per source and given a deadline per message (tcp.ts). Host table, domain and
// upstream can be replaced while it runs (live config apply) without rebinding. Malformed input is
// counted and dropped (UDP) or ends the TCP connection; no input makes it throw.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import dnsPacket, { type DecodedPacket, type Question, type SoaAnswer, type StringAnswer } from 'dns-packet';
import type { Logger } from '../../device/log.js';
import { bareQuery, rewriteBareAnswer, type Rewritten } from './fallback.js';
import { RCODE, encodeResponse, parseQuery, type ResponseBody } from './message.js';
import { RESOLV_CONF, SystemResolvers } from './resolv-conf.js';
import { LOOPBACK_CLIENTS, SourceFilter } from './sources.js';
import { TcpClients } from './tcp.js';
import { Forwarder, formatUpstream, parseUpstream, type UpstreamAddress } from './upstream.js';
import { DnsZone, type GatewayName, type HostsInput, type NameRecords } from './zone.js';

export type { GatewayName, HostsInput } from './zone.js';

/**
 * Where names the responder does not hold go: 'system' = the nameservers of the host's
 * resolv.conf (re-read when it changes), one or more `IP` / `IPv4:PORT` / `[IPv6]:PORT` servers in
 * order of preference, or 'none' (outside names are REFUSED, unknown bare names NXDOMAIN).
 */
export type UpstreamSetting = 'none' | 'system' | string | readonly string[];

/** Construction options of DnsResponder; only the data options can change later (set*). */
export interface DnsResponderOptions {
  /** Domain of the project network (`zerops`); undefined: only the bare host names answer. */
  domain?: string;
  /** Host name -> addresses (IPv4 and/or IPv6). Names are DNS names, case-insensitive. */
  hosts?: HostsInput;
  /** The gateway's own name (default `gateway`) and tunnel address(es). */
  gateway?: GatewayName;
  /** Default 'none'. */
  upstream?: UpstreamSetting;
  /** The resolv.conf of upstream 'system' (default /etc/resolv.conf). */
  resolvConf?: string;
  /** Hears the upstream servers each time the resolv.conf of 'system' is read anew after the first read. */
  onUpstreams?: (servers: readonly string[], note: string) => void;
  /**
   * Prefixes (CIDR text) of the clients served; datagrams and connections from other sources are
   * dropped unread and counted as `forbidden`. Default: loopback only.
   */
  clients?: readonly string[];
  /** TTL of every record, and the negative-caching TTL (SOA minimum), in seconds. Default 30. */
  ttl?: number;
  logger?: Pick<Logger, 'verbose' | 'error'>;
  /** Deadline of one exchange with one upstream server (UDP, and again TCP after truncation), ms. Default 1500. */
  upstreamTimeoutMs?: number;
  /** Every TCP message must arrive complete within this time of the connection's start, the previous message or answer, ms. Default 10000. */
  tcpMessageTimeoutMs?: number;
  /** Concurrent TCP connections; further ones are dropped by the server. Default 64. */
  maxTcpConnections?: number;
  /** Concurrent TCP connections from one source address; further ones are closed at once. Default 8. */
  maxTcpPerSource?: number;
  /** Concurrent forwarded queries; beyond it clients get SERVFAIL. Default 256. */
  maxForwards?: number;
}

/**
 * Counters since construction. Every message received from an allowed client counts in `queries`
 * and then in exactly one of: answered (authoritative NOERROR, including NODATA), nxdomain,
 * refused, forwarded (sent upstream as asked), fallback (a bare name asked upstream), malformed
 * (dropped or TCP connection closed), formerr (incl. EDNS BADVERS), notimp, or servfail when too
 * many forwards are in flight. `servfail` also counts forwards and fallbacks that got no upstream
 * answer (those are already in `forwarded` / `fallback`).
 *
 * Not queries: `forbidden` counts datagrams and TCP connections from sources outside `clients`
 * (dropped unread), `tcpRejected` TCP connections closed at once by the per-source or total limit,
 * `tcpTimeouts` TCP connections closed because a message did not arrive in time.
 */
export interface DnsCounters {
  queries: number;
  answered: number;
  nxdomain: number;
  refused: number;
  forwarded: number;
  fallback: number;
  malformed: number;
  formerr: number;
  notimp: number;
  servfail: number;
  forbidden: number;
  tcpRejected: number;
  tcpTimeouts: number;
}

/** The counters of DnsCounters that are outcomes of a query (`queries` is their total). */
export const DNS_OUTCOMES = ['answered', 'nxdomain', 'refused', 'forwarded', 'fallback', 'malformed', 'formerr', 'notimp', 'servfail'] as const;

/** Largest query accepted (UDP datagram or TCP message); real queries are a few hundred bytes. */
const MAX_QUERY = 4096;
/** Per TCP connection: queries awaiting an answer before the connection stops being read. */
const TCP_MAX_WAITING = 16;
/** Per TCP connection: unsent response bytes before the connection stops being read. */
const TCP_MAX_UNSENT = 64 * 1024;
/** Port retries when listening on port 0 and the port picked is taken on another address or for TCP. */
const PORT_ATTEMPTS = 10;

type Send = (msg: Buffer) => void;
type Reply = (rcode: number, aa: boolean, body: ResponseBody) => void;

/** One listening address: a UDP socket and a TCP server on the same port. */
interface Binding {
  readonly address: string;
  readonly udp: dgram.Socket;
  readonly tcp: net.Server;
}

const isWildcard = (address: string): boolean => address === '0.0.0.0' || address === '::';

/** The normalized text of a client address: IPv4-mapped IPv6 as IPv4. */
function clientKey(address: string | undefined): string {
  const a = address ?? '?';
  const m = /^::ffff:([0-9.]+)$/i.exec(a);
  return m ? (m[1] as string) : a;
}

/**
 * The DNS server of the gateway (one UDP socket + one TCP listener per address, all on one port).
 * Construct, `listen()`, update with setHosts/setDomain/setUpstream at any time, `close()`.
 */
export class DnsResponder {
  private zone: DnsZone;
  private hosts: Map<string, string[]>;
  private serial = Math.floor(Date.now() / 1000) >>> 0;
  /** The zone's SOA (authority section of negative answers); none without a domain. */
  private soa: SoaAnswer[] = [];
  private forwarder: Forwarder | null = null;
  private upstreamKey = 'none';
  /** The servers `forwarder` asks: fixed ones, or the host's resolv.conf. */
  private fixed: readonly UpstreamAddress[] = [];
  private system: SystemResolvers | null = null;
  private filtered: { from: readonly UpstreamAddress[]; list: UpstreamAddress[] } | null = null;
  private readonly clients: SourceFilter;
  private readonly gateway: GatewayName | undefined;
  private readonly ttl: number;
  private readonly log: Pick<Logger, 'verbose' | 'error'> | undefined;
  private readonly resolvConf: string;
  private readonly onUpstreams: DnsResponderOptions['onUpstreams'];
  private readonly upstreamTimeoutMs: number;
  private readonly maxTcpConnections: number;
  private readonly maxForwards: number;
  private readonly stats: DnsCounters = {
    queries: 0, answered: 0, nxdomain: 0, refused: 0, forwarded: 0, fallback: 0, malformed: 0, formerr: 0, notimp: 0, servfail: 0,
    forbidden: 0, tcpRejected: 0, tcpTimeouts: 0,
  };
  private readonly scratch = Buffer.alloc(1024);
  private readonly tcpClients: TcpClients;
  private bindings: Binding[] = [];
  private boundPort = 0;
  private state: 'new' | 'listening' | 'closed' = 'new';

  /** Validates everything up front: throws on a bad domain, host, address, upstream, client prefix or limit. */
  constructor(opts: DnsResponderOptions = {}) {
    this.ttl = intAtLeast(opts.ttl ?? 30, 'ttl', 0);
    this.upstreamTimeoutMs = intAtLeast(opts.upstreamTimeoutMs ?? 1500, 'upstreamTimeoutMs', 1);
    const messageTimeoutMs = intAtLeast(opts.tcpMessageTimeoutMs ?? 10_000, 'tcpMessageTimeoutMs', 1);
    this.maxTcpConnections = intAtLeast(opts.maxTcpConnections ?? 64, 'maxTcpConnections', 1);
    const maxPerSource = intAtLeast(opts.maxTcpPerSource ?? 8, 'maxTcpPerSource', 1);
    this.maxForwards = intAtLeast(opts.maxForwards ?? 256, 'maxForwards', 1);
    this.clients = new SourceFilter(opts.clients ?? LOOPBACK_CLIENTS);
    this.gateway = opts.gateway;
    this.log = opts.logger;
    this.resolvConf = opts.resolvConf ?? RESOLV_CONF;
    this.onUpstreams = opts.onUpstreams;
    this.hosts = copyHosts(opts.hosts ?? {});
    this.zone = this.rebuild(opts.domain, this.hosts);
    this.setUpstream(opts.upstream ?? 'none');
    this.tcpClients = new TcpClients(
      { maxMessage: MAX_QUERY, messageTimeoutMs, maxPerSource, maxWaiting: TCP_MAX_WAITING, maxUnsent: TCP_MAX_UNSENT },
      {
        message: (msg, send) => this.handle(msg, true, send),
        oversize: () => {
          this.stats.queries++;
          this.drop('TCP message longer than the bound');
        },
        limited: (what, source) => {
          if (what === 'deadline') this.stats.tcpTimeouts++;
          else this.stats.tcpRejected++;
          this.log?.verbose(what === 'deadline'
            ? `dns: TCP client ${source}: no complete message within the deadline, closed`
            : `dns: TCP client ${source}: ${maxPerSource} connections already open, refused`);
        },
        error: (source, e) => this.log?.verbose(`dns: TCP client ${source}: ${e.message}`),
      },
    );
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
   * Replaces where other names go (see UpstreamSetting); throws, keeping the old one, on a bad
   * server. A changed setting abandons the forwards in flight (their clients get SERVFAIL).
   */
  setUpstream(setting: UpstreamSetting): void {
    const list = typeof setting === 'string' ? (setting === 'none' || setting === 'system' || setting === '' ? [] : [setting]) : [...setting];
    const servers = list.map(parseUpstream);
    const kind = setting === 'system' ? 'system' : servers.length > 0 ? 'fixed' : 'none';
    const key = kind === 'fixed' ? servers.map(formatUpstream).join(',') : kind;
    if (key === this.upstreamKey) return;
    this.forwarder?.close();
    this.forwarder = null;
    this.system = null;
    this.fixed = servers;
    this.filtered = null;
    this.upstreamKey = key;
    if (kind === 'none') return;
    if (kind === 'system') {
      let first = true;
      this.system = new SystemResolvers(this.resolvConf, (next, note) => {
        if (first) { first = false; return; }
        this.onUpstreams?.(this.withoutSelf(next).map(formatUpstream), note);
      });
    }
    this.forwarder = new Forwarder(() => this.upstreams(), this.upstreamTimeoutMs);
  }

  /** The upstream servers a forward asks now, in order of preference (empty for 'none'). */
  upstreams(): readonly UpstreamAddress[] {
    const from = this.system ? this.system.servers() : this.fixed;
    if (this.filtered?.from !== from) this.filtered = { from, list: this.withoutSelf(from) };
    return this.filtered.list;
  }

  /** Where other names go, for the log: `127.0.0.53:53 (from /etc/resolv.conf)`, `none (...)`. */
  describeUpstream(): string {
    if (this.forwarder === null) return 'none (names outside the domain are refused)';
    const list = this.upstreams().map(formatUpstream);
    const shown = list.length > 0 ? list.join(', ') : 'nothing (every server named is this DNS service itself)';
    return this.system ? `${shown} (from ${this.system.path})` : shown;
  }

  /**
   * Servers minus this service itself (a resolv.conf naming the gateway's own DNS would make every
   * forward come back here): the same port on an address it listens on, or on any local address
   * when it listens on a wildcard.
   */
  private withoutSelf(list: readonly UpstreamAddress[]): UpstreamAddress[] {
    if (this.bindings.length === 0) return [...list];
    const own = new Set(this.bindings.map((b) => b.address));
    if (this.bindings.some((b) => isWildcard(b.address))) {
      for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) own.add(a.address);
    }
    return list.filter((a) => a.port !== this.boundPort || !own.has(a.host.split('%')[0] as string));
  }

  /** Counters since construction (a snapshot). */
  get counters(): Readonly<DnsCounters> {
    return { ...this.stats };
  }

  /** The bound port (useful after listen(addr, 0)); 0 when not listening. */
  get port(): number {
    return this.boundPort;
  }

  /** The addresses listened on. */
  get addresses(): string[] {
    return this.bindings.map((b) => b.address);
  }

  /**
   * Binds UDP and TCP on every address at one port (port 0 picks a free one, see `port`). Rejects
   * when an address cannot be bound (nothing stays bound then); call once.
   */
  async listen(address: string | readonly string[], port = 53): Promise<void> {
    if (this.state !== 'new') throw new Error(`DnsResponder is already ${this.state}`);
    const addresses = typeof address === 'string' ? [address] : [...address];
    if (addresses.length === 0) throw new Error('DNS needs an address to listen on');
    for (const a of addresses) if (net.isIP(a) === 0) throw new Error(`DNS listen address '${a}' is not an IP address`);
    this.state = 'listening';
    for (let attempt = 1; ; attempt++) {
      const bound: Binding[] = [];
      let at = port;
      try {
        for (const a of addresses) {
          const b = await this.bind(a, at);
          bound.push(b);
          at = (b.udp.address()).port;
        }
      } catch (e) {
        await Promise.all(bound.map(closeBinding));
        if (port === 0 && attempt < PORT_ATTEMPTS && errnoCode(e) === 'EADDRINUSE') continue;
        if (!this.isClosed()) this.state = 'new';
        throw e;
      }
      for (const b of bound) {
        b.udp.on('error', (e) => this.log?.error(`dns: UDP socket on ${b.address}: ${e.message}`));
        b.tcp.on('error', (e) => this.log?.error(`dns: TCP server on ${b.address}: ${e.message}`));
        b.tcp.on('drop', () => {
          this.stats.tcpRejected++;
          this.log?.verbose(`dns: TCP connection refused: ${this.maxTcpConnections} already open`);
        });
      }
      this.bindings = bound;
      this.boundPort = at;
      this.filtered = null;
      // close() may have run while binding: it could not see these sockets then.
      if (this.isClosed()) await this.close();
      return;
    }
  }

  /** UDP then TCP on `address`:`port`; on failure nothing of it stays bound. */
  private async bind(address: string, port: number): Promise<Binding> {
    const udp = dgram.createSocket(net.isIP(address) === 6 ? 'udp6' : 'udp4');
    udp.on('message', (msg, rinfo) => this.onDatagram(udp, msg, rinfo));
    await bindUdp(udp, address, port);
    const tcp = net.createServer((sock) => this.onConnection(sock));
    tcp.maxConnections = this.maxTcpConnections;
    try {
      await listenTcp(tcp, address, udp.address().port);
    } catch (e) {
      udp.close();
      throw e;
    }
    return { address, udp, tcp };
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Stops listening, closes TCP connections and abandons forwards in flight. Idempotent. */
  async close(): Promise<void> {
    this.state = 'closed';
    this.forwarder?.close();
    this.tcpClients.destroyAll();
    const bindings = this.bindings;
    this.bindings = [];
    this.boundPort = 0;
    await Promise.all(bindings.map(closeBinding));
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
    if (!this.clients.allows(rinfo.address)) {
      this.forbid('datagram', rinfo.address);
      return;
    }
    this.handle(msg, false, (out) => {
      if (this.bindings.some((b) => b.udp === udp)) udp.send(out, rinfo.port, rinfo.address);
    });
  }

  private onConnection(sock: net.Socket): void {
    if (this.state === 'closed') {
      sock.destroy();
      return;
    }
    if (!this.clients.allows(sock.remoteAddress)) {
      this.forbid('TCP connection', sock.remoteAddress);
      sock.destroy();
      return;
    }
    this.tcpClients.accept(sock, clientKey(sock.remoteAddress));
  }

  private forbid(what: string, source: string | undefined): void {
    this.stats.forbidden++;
    this.log?.verbose(`dns: ${what} from ${source ?? '?'} dropped: not a client (${this.clients.prefixes.join(', ')})`);
  }

  /** Handles one message; false when it was malformed (a TCP connection is then closed). */
  private handle(msg: Buffer, overTcp: boolean, send: Send): boolean {
    this.stats.queries++;
    if (msg.length > MAX_QUERY) return this.drop(`${msg.length}-byte message`);
    const inc = parseQuery(msg, this.scratch);
    if (inc.kind === 'drop') return this.drop(inc.reason);
    const ra = this.forwarder !== null;
    if (inc.kind === 'reject') {
      if (inc.rcode === RCODE.NOTIMP) this.stats.notimp++;
      else this.stats.formerr++;
      this.log?.verbose(`dns: rejected query (${inc.reason}), rcode ${inc.rcode}`);
      send(encodeResponse(inc.request, undefined, inc.rcode, { aa: false, ra }, inc.edns, {}, Infinity));
      return true;
    }
    const { request, question, edns } = inc;
    const limit = overTcp ? Infinity : inc.udpLimit;
    const reply: Reply = (rcode, aa, body) => send(encodeResponse(request, question, rcode, { aa, ra }, edns, body, limit));
    const found = this.zone.lookup(question.name);
    if (found === 'outside') {
      this.forward(msg, request, question, overTcp, limit, reply, send);
    } else if ((question.class !== 'IN' && question.class !== 'ANY') || question.type === 'AXFR' || question.type === 'IXFR') {
      // Only class IN exists here, and the zone is not offered for transfer.
      this.stats.refused++;
      reply(RCODE.REFUSED, false, {});
    } else if (found === 'apex') {
      this.stats.answered++;
      reply(RCODE.NOERROR, true, this.apex(question));
    } else if (found === 'nxdomain' || ('bare' in found && this.forwarder === null)) {
      this.stats.nxdomain++;
      reply(RCODE.NXDOMAIN, true, { authorities: this.soa });
    } else if ('bare' in found) {
      this.fallback(request, question, found.bare, overTcp, reply);
    } else {
      this.stats.answered++;
      reply(RCODE.NOERROR, true, this.records(question, found));
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

  /** The forwarder when another forward may start; otherwise the client gets SERVFAIL (or REFUSED without upstream). */
  private admit(reply: Reply): Forwarder | null {
    const fwd = this.forwarder;
    if (fwd === null) {
      this.stats.refused++;
      reply(RCODE.REFUSED, false, {});
      return null;
    }
    if (fwd.inflight >= this.maxForwards) {
      this.stats.servfail++;
      reply(RCODE.SERVFAIL, false, {});
      return null;
    }
    return fwd;
  }

  private noAnswer(question: Question, what: string, reply: Reply): void {
    this.stats.servfail++;
    this.log?.verbose(`dns: no upstream answer for ${what} ${question.type} (${this.describeUpstream()})`);
    reply(RCODE.SERVFAIL, false, {});
  }

  private forward(msg: Buffer, request: DecodedPacket, question: Question, overTcp: boolean, limit: number, reply: Reply, send: Send): void {
    const fwd = this.admit(reply);
    if (fwd === null) return;
    this.stats.forwarded++;
    void fwd.exchange(msg, { id: request.id ?? 0, name: question.name, type: question.type }, overTcp, limit).then((answer) => {
      if (this.state === 'closed') return;
      if (answer !== null) send(answer);
      else this.noAnswer(question, question.name, reply);
    });
  }

  /** A bare service name no Host line holds: ask the upstream for `bare`, answer under the question's name. */
  private fallback(request: DecodedPacket, question: Question, bare: string, overTcp: boolean, reply: Reply): void {
    const fwd = this.admit(reply);
    if (fwd === null) return;
    this.stats.fallback++;
    const id = randomInt(0x10000);
    const cd = ((request.flags ?? 0) & dnsPacket.CHECKING_DISABLED) !== 0;
    // The full answer is fetched (over TCP when truncated); encodeResponse truncates for the client.
    void fwd.exchange(bareQuery(id, bare, question, cd), { id, name: bare, type: question.type }, overTcp, Infinity).then((raw) => {
      if (this.state === 'closed') return;
      let r: Rewritten | null = null;
      try {
        if (raw !== null) r = rewriteBareAnswer(dnsPacket.decode(raw), question, bare);
      } catch {
        r = null;
      }
      if (r === null) {
        this.noAnswer(question, `${question.name} (as ${bare})`, reply);
        return;
      }
      const negative = r.rcode === RCODE.NXDOMAIN || (r.rcode === RCODE.NOERROR && r.answers.length === 0);
      reply(r.rcode, false, { answers: r.answers, authorities: negative ? this.soa : [] });
    });
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

function closeBinding(b: Binding): Promise<void> {
  return Promise.all([
    new Promise<void>((resolve) => b.udp.close(() => resolve())),
    new Promise<void>((resolve) => b.tcp.close(() => resolve())),
  ]).then(() => undefined);
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
