// `wgts up FILE`: one interface run from a config file, in the foreground, until it is stopped.
//
// Start: parse and check the file (errors as FILE:LINE), resolve peer endpoints, open the interface
// (runInterface: TUN, UDP, UAPI socket), apply [Interface]/[Peer] as a UAPI set body, then the host
// side (addresses, MTU, link up, routes). With a [Gateway] section: forwarding sysctls, masquerade,
// the DNS responder on the gateway's tunnel address and the access rules as the device's inbound
// filter. Without one (a laptop): split DNS for the DNS = line. Then the Prometheus endpoint when
// [Gateway] has Metrics, the status file and the watch on the config file (live reload).
//
// Stop (SIGINT / SIGTERM via runUp, UAPI socket deleted, TUN deleted, start failure): everything
// recorded on the NetConfig undo stack is taken back, the interface is closed, and the status file
// is removed last, so its disappearance tells `wgts down` the cleanup is complete.
import { promises as fsp } from 'node:fs';
import { basename, resolve as resolvePath } from 'node:path';
import { diffConfigs } from '../config/diff.js';
import { formatCidr, formatHostPort } from '../config/ip.js';
import type { WgtsConfig } from '../config/model.js';
import { parseConfig } from '../config/parse.js';
import { keyFromBase64 } from '../crypto/keys.js';
import { dropCounts } from '../device/drops.js';
import { createLogger, type Logger } from '../device/log.js';
import { applySet } from '../device/uapi/protocol.js';
import { crashInProgress, EXIT_CRASH, exitCleanlyOnCrash } from '../io/crash.js';
import { runInterface, type RunningInterface } from '../io/interface.js';
import { compileAccess, PeerAccess, type CompiledAccess, type DnsTarget } from './access.js';
import { DnsResponder } from './dns/responder.js';
import { dnsServiceOf } from './dns/service.js';
import type { InterfaceMetrics, MetricsServer, MetricsSource } from './metrics.js';
import { NetConfig } from './netcfg.js';
import {
  checkUpConfig, DEFAULT_MTU, DNS_TTL, dnsExemptionOf, dnsKey, dnsTargetOf, forwardingSysctls, hostsOf, interfaceNameOf,
  loadConfig, masqueradeRulesFor, routesFor, UpError,
} from './plan.js';
import {
  deviceSetBody, liveApplicable, peersNeedingEndpoints, reloadSetBody, resolveEndpoints, watchConfigFile, type ConfigWatch, type HostLookup,
} from './reload.js';
import { STATUS_DIR, StatusWriter, type InterfaceStatus } from './status.js';

/** Whether an IP literal is a loopback address (127.0.0.0/8, ::1, IPv4-mapped loopback). */
export function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === '::1' || /^::ffff:127\./i.test(host);
}

/** The undo-stack entry that stops the metrics server. */
const METRICS_UNDO = 'metrics';

/** Messages of a running interface: progress to stdout, problems to stderr. */
export interface RuntimeLog {
  info(msg: string): void;
  error(msg: string): void;
}

/** The default log: `wgts: IFNAME: message` lines. */
export function consoleLog(ifname: string): RuntimeLog {
  return {
    info: (m) => process.stdout.write(`wgts: ${ifname}: ${m}\n`),
    error: (m) => process.stderr.write(`wgts: ${ifname}: ${m}\n`),
  };
}

export interface UpOptions {
  log?: RuntimeLog;
  /** Status file directory (default /var/run/wgts). */
  statusDir?: string;
  /** Resolves Endpoint host names (default dns.lookup). */
  lookup?: HostLookup;
}

/** A running `wgts up`. */
export class InterfaceRuntime {
  /** Resolves with the reason once the runtime has stopped and cleaned up. */
  readonly stopped: Promise<string>;
  private resolveStopped: (why: string) => void = () => undefined;
  private stopping: Promise<void> | null = null;
  private readonly net: NetConfig;
  private readonly access = new PeerAccess();
  private dns: DnsResponder | null = null;
  private dnsAt: DnsTarget | null = null;
  /** dnsKey() of the running responder: a different key needs a new responder. */
  private dnsKey = '';
  private watch: ConfigWatch | null = null;
  private status: StatusWriter | null = null;
  /** Created when Metrics is first configured; kept (with its counters' registry) until exit. */
  private metrics: InterfaceMetrics | null = null;
  /** formatHostPort() of the address the metrics server listens on, '' when none runs. */
  private metricsAt = '';
  private routes = new Set<string>();
  private reloads: Promise<void> = Promise.resolve();

  private constructor(
    readonly ifname: string,
    /** The config file as given (in messages); the status file records its absolute path. */
    readonly path: string,
    private config: WgtsConfig,
    private text: string,
    private readonly iface: RunningInterface,
    private readonly log: RuntimeLog,
    private readonly deviceLog: Logger,
    private readonly opts: UpOptions,
  ) {
    this.net = new NetConfig(ifname);
    this.stopped = new Promise((r) => { this.resolveStopped = r; });
  }

  /**
   * Starts `wgts up` for the config file at `path`; throws UpError (nothing left changed) on
   * failure. `created` learns the runtime as soon as it exists, before the host is configured (so
   * a crash during the start can still undo what was done).
   */
  static async start(path: string, opts: UpOptions = {}, created?: (rt: InterfaceRuntime) => void): Promise<InterfaceRuntime> {
    const ifname = interfaceNameOf(path);
    const log = opts.log ?? consoleLog(ifname);
    const { config, doc, text, warnings } = await loadConfig(path);
    for (const w of warnings) log.error(`warning: ${w}`);
    const problems = checkUpConfig(config, path, doc);
    const compiled = compileAccess(config.peers, path);
    if (!compiled.ok || problems.length > 0) throw new UpError([...problems, ...(compiled.ok ? [] : compiled.errors)]);
    const resolved = await resolveEndpoints(config.peers, opts.lookup);
    if (!resolved.ok) throw new UpError(resolved.errors);

    const deviceLog = createLogger(ifname);
    let iface: RunningInterface;
    try {
      iface = await runInterface(ifname, deviceLog);
    } catch (e) {
      throw new UpError([`cannot create interface ${ifname}: ${e instanceof Error ? e.message : String(e)}`]);
    }
    const rt = new InterfaceRuntime(ifname, path, config, text, iface, log, deviceLog, opts);
    created?.(rt);
    try {
      const r = await applySet(deviceSetBody(config, resolved.endpoints), iface.target);
      if (r.errno !== 0) throw new UpError([`configuring ${ifname} failed: ${'message' in r ? r.message : `errno ${r.errno}`}`]);
      await rt.configureHost(compiled.rules);
    } catch (e) {
      await rt.stop('start failed');
      throw e instanceof UpError ? e : new UpError([e instanceof Error ? e.message : String(e)]);
    }
    void iface.closed.then((why) => rt.stop(why));
    return rt;
  }

  private async configureHost(rules: CompiledAccess): Promise<void> {
    const c = this.config;
    const net = this.net;
    if (c.gateway) {
      // Before anything can reach the TUN: the access rules of the peers applySet just created.
      this.access.apply(rules, (key) => this.peerId(key));
      this.iface.device.inboundFilter = this.access.filter;
    }
    for (const a of c.interface.addresses) await net.addAddress(formatCidr(a));
    await net.setMtu(c.interface.mtu ?? DEFAULT_MTU);
    await net.linkUp();
    await this.syncRoutes(c);
    if (c.gateway) {
      const stale = await net.removeStaleRules([...new Set(masqueradeRulesFor(c).map((r) => r.family))]);
      if (stale > 0) this.log.info(`removed ${stale} masquerade rule(s) left by an earlier run`);
      await this.syncGateway(c, null);
    } else if (c.interface.dns.length > 0) {
      const how = await net.setSplitDns(c.interface.dns, c.interface.dnsSearch);
      if (how.kind === 'manual') this.log.info(how.instructions);
      else this.log.info(`DNS: ${c.interface.dns.join(', ')}${c.interface.dnsSearch.length ? ` for ${c.interface.dnsSearch.join(', ')}` : ''} via ${how.kind === 'resolvectl' ? 'resolvectl' : how.path}`);
    }
    await this.syncMetrics(c);
    this.status = new StatusWriter(this.ifname, () => this.snapshot(), (e) => this.log.error(`status file: ${String(e)}`), this.opts.statusDir ?? STATUS_DIR);
    await this.status.start();
    this.watch = watchConfigFile(this.path, () => this.scheduleReload(), (e) => this.log.error(`watching ${this.path}: ${e.message}`));
    const pub = this.iface.target.ownPublicKey();
    this.log.info(`up: ${c.peers.length} peer(s), listening on UDP ${this.iface.udp.port}${pub ? '' : ' (no private key)'}${c.gateway ? ', gateway' : ''}`);
  }

  /** Device id of the peer with this base64 public key, -1 when the device has none. */
  private peerId(publicKey: string): number {
    const k = keyFromBase64(publicKey);
    return k ? this.iface.device.engine.peerIdOf(k) : -1;
  }

  /** Adds the routes `config` needs that are missing, deletes those it no longer needs. */
  private async syncRoutes(config: WgtsConfig): Promise<void> {
    const want = new Set(routesFor(config));
    for (const r of this.routes) {
      if (want.has(r)) continue;
      await this.net.deleteRoute(r).catch((e: unknown) => this.log.error(`route ${r}: ${String(e)}`));
      this.routes.delete(r);
    }
    for (const r of want) {
      if (this.routes.has(r)) continue;
      await this.net.replaceRoute(r);
      this.routes.add(r);
    }
  }

  /** Brings forwarding, masquerade, DNS and the DNS exception of the access filter to `config`. */
  private async syncGateway(config: WgtsConfig, before: WgtsConfig | null): Promise<void> {
    const g = config.gateway;
    if (!g) return;
    for (const [name, value] of forwardingSysctls(config)) await this.net.setSysctl(name, value);
    const want = masqueradeRulesFor(config);
    const wantKeys = new Set(want.map((r) => NetConfig.ruleKey(r)));
    for (const r of before ? masqueradeRulesFor(before) : []) {
      if (!wantKeys.has(NetConfig.ruleKey(r))) await this.net.removeMasquerade(r);
    }
    for (const r of want) await this.net.addMasquerade(r);

    const svc = dnsServiceOf(config);
    const target = dnsTargetOf(config);
    const key = dnsKey(config);
    if (key !== this.dnsKey) {
      if (this.dns) await this.dns.close();
      this.dns = null;
      this.dnsAt = null;
      this.dnsKey = '';
      if (svc) {
        const dns = new DnsResponder({
          domain: g.domain,
          hosts: hostsOf(config),
          gateway: { address: config.interface.addresses.map((a) => a.address) },
          upstream: svc.upstream,
          clients: svc.clients,
          ttl: DNS_TTL,
          logger: { verbose: (m) => this.deviceLog.verbose(`DNS: ${m}`), error: (m) => this.log.error(`DNS: ${m}`) },
          onUpstreams: (servers, note) => this.log.info(`DNS: other names now go to ${servers.join(', ') || 'nothing'} (${note})`),
        });
        await dns.listen(svc.listen, svc.port);
        this.dns = dns;
        this.dnsAt = target;
        this.dnsKey = key;
        const at = svc.listen.map((host) => formatHostPort({ host, port: svc.port })).join(', ');
        this.log.info(`DNS on ${at}${g.domain ? ` for ${g.domain}` : ''}, ${hostsOf(config).size} host(s), answering ${svc.clients.join(', ')}; other names: ${dns.describeUpstream()}`);
      }
    } else if (this.dns && svc) {
      this.dns.setHosts(hostsOf(config));
      this.dns.setDomain(g.domain);
      const was = this.dns.describeUpstream();
      this.dns.setUpstream(svc.upstream);
      const now = this.dns.describeUpstream();
      if (now !== was) this.log.info(`DNS: other names: ${now}`);
    }
    this.access.setDnsTarget(this.dnsAt && dnsExemptionOf(config, this.dnsAt));
  }

  private snapshot(): InterfaceStatus {
    const denied = this.access.deniedByPeer();
    const peers: InterfaceStatus['peers'] = {};
    for (const p of this.config.peers) {
      peers[p.publicKey] = p.name !== undefined ? { name: p.name, denied: denied.get(p.publicKey) ?? 0 } : { denied: denied.get(p.publicKey) ?? 0 };
    }
    const s: InterfaceStatus = {
      version: 1,
      interface: this.ifname,
      pid: process.pid,
      config: resolvePath(this.path),
      role: this.config.gateway ? 'gateway' : 'client',
      updated: Date.now(),
      peers,
      counters: { ...this.iface.device.counters },
      drops: Object.fromEntries(dropCounts(this.iface.device)),
      udp: { ...this.iface.udp.stats },
    };
    if (this.dns) s.dns = { ...this.dns.counters };
    return s;
  }

  /** What the metrics read on each scrape: the live device, names, access and DNS counters. */
  private metricsSource(): MetricsSource {
    return {
      ifname: this.ifname,
      device: this.iface.device,
      names: () => new Map(this.config.peers.flatMap((p): [string, string][] => (p.name !== undefined ? [[p.publicKey, p.name]] : []))),
      denied: () => this.access.deniedByPeer(),
      dns: () => this.dns?.counters ?? null,
    };
  }

  /**
   * Starts, moves or stops the metrics server to match `Metrics =` of `config`; throws when the
   * address cannot be bound (no server runs then). The server is stopped through the undo stack.
   */
  private async syncMetrics(config: WgtsConfig): Promise<void> {
    const at = config.gateway?.metrics;
    const key = at ? formatHostPort(at) : '';
    if (key === this.metricsAt) return;
    if (this.metricsAt !== '') {
      await this.net.undo.take(METRICS_UNDO);
      this.log.info(`metrics on ${this.metricsAt} stopped`);
      this.metricsAt = '';
    }
    if (!at) return;
    if (!this.metrics) {
      // Loaded on first use: prom-client adds about 0.1 s to the start of every `wgts up`.
      const { InterfaceMetrics } = await import('./metrics.js');
      this.metrics = new InterfaceMetrics(this.metricsSource());
    }
    let server: MetricsServer;
    try {
      server = await this.metrics.serve(at, (m) => this.log.error(`metrics: ${m}`));
    } catch (e) {
      throw new Error(`cannot serve metrics on ${key}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.net.undo.push(METRICS_UNDO, () => server.close());
    this.metricsAt = key;
    this.log.info(`metrics on http://${key}/metrics`);
    if (!isLoopback(at.host)) {
      this.log.error(`warning: metrics on ${key} have no authentication: anyone who can reach ${at.host} reads peer names, public keys and traffic counters; prefer Metrics = 127.0.0.1:${at.port} (or [::1]) behind a proxy, or a firewall rule`);
    }
  }

  /** Queues a reload of the config file (reloads run one at a time). */
  scheduleReload(): void {
    this.reloads = this.reloads.then(() => this.reload()).catch((e: unknown) => {
      this.log.error(`reload failed: ${e instanceof Error ? e.message : String(e)}`);
    });
  }

  /**
   * Re-reads the config file and applies what changed: peers, access rules, routes, DNS hosts,
   * masquerade. A file that does not parse or check is reported and the running config kept.
   */
  private async reload(): Promise<void> {
    if (this.stopping) return;
    let text: string;
    try {
      text = await fsp.readFile(this.path, 'utf8');
    } catch (e) {
      this.log.error(`cannot read ${this.path} (keeping the running config): ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (text === this.text) return;
    const parsed = parseConfig(text, this.path);
    if (!parsed.ok) {
      for (const e of parsed.errors) this.log.error(e.message);
      this.log.error('config not applied: keeping the running config');
      return;
    }
    const next = liveApplicable(this.config, parsed.config);
    const problems = checkUpConfig(parsed.config, this.path, parsed.doc);
    const compiled = compileAccess(next.peers, this.path);
    if (!compiled.ok) problems.push(...compiled.errors);
    const diff = diffConfigs(this.config, parsed.config);
    const resolved = await resolveEndpoints(peersNeedingEndpoints(diff), this.opts.lookup);
    if (!resolved.ok) problems.push(...resolved.errors);
    if (problems.length > 0 || !compiled.ok || !resolved.ok) {
      for (const p of problems) this.log.error(p);
      this.log.error('config not applied: keeping the running config');
      return;
    }
    if (this.stopping) return;
    const before = this.config;
    this.text = text;
    this.config = next;
    // Not part of diffConfigs: a Metrics-only change leaves `diff` empty.
    await this.syncMetrics(next).catch((e: unknown) => {
      this.log.error(`${e instanceof Error ? e.message : String(e)} (tried again on the next change of the file)`);
    });
    if (diff.empty) return;
    const body = reloadSetBody(diff, next, resolved.endpoints);
    if (body !== '') {
      const r = await applySet(body, this.iface.target);
      if (r.errno !== 0) this.log.error(`applying the change to ${this.ifname} failed: ${'message' in r ? r.message : `errno ${r.errno}`}`);
    }
    // In the same turn of the event loop as applySet: no packet of a new peer passes unfiltered.
    if (next.gateway) this.access.apply(compiled.rules, (key) => this.peerId(key));
    await this.syncRoutes(next);
    await this.syncGateway(next, before);
    if (!!parsed.config.gateway !== !!before.gateway) this.log.error('the [Gateway] section appeared or disappeared: restart wgts up to apply that');
    if (diff.interfaceFields.length > 0) this.log.error(`changed ${diff.interfaceFields.join(', ')} of [Interface]: restart wgts up to apply`);
    const names = (ps: readonly { name?: string; publicKey: string }[]): string => ps.map((p) => p.name ?? p.publicKey).join(', ');
    const parts: string[] = [];
    if (diff.peersAdded.length) parts.push(`added ${names(diff.peersAdded)}`);
    if (diff.peersRemoved.length) parts.push(`removed ${names(diff.peersRemoved)}`);
    if (diff.peersChanged.length) parts.push(`changed ${names(diff.peersChanged.map((c) => c.after))}`);
    if (diff.gatewayFields.length) parts.push(`gateway ${diff.gatewayFields.join(', ')}`);
    this.log.info(`reloaded ${basename(this.path)}${parts.length ? `: ${parts.join('; ')}` : ''}`);
  }

  /** Stops the interface and undoes everything (idempotent; resolves when done). */
  stop(reason: string): Promise<void> {
    if (!this.stopping) this.stopping = this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    this.watch?.close();
    await this.reloads.catch(() => undefined);
    this.iface.device.inboundFilter = null;
    if (this.dns) await this.dns.close().catch((e: unknown) => this.log.error(`closing DNS: ${String(e)}`));
    this.dns = null;
    await this.net.undo.unwind((key, e) => this.log.error(`undo ${key}: ${e instanceof Error ? e.message : String(e)}`));
    await this.iface.close(reason);
    if (this.status) await this.status.stop().catch((e: unknown) => this.log.error(`status file: ${String(e)}`));
    this.log.info(`down (${reason})`);
    this.resolveStopped(reason);
  }
}

/**
 * `wgts up FILE` in the foreground: starts, stops on SIGINT / SIGTERM (or when the interface goes
 * away), reloads on SIGHUP as on a file change. Resolves with the exit code. An uncaught
 * exception logs, undoes everything (as a stop does) and exits with EXIT_CRASH (io/crash.ts).
 */
export async function runUp(path: string, opts: UpOptions = {}): Promise<number> {
  // Handlers go in first: a signal during the start must stop the interface once it is up,
  // not kill the process half-configured.
  let rt: InterfaceRuntime | null = null;
  let label = path;
  try { label = interfaceNameOf(path); } catch { /* reported by the start */ }
  const crashLog = opts.log?.error ?? ((m: string): void => { process.stderr.write(`wgts: ${label}: ${m}\n`); });
  const noCrashHandler = exitCleanlyOnCrash(crashLog, async () => { if (rt) await rt.stop('crashed'); });
  let stopWhy: string | null = null;
  const onSignal = (sig: string) => (): void => {
    stopWhy ??= `received ${sig}`;
    if (rt) void rt.stop(stopWhy);
  };
  const onInt = onSignal('SIGINT');
  const onTerm = onSignal('SIGTERM');
  const onHup = (): void => rt?.scheduleReload();
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  try {
    rt = await InterfaceRuntime.start(path, opts, (created) => { rt = created; });
    if (stopWhy !== null) void rt.stop(stopWhy);
    await rt.stopped;
    return crashInProgress() ? EXIT_CRASH : 0;
  } catch (e) {
    const lines = e instanceof UpError ? e.messages : [e instanceof Error ? e.message : String(e)];
    for (const l of lines) process.stderr.write(`${l}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    noCrashHandler();
  }
}
