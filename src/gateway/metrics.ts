// Prometheus metrics of one running interface (`Metrics = HOST:PORT` in [Gateway]).
//
// InterfaceMetrics owns a prom-client Registry of its own (never prom-client's process-global
// one): every wgts_ metric reads the live counters of the device, the engine, the access rules and
// the DNS responder in its collect() callback, so values are taken when Prometheus scrapes and
// nothing runs in between (no timers); prom-client's process metrics join the same registry with
// the wgts_ prefix. serve() answers GET /metrics over node:http on exactly the configured address.
//
// Only public keys ever appear (as the public_key label); the server accepts no request bodies,
// few connections and no slow requests.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { formatHostPort, type HostPort } from '../config/ip.js';
import { keyToBase64 } from '../crypto/keys.js';
import type { DeviceCounters } from '../device/device.js';
import { dropCounts } from '../device/drops.js';
import type { PeerInfo, WgEngine } from '../noise/engine.js';
import { DNS_OUTCOMES, type DnsCounters } from './dns/responder.js';
import { ENV_REFUSALS, type EnvCounters } from './env/service.js';
import { boundedServer, closeServer, hasBody, listenExactly, reply, type HttpLimits } from './http.js';
import type { RegistryHealth } from './source.js';

/** The parts of a Device the metrics read (structural, so tests can hand in a fake). */
export interface MetricsDevice {
  readonly engine: Pick<WgEngine, 'peerIds' | 'peerInfo' | 'dropsByReason'>;
  readonly counters: Readonly<DeviceCounters>;
}

/** Where the metrics of one interface come from; every function is called on each scrape. */
export interface MetricsSource {
  /** The `interface` label of every wgts_ metric. */
  readonly ifname: string;
  readonly device: MetricsDevice;
  /** The config Name of peers, by base64 public key (a peer without one may be absent). */
  names(): ReadonlyMap<string, string>;
  /** Packets each peer sent that the access rules refused, by base64 public key. */
  denied(): ReadonlyMap<string, number>;
  /** Packets from the network to each peer that its flows and AllowInbound refused, by base64 public key. */
  refused?(): ReadonlyMap<string, number>;
  /** Counters of the running DNS responder; null when none runs. */
  dns(): Readonly<DnsCounters> | null;
  /** Counters of the project-variables service; null when none runs. */
  env?(): Readonly<EnvCounters> | null;
  /** The registry the config comes from (null: a file). */
  registry?(): RegistryHealth | null;
}

/** The `reason` label of each DNS counter that is not a query outcome (kebab case like the drop reasons). */
const DNS_DROP_REASONS: Readonly<Record<Exclude<keyof DnsCounters, 'queries' | (typeof DNS_OUTCOMES)[number]>, string>> = {
  forbidden: 'source-not-allowed',
  tcpRejected: 'tcp-connection-limit',
  tcpTimeouts: 'tcp-message-deadline',
};

type PeerLabel = 'interface' | 'public_key' | 'name';
type PeerLabels = Record<PeerLabel, string>;
const PEER_LABELS: PeerLabel[] = ['interface', 'public_key', 'name'];

/** One peer as a scrape sees it. */
interface PeerRow {
  readonly labels: PeerLabels;
  readonly info: PeerInfo;
}

/** Every peer now on the device with its labels, in device id order. */
function peerRows(src: MetricsSource): PeerRow[] {
  const names = src.names();
  const rows: PeerRow[] = [];
  for (const id of src.device.engine.peerIds()) {
    const info = src.device.engine.peerInfo(id);
    if (info === null) continue;
    const key = keyToBase64(info.publicKey);
    rows.push({ labels: { interface: src.ifname, public_key: key, name: names.get(key) ?? '' }, info });
  }
  return rows;
}

/** Unix seconds (millisecond precision) of a wall-clock time in ns; 0 stays 0 (never). */
const unixSeconds = (ns: bigint): number => Number(ns / 1_000_000n) / 1000;

/** The registry of one interface's metrics, read live on each scrape. */
export class InterfaceMetrics {
  /** Dedicated registry: wgts_ metrics of this interface plus the process metrics. */
  readonly registry = new Registry();

  constructor(src: MetricsSource) {
    const registers = [this.registry];
    const peerCounter = (name: string, help: string, value: (row: PeerRow, counts: () => ReadonlyMap<string, number>) => number,
      counts: () => ReadonlyMap<string, number> = () => new Map()): void => {
      new Counter<PeerLabel>({
        name, help, labelNames: PEER_LABELS, registers,
        collect() {
          this.reset();
          let read: ReadonlyMap<string, number> | null = null;
          const once = (): ReadonlyMap<string, number> => (read ??= counts());
          for (const row of peerRows(src)) this.inc(row.labels, value(row, once));
        },
      });
    };
    peerCounter('wgts_peer_receive_bytes_total', 'Bytes of authenticated datagrams received from the peer.', (r) => r.info.rxBytes);
    peerCounter('wgts_peer_transmit_bytes_total', 'Bytes of datagrams sent to the peer.', (r) => r.info.txBytes);
    peerCounter('wgts_peer_denied_packets_total', 'Decrypted packets from the peer refused by its access rules.',
      (r, denied) => denied().get(r.labels.public_key) ?? 0, () => src.denied());
    const envOf = (field: 'reads' | 'variables') => (r: PeerRow): number => src.env?.()?.byPeer.get(r.labels.public_key)?.[field] ?? 0;
    peerCounter('wgts_env_reads_total', 'Requests of the peer answered by the project-variables service.', envOf('reads'));
    peerCounter('wgts_env_variables_read_total', 'Project variables handed to the peer (one per variable per answered request).', envOf('variables'));
    peerCounter('wgts_peer_refused_packets_total', 'Packets from the network to the peer refused: not part of a flow the peer started, no AllowInbound rule.',
      (r, refused) => refused().get(r.labels.public_key) ?? 0, () => src.refused?.() ?? new Map());
    new Gauge<PeerLabel>({
      name: 'wgts_peer_last_handshake_seconds', help: 'Unix time of the last completed handshake with the peer; 0 = never.',
      labelNames: PEER_LABELS, registers,
      collect() {
        this.reset();
        for (const row of peerRows(src)) this.set(row.labels, unixSeconds(row.info.lastHandshakeWallNs));
      },
    });
    new Gauge<'interface'>({
      name: 'wgts_peers', help: 'Peers configured on the interface.', labelNames: ['interface'], registers,
      collect() {
        this.set({ interface: src.ifname }, src.device.engine.peerIds().length);
      },
    });
    new Counter<'interface' | 'reason'>({
      name: 'wgts_drops_total', help: 'Packets and datagrams dropped, by reason (protocol engine and device).',
      labelNames: ['interface', 'reason'], registers,
      collect() {
        this.reset();
        for (const [reason, n] of dropCounts(src.device)) this.inc({ interface: src.ifname, reason }, n);
      },
    });
    new Counter<'interface' | 'outcome'>({
      name: 'wgts_dns_queries_total',
      help: 'DNS queries to the gateway by outcome (servfail also counts forwards that got no upstream answer).',
      labelNames: ['interface', 'outcome'], registers,
      collect() {
        this.reset();
        const c = src.dns();
        if (c !== null) for (const outcome of DNS_OUTCOMES) this.inc({ interface: src.ifname, outcome }, c[outcome]);
      },
    });
    new Counter<'interface' | 'reason'>({
      name: 'wgts_dns_dropped_total',
      help: 'Datagrams and TCP connections the gateway DNS dropped unanswered: sources outside the tunnel subnets, TCP limits.',
      labelNames: ['interface', 'reason'], registers,
      collect() {
        this.reset();
        const c = src.dns();
        if (c === null) return;
        for (const [field, reason] of Object.entries(DNS_DROP_REASONS) as [keyof typeof DNS_DROP_REASONS, string][]) {
          this.inc({ interface: src.ifname, reason }, c[field]);
        }
      },
    });
    new Counter<'interface' | 'reason'>({
      name: 'wgts_env_refused_total',
      help: 'Connections and requests the project-variables service answered with nothing, by reason.',
      labelNames: ['interface', 'reason'], registers,
      collect() {
        this.reset();
        const c = src.env?.() ?? null;
        if (c !== null) for (const reason of ENV_REFUSALS) this.inc({ interface: src.ifname, reason }, c.refused[reason]);
      },
    });
    const registryGauge = (name: string, help: string, value: (h: RegistryHealth) => number): void => {
      new Gauge<'interface'>({
        name, help, labelNames: ['interface'], registers,
        collect() {
          this.reset();
          const h = src.registry?.() ?? null;
          if (h !== null) this.set({ interface: src.ifname }, value(h));
        },
      });
    };
    registryGauge('wgts_registry_connected', 'The registry (etcd) answers: 1; 0 = unreachable, the gateway serves its last state. Absent for a config file.', (h) => (h.connected ? 1 : 0));
    registryGauge('wgts_registry_revision', 'The registry revision the running state is at.', (h) => Number(h.revision));
    registryGauge('wgts_registry_resyncs', 'How often the state was read again whole (after a compaction or a canceled watch).', (h) => h.resyncs);
    collectDefaultMetrics({ register: this.registry, prefix: 'wgts_' });
  }

  /** Serves GET /metrics on `at`; rejects when the address cannot be bound. */
  serve(at: HostPort, onError: (message: string) => void): Promise<MetricsServer> {
    return MetricsServer.listen(this.registry, at, onError);
  }
}

/** Concurrent connections the metrics server accepts (Prometheus uses one). */
export const METRICS_MAX_CONNECTIONS = 8;
/** Time a client has to send its request headers / whole request (ms). */
export const METRICS_HEADERS_TIMEOUT_MS = 5_000;
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

/** The bounds of the metrics server. */
const METRICS_LIMITS: HttpLimits = {
  maxConnections: METRICS_MAX_CONNECTIONS,
  headersTimeoutMs: METRICS_HEADERS_TIMEOUT_MS,
  requestTimeoutMs: METRICS_REQUEST_TIMEOUT_MS,
  socketTimeoutMs: 30_000,
  maxHeaderBytes: 8 * 1024,
};

/** The HTTP endpoint of one registry: GET (or HEAD) /metrics, 404 elsewhere. */
export class MetricsServer {
  private constructor(private readonly server: Server, readonly address: HostPort) {}

  /** Listens on `at` (IP literal host); rejects when it cannot be bound. */
  static async listen(registry: Registry, at: HostPort, onError: (message: string) => void): Promise<MetricsServer> {
    const server = boundedServer(METRICS_LIMITS, (req, res) => {
      MetricsServer.handle(registry, req, res).catch((e: unknown) => {
        onError(`${req.method ?? ''} ${req.url ?? ''}: ${e instanceof Error ? e.message : String(e)}`);
        if (!res.headersSent) reply(res, 500, 'internal error\n');
        else res.destroy();
      });
    });
    const port = await listenExactly(server, at.host, at.port);
    server.on('error', (e) => onError(`server on ${formatHostPort(at)}: ${e.message}`));
    return new MetricsServer(server, { host: at.host, port });
  }

  private static async handle(registry: Registry, req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A body is never read: refuse it and let the connection close.
    if (hasBody(req)) return reply(res, 413, 'request bodies are not accepted\n', { Connection: 'close' });
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/metrics') return reply(res, 404, 'not found; metrics are at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
    const text = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-store' });
    res.end(text); // node sends no body for HEAD
  }

  /** Stops listening and closes open connections; resolves once the server is closed. */
  close(): Promise<void> {
    return closeServer(this.server);
  }
}
