// The project-variables service of a gateway: HTTP on its tunnel addresses (TCP port ENV_PORT,
// `Port =` in [Env]), `GET /v1/env` answering JSON with the variables the calling laptop is
// granted (`Env =` lines of its [Peer]).
//
// Who calls is decided without anything the caller says:
//   1. the connection's source must lie inside the tunnel subnets, else it is closed unanswered
//      (counted as source-not-allowed), whatever address it came to;
//   2. the source address names the peer: the running device's AllowedIPs (cryptokey routing)
//      give the peer that owns it; an address no peer owns gets nothing (not-a-peer);
//   3. the device must have seen this very connection arrive from that peer: the access rules'
//      flow table holds a TCP flow of that peer id between the connection's two addresses and
//      ports, which only a packet decrypted from that peer, whose inner source passed the peer's
//      AllowedIPs, can have started (not-through-tunnel otherwise: e.g. a process on the gateway
//      host binding another laptop's address);
//   4. the peer's public key must be in the config file as last loaded, and servesPeer() must say
//      yes (the one place where a peer's state can withhold its variables).
// Steps 2-3 come from the runtime (CallerLocator); step 1 and 4 are here. A peer that was removed
// is off the device (its packets are no longer decrypted, its flows forgotten), so it gets nothing.
//
// Every answered request is logged as `peer NAME read N variables` and counted per peer; values
// never appear in a log line, a metric or an error. A request must name the gateway by address
// in its Host header (a name there is how a web page would reach the service through DNS
// rebinding) and carry no Origin header (browsers add one to cross-site requests).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { formatHostPort, parseIP } from '../../config/ip.js';
import type { PeerConfig } from '../../config/model.js';
import { SourceFilter } from '../dns/sources.js';
import { boundedServer, closeServer, hasBody, listenExactly, reply, type HttpLimits } from '../http.js';
import { grantMatcher } from './names.js';
import type { EnvSnapshot } from './store.js';

/** Default TCP port of the service on the gateway's tunnel addresses. */
export const ENV_PORT = 5380;
/** The one path the service answers. */
export const ENV_PATH = '/v1/env';
/** Connections one source address may hold at once. */
export const ENV_MAX_CONNECTIONS_PER_SOURCE = 8;

const ENV_LIMITS: HttpLimits = {
  maxConnections: 64,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  socketTimeoutMs: 30_000,
  maxHeaderBytes: 8 * 1024,
};

/** Why a connection or request got nothing. */
export const ENV_REFUSALS = ['source-not-allowed', 'connection-limit', 'not-a-peer', 'not-through-tunnel', 'bad-request'] as const;
export type EnvRefusal = (typeof ENV_REFUSALS)[number];

/** Who is behind a connection, as the data path saw it (steps 2-3 above). */
export type CallerCheck = { ok: true; publicKey: string } | { ok: false; reason: 'not-a-peer' | 'not-through-tunnel' };

/** Identifies the peer behind a connection from `remote`:`remotePort` to `local`:`localPort`. */
export type CallerLocator = (remote: string, remotePort: number, local: string, localPort: number) => CallerCheck;

/**
 * Whether the peer may read its variables at all (step 4): the single check point for a peer's
 * state. A peer that is not in the file never gets here.
 */
export function servesPeer(_peer: PeerConfig): boolean {
  return true;
}

/** What the service answers (JSON body of a 200). */
export interface EnvAnswer {
  /** The caller's Name (or public key when it has none). */
  peer: string;
  /** Its grants as written (`Env =` lines). */
  grants: string[];
  variables: Record<string, string>;
  /** Sources that serve nothing right now (the gateway's log says why); only for a peer with grants. */
  unavailable: string[];
}

/** Counters of the service. */
export interface EnvCounters {
  /** Answered requests and variables handed out, by base64 public key. */
  readonly byPeer: Map<string, { reads: number; variables: number }>;
  readonly refused: Record<EnvRefusal, number>;
}

/** Where the service reports (never a value). */
export interface EnvServiceLog {
  info(msg: string): void;
  error(msg: string): void;
  /** Chatty events (sources outside the tunnel). */
  verbose(msg: string): void;
}

export interface EnvServiceOptions {
  store: { snapshot(): Promise<EnvSnapshot> };
  locate: CallerLocator;
  /** Client prefixes: the tunnel subnets. */
  clients: readonly string[];
  log: EnvServiceLog;
}

/** One peer as the service knows it. */
interface KnownPeer {
  readonly config: PeerConfig;
  readonly label: string;
  readonly grants: (name: string) => boolean;
}

/** The running service: one HTTP server per listen address, all on one port. */
export class EnvService {
  readonly counters: EnvCounters = { byPeer: new Map(), refused: Object.fromEntries(ENV_REFUSALS.map((r) => [r, 0])) as Record<EnvRefusal, number> };
  private peers = new Map<string, KnownPeer>();
  private readonly servers: Server[] = [];
  private readonly clients: SourceFilter;
  private readonly perSource = new Map<string, number>();

  constructor(private readonly opts: EnvServiceOptions) {
    this.clients = new SourceFilter(opts.clients);
  }

  /** The peers of the file as last loaded (grants by public key). */
  setPeers(peers: readonly PeerConfig[]): void {
    this.peers = new Map(peers.map((p) => [p.publicKey, { config: p, label: p.name ?? p.publicKey, grants: grantMatcher(p.env ?? []) }]));
  }

  /** Listens on every address of `hosts` at `port` (0: any free port, for tests); rejects (nothing listening) when one cannot bind. */
  async listen(hosts: readonly string[], port: number): Promise<number> {
    let bound = port;
    try {
      for (const host of hosts) {
        const server = boundedServer(ENV_LIMITS, (req, res) => {
          this.handle(req, res).catch((e: unknown) => {
            this.opts.log.error(`variables: ${e instanceof Error ? e.message : String(e)}`);
            if (!res.headersSent) reply(res, 500, 'internal error\n');
            else res.destroy();
          });
        });
        server.on('connection', (socket: Socket) => this.admit(socket));
        this.servers.push(server);
        bound = await listenExactly(server, host, bound);
        server.on('error', (e) => this.opts.log.error(`variables on ${formatHostPort({ host, port: bound })}: ${e.message}`));
      }
    } catch (e) {
      await this.close();
      throw e;
    }
    return bound;
  }

  /** Stops every server and closes open connections. */
  async close(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => closeServer(s)));
  }

  /** Step 1 and the per-source limit, before anything of the connection is read. */
  private admit(socket: Socket): void {
    const from = socket.remoteAddress;
    if (!this.clients.allows(from)) {
      this.counters.refused['source-not-allowed']++;
      this.opts.log.verbose(`variables: connection from ${from ?? '?'} (outside the tunnel subnets) closed unanswered`);
      socket.destroy();
      return;
    }
    const key = from as string;
    const n = (this.perSource.get(key) ?? 0) + 1;
    if (n > ENV_MAX_CONNECTIONS_PER_SOURCE) {
      this.counters.refused['connection-limit']++;
      socket.destroy();
      return;
    }
    this.perSource.set(key, n);
    socket.once('close', () => {
      const left = (this.perSource.get(key) ?? 1) - 1;
      if (left <= 0) this.perSource.delete(key);
      else this.perSource.set(key, left);
    });
  }

  private refuse(res: ServerResponse, reason: EnvRefusal, status: number, message: string): void {
    this.counters.refused[reason]++;
    reply(res, status, `${JSON.stringify({ error: message })}\n`, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Connection: 'close' });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = req.socket;
    const remote = socket.remoteAddress ?? '';
    const local = socket.localAddress ?? '';
    if (hasBody(req)) return this.refuse(res, 'bad-request', 413, 'request bodies are not accepted');
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== ENV_PATH) return this.refuse(res, 'bad-request', 404, `not found; the variables are at ${ENV_PATH}`);
    if (req.method !== 'GET') return this.refuse(res, 'bad-request', 405, 'only GET');
    if (!hostNamesAddress(req.headers.host, local)) {
      return this.refuse(res, 'bad-request', 421, 'the Host header must be the gateway\'s tunnel address (not a name)');
    }
    if (req.headers.origin !== undefined) return this.refuse(res, 'bad-request', 403, 'requests from web pages are refused');
    const who = this.opts.locate(remote, socket.remotePort ?? 0, local, socket.localPort ?? 0);
    if (!who.ok) {
      this.opts.log.info(`variables: refused a request from ${remote} (${who.reason === 'not-a-peer' ? 'no peer of the interface owns that address' : 'the connection did not come through the tunnel from the peer owning that address'})`);
      return this.refuse(res, who.reason, 403, who.reason === 'not-a-peer' ? 'not a peer of this gateway' : 'not through the tunnel');
    }
    const peer = this.peers.get(who.publicKey);
    if (peer === undefined || !servesPeer(peer.config)) {
      this.opts.log.info(`variables: refused a request from ${remote}: its peer ${peer?.label ?? who.publicKey} ${peer === undefined ? 'is not in the config file' : 'may not read variables now'}`);
      return this.refuse(res, 'not-a-peer', 403, 'not a peer of this gateway');
    }
    const snap = await this.opts.store.snapshot();
    const variables: Record<string, string> = {};
    for (const name of [...snap.vars.keys()].sort()) {
      if (peer.grants(name)) variables[name] = snap.vars.get(name) as string;
    }
    const n = Object.keys(variables).length;
    const grants = [...(peer.config.env ?? [])];
    const answer: EnvAnswer = { peer: peer.label, grants, variables, unavailable: grants.length > 0 ? [...snap.unavailable] : [] };
    const body = `${JSON.stringify(answer)}\n`;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-store' });
    res.end(body);
    const c = this.counters.byPeer.get(who.publicKey) ?? { reads: 0, variables: 0 };
    c.reads++;
    c.variables += n;
    this.counters.byPeer.set(who.publicKey, c);
    this.opts.log.info(`peer ${peer.label} read ${n} variables`);
  }
}

/** Whether a Host header names `local` (an IP literal) by address, with or without a port. */
export function hostNamesAddress(host: string | undefined, local: string): boolean {
  if (host === undefined) return false;
  const m = /^\[([^\]]+)\](?::[0-9]{1,5})?$/.exec(host) ?? /^([0-9.]+)(?::[0-9]{1,5})?$/.exec(host);
  if (!m) return false;
  const a = parseIP(m[1] as string);
  const plainLocal = local.replace(/^::ffff:(?=[0-9.]+$)/i, '');
  const b = parseIP(plainLocal);
  return a !== null && b !== null && a.length === b.length && a.every((x, i) => x === b[i]);
}
