// `wgts up FILE`: one interface run from a config file, in the foreground, until it is stopped.
//
// Start: parse and check the file (errors as FILE:LINE; full tunnels, routing loops and routes that
// would overlap the host's own are refused before anything changes; a gateway needs iptables and
// no other nftables table dropping forwarded packets), resolve peer endpoints, open the interface
// (runInterface: TUN, UDP, UAPI socket). A gateway arms its access control before the first peer
// exists (policies by public key, the gateway host's own addresses, the device's peer events and
// both filters), then [Interface]/[Peer] go in as a UAPI set body, then the host side (addresses,
// MTU, link up, routes; stale wgts firewall rules of any interface whose owner no longer runs are
// swept). A gateway adds forwarding sysctls (left on at exit), its firewall rules (masquerade,
// FORWARD and INPUT accepts, tagged wgts:IF:PID), the DNS responder and, with [Env], the
// project-variables service (env/); a laptop sets split DNS.
// Then the Prometheus endpoint when [Gateway] has Metrics, the status file and the watch on the
// config file (live reload).
//
// Reload, fail-closed: the new file's access policies apply first, in memory (tightenings and
// removed peers at once), then peers the file no longer holds leave the device in a UAPI body of
// their own, then the rest of the device, routes and host rules. A step that fails does not stop
// the others; the reload is reported failed (log, status file, `wgts show`) and tried again with
// a growing delay (1 s doubling to 60 s) until it succeeds, re-sending every peer in full.
//
// Stop (SIGINT / SIGTERM via runUp, UAPI socket deleted, TUN deleted, start failure): everything
// recorded on the NetConfig undo stack is taken back, the interface is closed, and the status file
// is removed last, so its disappearance tells `wgts down` the cleanup is complete. An uncaught
// exception stops the same way; whatever is left when the process exits anyway is undone
// synchronously from its 'exit' handler.
import { existsSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { diffConfigs, type ConfigDiff } from '../config/diff.js';
import { formatCidr, formatHostPort, parseIP } from '../config/ip.js';
import type { PeerConfig, WgtsConfig } from '../config/model.js';
import { parseConfig } from '../config/parse.js';
import { keyToBase64 } from '../crypto/keys.js';
import { dropCounts } from '../device/drops.js';
import { createLogger, jsonLogLine, levelFromEnv, shortKey, type LogContext, type LogFormat, type Logger, type PeerNames } from '../device/log.js';
import { applySet } from '../device/uapi/protocol.js';
import { crashInProgress, EXIT_CRASH, exitCleanlyOnCrash } from '../io/crash.js';
import { gateStats } from '../io/gate.js';
import { runInterface, type RunningInterface } from '../io/interface.js';
import { ServiceNotifier } from '../io/notify.js';
import { PROTO_TCP } from '../router/packet.js';
import { compileAccess, gatewayAliases, PeerAccess, type CompiledAccess, type ServiceTarget } from './access.js';
import { DnsResponder } from './dns/responder.js';
import { dnsServiceOf } from './dns/service.js';
import { ENV_PATH, EnvService, type CallerCheck } from './env/service.js';
import { EnvStore } from './env/store.js';
import { forwardBlockers, missingIptables, ruleKey, sweepStaleRules, type FirewallRule } from './iptables.js';
import { LocalAddresses } from './localaddr.js';
import type { InterfaceMetrics, MetricsServer, MetricsSource } from './metrics.js';
import { NetConfig, runCommand } from './netcfg.js';
import {
  checkUpConfig, DEFAULT_MTU, DNS_TTL, dnsExemptionsOf, dnsKey, endpointLoops, envTargetsOf, firewallRulesFor, forwardingSysctls,
  hostsOf, interfaceNameOf, loadSource, routesFor, subnetOf, UpError,
} from './plan.js';
import {
  deviceSetBody, liveApplicable, peersNeedingEndpoints, reloadSetBody, removalSetBody, resolveEndpoints, secretFingerprint, syncSetBody,
  withoutSecrets, type ConfigWatch, type HostLookup,
} from './reload.js';
import { overlapMessage } from './route-owner.js';
import { readStatus, STATUS_DIR, statusPath, StatusWriter, type AppliedStatus, type InterfaceStatus, type ReloadStatus } from './status.js';
import { activeConfig, inactivePeers, nextExpiry } from './peer-state.js';
import { formatTimestamp } from '../config/time.js';
import { isRegistryLocation } from './registry/location.js';
import { RegistrySource } from './registry/source.js';
import { FileSource, type ConfigSource, type SourceRead } from './source.js';
import { which } from './lab-ns.js';
import { formatEndpoint } from '../device/endpoint.js';
import { EndpointsExport, type EndpointMap } from './ha/endpoints.js';

/** Whether an IP literal is a loopback address (127.0.0.0/8, ::1, IPv4-mapped loopback). */
export function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === '::1' || /^::ffff:127\./i.test(host);
}

/** The notifier of a process no service manager started. */
const NO_NOTIFIER = new ServiceNotifier(undefined);

/** The undo-stack entry that stops the metrics server. */
const METRICS_UNDO = 'metrics';
/** First wait before a failed reload is tried again (ms); it doubles up to RELOAD_RETRY_MAX_MS. */
export const RELOAD_RETRY_FIRST_MS = 1000;
export const RELOAD_RETRY_MAX_MS = 60_000;
/** The expiry timer looks again at least this often (ms), so a wall clock that jumps is caught too. */
export const EXPIRY_CHECK_MAX_MS = 60_000;

/** Messages of a running interface: progress to stdout, warnings and problems to stderr. */
export interface RuntimeLog {
  info(msg: string, ctx?: LogContext): void;
  warn(msg: string, ctx?: LogContext): void;
  error(msg: string, ctx?: LogContext): void;
}

/** The default log: `wgts: IFNAME: message` lines (`warning: ` before a warning). */
export function consoleLog(ifname: string): RuntimeLog {
  return {
    info: (m) => process.stdout.write(`wgts: ${ifname}: ${m}\n`),
    warn: (m) => process.stderr.write(`wgts: ${ifname}: warning: ${m}\n`),
    error: (m) => process.stderr.write(`wgts: ${ifname}: ${m}\n`),
  };
}

/** The JSON log: one object per line (device/log.ts), peers named through `names`. */
export function jsonLog(ifname: string, names?: PeerNames): RuntimeLog {
  return {
    info: (m, ctx) => process.stdout.write(jsonLogLine('info', ifname, m, ctx, names)),
    warn: (m, ctx) => process.stderr.write(jsonLogLine('warn', ifname, m, ctx, names)),
    error: (m, ctx) => process.stderr.write(jsonLogLine('error', ifname, m, ctx, names)),
  };
}

export interface UpOptions {
  log?: RuntimeLog;
  /** The format of the default log and of the device's log (default text). */
  logFormat?: LogFormat;
  /** The service manager to tell about readiness, reloads and the stop (default: none). */
  notifier?: ServiceNotifier;
  /** Status file directory (default /var/run/wgts). */
  statusDir?: string;
  /** Resolves Endpoint host names (default dns.lookup). */
  lookup?: HostLookup;
  /** The interface name of a gateway run from a registry (default: PREFIX's last segment). */
  ifname?: string;
  /**
   * Keep this file current with the peers' learned endpoints (ha/endpoints.ts): the file a gateway
   * pair shares so that the one taking over can start handshakes at once (`wgts ha kick`).
   */
  endpointsFile?: string;
}

/** The tunnel addresses of a config (IP literals): what the `gateway` alias of Allow rules names. */
function tunnelAddresses(config: WgtsConfig): string[] {
  return config.interface.addresses.map((a) => a.address);
}

/**
 * The families whose INPUT chain gets an accept for the ListenPort: those of the config, and IPv6
 * too where the host has it and ip6tables (laptops may reach a v4 tunnel over an IPv6 endpoint).
 */
export function listenFamilies(config: WgtsConfig): (4 | 6)[] {
  const families = new Set<4 | 6>([4, ...config.interface.addresses.map((a) => a.family), ...(config.gateway?.networks ?? []).map((n) => n.family)]);
  if (existsSync('/proc/net/if_inet6') && which('ip6tables') !== null) families.add(6);
  return [...families].sort();
}

/**
 * What must hold before `wgts up` changes anything: its routes overlap none of the host's own
 * (a project network that is also the laptop's LAN or a Docker network would be shadowed, or
 * shadow it), and a gateway finds iptables and no other nftables table dropping forwarded packets.
 */
async function preflight(config: WgtsConfig, ifname: string, path: string): Promise<string[]> {
  const problems: string[] = [];
  const net = new NetConfig(ifname);
  const conflicts = await net.routeConflicts(routesFor(config)).catch((e: unknown) => {
    problems.push(`cannot read the routing table: ${e instanceof Error ? e.message : String(e)}`);
    return [];
  });
  for (const c of conflicts) problems.push(overlapMessage(c, ifname, path));
  const g = config.gateway;
  if (g) {
    const families = [...new Set([...g.networks.map((n) => n.family), ...config.interface.addresses.map((a) => a.family)])];
    const missing = missingIptables(families);
    if (missing !== null) problems.push(missing);
    if (which('nft') !== null) {
      const ruleset = await runCommand('nft', ['-j', 'list', 'ruleset']).catch(() => '');
      problems.push(...forwardBlockers(ruleset, ifname));
    }
  }
  return problems;
}

/** A running `wgts up`. */
export class InterfaceRuntime {
  /** Resolves with the reason once the runtime has stopped and cleaned up. */
  readonly stopped: Promise<string>;
  private resolveStopped: (why: string) => void = () => undefined;
  private stopping: Promise<void> | null = null;
  /**
   * The file as last read and accepted (live-applicable part): names and access policies. Kept
   * without its keys (withoutSecrets), like `applied`: the keys go to the device and nowhere else.
   */
  private config: WgtsConfig;
  /** Fingerprint of the config file's text as last accepted (unchanged text: nothing to do). */
  private textDigest: string;
  private readonly net: NetConfig;
  /** Access control of a gateway (null for a laptop). */
  private readonly access: PeerAccess | null;
  private dns: DnsResponder | null = null;
  /** dnsKey() of the running responder: a different key needs a new responder. */
  private dnsKey = '';
  /** The project-variables service ([Env]) and where it listens (JSON of its targets; '' = none). */
  private env: EnvService | null = null;
  private envKey = '';
  /** The variables of the [Env] sources: created with the first service, kept (with its reads) until exit. */
  private envStore: EnvStore | null = null;
  private watch: ConfigWatch | null = null;
  /** The registry's reachability when last reported (metrics read health() live). */
  private registryConnected = true;
  private status: StatusWriter | null = null;
  /** Created when Metrics is first configured; kept (with its counters' registry) until exit. */
  private metrics: InterfaceMetrics | null = null;
  /** formatHostPort() of the address the metrics server listens on, '' when none runs. */
  private metricsAt = '';
  private routes = new Set<string>();
  /** Host firewall rules in place, by ruleKey. */
  private rules = new Map<string, FirewallRule>();
  private reloads: Promise<void> = Promise.resolve();
  /** What the device and the host were last brought to completely (the base of the next diff; without keys). */
  private applied: WgtsConfig;
  /** A reload failed part-way: the next one re-sends every peer in full. */
  private dirty = false;
  private reloadState: ReloadStatus;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay = RELOAD_RETRY_FIRST_MS;
  /** The file as last parsed, every peer included (`config` holds the active ones only); without keys. */
  private fileConfig: WgtsConfig;
  /** Fires at the next peer expiry (a reload re-evaluates who is active). */
  private expiryTimer: NodeJS.Timeout | null = null;
  /** The state version last applied completely. */
  private appliedVersion: AppliedStatus;
  /** When the last finished reload pass began (ms; 0: none yet). */
  private checkedAt = 0;
  /** The shared endpoints file (--endpoints-file), refreshed with the status file. */
  private endpointsExport: EndpointsExport | null = null;
  /** The start is complete (READY=1 sent): reloads may tell the service manager about themselves. */
  ready = false;

  private constructor(
    readonly ifname: string,
    /** Where the config comes from: a file or a registry (source.ts). */
    private readonly source: ConfigSource,
    config: WgtsConfig,
    fileConfig: WgtsConfig,
    text: string,
    version: string,
    private readonly iface: RunningInterface,
    private readonly log: RuntimeLog,
    private readonly deviceLog: Logger,
    private readonly opts: UpOptions,
  ) {
    // Kept for the next reload: the config without its keys, the file text as a digest.
    this.config = withoutSecrets(config);
    this.textDigest = secretFingerprint(text);
    this.net = new NetConfig(ifname);
    this.access = config.gateway ? new PeerAccess() : null;
    this.applied = withoutSecrets(config);
    this.fileConfig = withoutSecrets(fileConfig);
    this.appliedVersion = { version, at: Date.now() };
    this.reloadState = { ok: true, at: Date.now(), attempts: 0, errors: [] };
    this.stopped = new Promise((r) => { this.resolveStopped = r; });
  }

  /** The config's location as given (messages): a path or a registry URL. */
  get path(): string {
    return this.source.location;
  }

  /**
   * Starts `wgts up` for `source` (a config file or a registry); throws UpError (nothing left
   * changed) on failure. `created` learns the runtime as soon as it exists, before the host is
   * configured (so a crash during the start can still undo what was done). The source is closed
   * when the runtime stops (or its start fails).
   */
  static async start(source: ConfigSource, opts: UpOptions = {}, created?: (rt: InterfaceRuntime) => void): Promise<InterfaceRuntime> {
    try {
      return await InterfaceRuntime.startFrom(source, opts, created);
    } catch (e) {
      await source.close();
      throw e;
    }
  }

  private static async startFrom(source: ConfigSource, opts: UpOptions, created?: (rt: InterfaceRuntime) => void): Promise<InterfaceRuntime> {
    const path = source.location;
    const ifname = source.ifname;
    const { config: fileConfig, doc, text, version, warnings } = await loadSource(source);
    // Disabled and expired peers stay off the interface (peer-state.ts).
    const config = activeConfig(fileConfig, Date.now());
    let made: InterfaceRuntime | null = null;
    // Names until the runtime exists, from a map of their own: a closure over fileConfig would keep
    // the file's keys reachable for as long as the logs live.
    const startNames = new Map(fileConfig.peers.map((p) => [p.publicKey, p.name]));
    const names: PeerNames = (key) => (made ? made.peerName(key) : startNames.get(key));
    const log = opts.log ?? (opts.logFormat === 'json' ? jsonLog(ifname, names) : consoleLog(ifname));
    for (const w of warnings) log.warn(w, { event: 'warning' });
    const problems = checkUpConfig(fileConfig, path, doc);
    const compiled = compileAccess(config.peers, path, gatewayAliases(tunnelAddresses(config)));
    if (!compiled.ok || problems.length > 0) throw new UpError([...problems, ...(compiled.ok ? [] : compiled.errors)]);
    const resolved = await resolveEndpoints(config.peers, opts.lookup);
    if (!resolved.ok) throw new UpError(resolved.errors);
    const blocked = [...endpointLoops(config, resolved.endpoints, path), ...(await preflight(config, ifname, path))];
    if (blocked.length > 0) throw new UpError(blocked);

    const deviceLog = createLogger(ifname, levelFromEnv(process.env.LOG_LEVEL), undefined, undefined, { format: opts.logFormat ?? 'text', names });
    let iface: RunningInterface;
    try {
      iface = await runInterface(ifname, deviceLog);
    } catch (e) {
      throw new UpError([`cannot create interface ${ifname}: ${e instanceof Error ? e.message : String(e)}`]);
    }
    const rt = new InterfaceRuntime(ifname, source, config, fileConfig, text, version, iface, log, deviceLog, opts);
    made = rt;
    created?.(rt);
    try {
      await rt.armAccess(compiled.rules);
      const r = await applySet(deviceSetBody(config, resolved.endpoints), iface.target);
      if (r.errno !== 0) throw new UpError([`configuring ${ifname} failed: ${'message' in r ? r.message : `errno ${r.errno}`}`]);
      await rt.configureHost();
    } catch (e) {
      await rt.stop('start failed');
      throw e instanceof UpError ? e : new UpError([e instanceof Error ? e.message : String(e)]);
    }
    void iface.closed.then((why) => rt.stop(why));
    rt.armExpiry();
    rt.ready = true;
    rt.notifier.ready(rt.describe());
    return rt;
  }

  /** The name the config file gives the peer with this base64 public key. */
  peerName(publicKey: string): string | undefined {
    return this.config.peers.find((p) => p.publicKey === publicKey)?.name;
  }

  /** One line for the service manager's status: role, peers, port, a failing reload. */
  describe(): string {
    const role = this.config.gateway ? 'gateway' : 'laptop';
    const r = this.reloadState;
    const failing = r.ok ? '' : `; reload FAILED (${r.attempts} attempt(s)): ${r.errors[0] ?? ''}`;
    return `${role} ${this.ifname} up: ${this.devicePeerKeys().length} peer(s), UDP ${this.iface.udp.port}${failing}`;
  }

  /** The service manager of this process (a no-op without one). */
  get notifier(): ServiceNotifier {
    return this.opts.notifier ?? NO_NOTIFIER;
  }

  /**
   * A gateway's access control, in place before the first peer exists: the file's policies by
   * public key, the networks, the DNS exemption, the host's own addresses (followed from now on),
   * and the device's peer events and filters in both directions.
   */
  private async armAccess(policies: CompiledAccess): Promise<void> {
    const a = this.access;
    const g = this.config.gateway;
    if (!a || !g) return;
    a.setNetworks(g.networks);
    a.setDnsTargets(dnsExemptionsOf(this.config));
    const locals = await LocalAddresses.start(runCommand, (addrs) => a.setLocalAddresses(addrs),
      (e) => this.log.error(`${e.message} (the access rules keep the last known addresses)`));
    this.net.undo.push('local-addresses', () => locals.close(), () => locals.close());
    a.setPolicies(policies);
    const device = this.iface.device;
    device.peerEvents = a;
    device.inboundFilter = a.filter;
    device.outboundFilter = a.outboundFilter;
  }

  private async configureHost(): Promise<void> {
    const c = this.config;
    const net = this.net;
    for (const a of c.interface.addresses) await net.addAddress(formatCidr(a));
    await net.setMtu(c.interface.mtu ?? DEFAULT_MTU);
    await net.linkUp();
    await this.syncRoutes(c);
    const swept = await sweepStaleRules(runCommand, (name) => readStatus(name, this.opts.statusDir ?? STATUS_DIR)?.pid ?? null);
    for (const [name, n] of swept) this.log.info(`removed ${n} firewall rule(s) of ${name} left by a wgts that no longer runs`, { event: 'firewall-swept' });
    if (c.gateway) {
      await this.syncGateway(c);
    } else if (c.interface.dns.length > 0) {
      const how = await net.setSplitDns(c.interface.dns, c.interface.dnsSearch);
      if (how.kind === 'manual') this.log.info(how.instructions);
      else this.log.info(`DNS: ${c.interface.dns.join(', ')}${c.interface.dnsSearch.length ? ` for ${c.interface.dnsSearch.join(', ')}` : ''} via ${how.kind === 'resolvectl' ? 'resolvectl' : how.path}`);
    }
    await this.syncMetrics(c);
    if (this.opts.endpointsFile !== undefined) {
      const file = this.opts.endpointsFile;
      this.endpointsExport = new EndpointsExport(file, (e) => this.log.warn(`endpoints file ${file}: ${e.message}`, { event: 'endpoints-file' }));
    }
    this.status = new StatusWriter(this.ifname, () => this.snapshot(), (e) => this.log.error(`status file: ${String(e)}`), this.opts.statusDir ?? STATUS_DIR);
    await this.status.start();
    if (this.source instanceof RegistrySource) {
      this.source.setLog({ info: (m) => this.log.info(m, { event: 'registry' }), error: (m) => this.log.error(m, { event: 'registry' }) });
    }
    this.watch = this.source.watch(() => this.scheduleReload(), (e) => this.log.error(`watching ${this.path}: ${e.message}`));
    const pub = this.iface.target.ownPublicKey();
    this.log.info(`up: ${c.peers.length} peer(s), listening on UDP ${this.iface.udp.port}${pub ? '' : ' (no private key)'}${c.gateway ? ', gateway' : ''}`, { event: 'up' });
  }

  /** Whether the device has exactly the peers of `config` (by public key). */
  private deviceMatches(config: WgtsConfig): boolean {
    const have = this.devicePeerKeys().sort().join(',');
    return have === config.peers.map((p) => p.publicKey).sort().join(',');
  }

  /** Base64 public keys of the peers the device has now. */
  private devicePeerKeys(): string[] {
    const engine = this.iface.device.engine;
    return engine.peerIds().flatMap((id) => {
      const info = engine.peerInfo(id);
      return info ? [keyToBase64(info.publicKey)] : [];
    });
  }

  /**
   * Adds the routes `config` needs that are missing (refusing any that would overlap a route of the
   * host), deletes those it no longer needs.
   */
  private async syncRoutes(config: WgtsConfig): Promise<void> {
    const want = new Set(routesFor(config));
    for (const r of this.routes) {
      if (want.has(r)) continue;
      await this.net.deleteRoute(r).catch((e: unknown) => this.log.error(`route ${r}: ${String(e)}`));
      this.routes.delete(r);
    }
    const missing = [...want].filter((r) => !this.routes.has(r));
    const conflicts = await this.net.routeConflicts(missing);
    const refused = new Set(conflicts.map((c) => c.route));
    for (const r of missing) {
      if (refused.has(r)) continue;
      await this.net.addRoute(r);
      this.routes.add(r);
    }
    if (conflicts.length > 0) {
      throw new Error(conflicts.map((c) => `route ${c.route} refused: it overlaps the existing route ${c.overlaps}`).join('; '));
    }
  }

  /** Brings forwarding, the host firewall rules, DNS and the DNS exemption of the access rules to `config`. */
  private async syncGateway(config: WgtsConfig): Promise<void> {
    const g = config.gateway;
    if (!g) return;
    for (const [name, value] of forwardingSysctls(config)) {
      const before = await this.net.setSysctl(name, value, false);
      if (before !== null) this.log.info(`${name} = ${value} (was ${before}; left at ${value} on exit: Docker or another gateway may depend on it)`);
    }

    const svc = dnsServiceOf(config);
    const key = dnsKey(config);
    if (key !== this.dnsKey) {
      if (this.dns) await this.dns.close();
      this.dns = null;
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
    const exemptions = this.dns ? dnsExemptionsOf(config) : [];
    this.access?.setDnsTargets(exemptions);
    const envTargets = await this.syncEnv(config);

    const want = new Map(firewallRulesFor(config, this.ifname, exemptions, listenFamilies(config), envTargets).map((r) => [ruleKey(r), r]));
    for (const [k, r] of this.rules) {
      if (want.has(k)) continue;
      await this.net.removeRule(r);
      this.rules.delete(k);
    }
    for (const [k, r] of want) {
      if (this.rules.has(k)) continue;
      await this.net.addRule(r);
      this.rules.set(k, r);
    }
  }

  /**
   * Starts, moves or stops the project-variables service to match [Env] of `config`, gives it the
   * file's peers and the store its sources (re-reading every file: a reload re-reads them), and
   * lets every peer reach it through the access rules. Returns where it listens (none without
   * [Env]); throws when an address cannot be bound (the service is then off and unreachable).
   */
  private async syncEnv(config: WgtsConfig): Promise<ServiceTarget[]> {
    const targets = envTargetsOf(config);
    const key = JSON.stringify(targets);
    if (key !== this.envKey) {
      this.access?.setEnvTargets([]);
      if (this.env) {
        await this.env.close();
        this.log.info('variables service stopped');
      }
      this.env = null;
      this.envKey = '';
      if (targets.length > 0) {
        this.envStore ??= new EnvStore({ info: (m) => this.log.info(`variables: ${m}`), error: (m) => this.log.error(`variables: ${m}`) });
        const svc = new EnvService({
          store: this.envStore,
          locate: (remote, remotePort, local, localPort) => this.locateCaller(remote, remotePort, local, localPort),
          clients: [...new Set(config.interface.addresses.map(subnetOf))],
          log: { info: (m) => this.log.info(m), error: (m) => this.log.error(m), verbose: (m) => this.deviceLog.verbose(m) },
        });
        try {
          await svc.listen(targets.map((t) => t.address), targets[0].port);
        } catch (e) {
          throw new Error(`cannot serve variables on port ${targets[0].port}: ${e instanceof Error ? e.message : String(e)}`);
        }
        this.env = svc;
        this.envKey = key;
        this.log.info(`variables on ${targets.map((t) => `http://${formatHostPort({ host: t.address, port: t.port })}${ENV_PATH}`).join(', ')}, for peers inside ${[...new Set(config.interface.addresses.map(subnetOf))].join(', ')}`);
      }
    }
    if (!this.env || !config.env) return [];
    this.env.setPeers(config.peers);
    this.envStore?.configure(config.env.sources, this.source.baseFile);
    await this.envStore?.snapshot();
    this.access?.setEnvTargets(targets);
    return targets;
  }

  /**
   * Who is behind a connection to the variables service (env/service.ts, steps 2-3): the peer the
   * device's AllowedIPs give the source address, provided the access rules' flow table saw this
   * very TCP connection start from that peer through the tunnel.
   */
  private locateCaller(remote: string, remotePort: number, local: string, localPort: number): CallerCheck {
    const unmapped = (a: string): string => a.replace(/^::ffff:(?=[0-9.]+$)/i, '');
    const r = parseIP(unmapped(remote));
    const l = parseIP(unmapped(local));
    const device = this.iface.device;
    const id = r === null ? -1 : device.allowed.lookup(r);
    const publicKey = this.access?.keyOf(id) ?? null;
    if (r === null || l === null || publicKey === null) return { ok: false, reason: 'not-a-peer' };
    if (!this.access?.firewall.flows.hasFlow(id, PROTO_TCP, r, remotePort, l, localPort, performance.now())) return { ok: false, reason: 'not-through-tunnel' };
    return { ok: true, publicKey };
  }

  /** The device's peers that have an endpoint: base64 public key → HOST:PORT. */
  private learnedEndpoints(): EndpointMap {
    const device = this.iface.device;
    const out: EndpointMap = new Map();
    for (const id of device.engine.peerIds()) {
      const info = device.engine.peerInfo(id);
      const ep = device.endpointOf(id);
      if (info && ep) out.set(keyToBase64(info.publicKey), formatEndpoint(ep));
    }
    return out;
  }

  private snapshot(): InterfaceStatus {
    const denied = this.access?.deniedByPeer() ?? new Map<string, number>();
    const refused = this.access?.refusedByPeer() ?? new Map<string, number>();
    const names = new Map(this.config.peers.map((p) => [p.publicKey, p.name]));
    const peers: InterfaceStatus['peers'] = {};
    // The peers the device really has (a removal that failed shows), named from the file.
    const engine = this.iface.device.engine;
    for (const id of engine.peerIds()) {
      const info = engine.peerInfo(id);
      if (!info) continue;
      const key = keyToBase64(info.publicKey);
      const name = names.get(key);
      const counts = { denied: denied.get(key) ?? 0, refused: refused.get(key) ?? 0, rxPackets: info.rxPackets, txPackets: info.txPackets };
      peers[key] = name !== undefined ? { name, ...counts } : counts;
    }
    if (this.endpointsExport) void this.endpointsExport.update(this.learnedEndpoints());
    const inactive: NonNullable<InterfaceStatus['inactive']> = {};
    for (const { peer, state } of inactivePeers(this.fileConfig, Date.now())) {
      if (peers[peer.publicKey] !== undefined) continue; // still on the device: a removal that failed shows there
      inactive[peer.publicKey] = { state, ...(peer.name !== undefined ? { name: peer.name } : {}), ...(peer.expires !== undefined ? { expires: formatTimestamp(peer.expires) } : {}) };
    }
    const s: InterfaceStatus = {
      version: 1,
      interface: this.ifname,
      pid: process.pid,
      config: this.source.id,
      role: this.config.gateway ? 'gateway' : 'client',
      updated: Date.now(),
      peers,
      counters: { ...this.iface.device.counters, ...(this.access ? { flowTableFull: this.access.firewall.flows.counters.full, flowsEvicted: this.access.firewall.flows.counters.evicted } : {}) },
      reload: { ...this.reloadState, errors: [...this.reloadState.errors], ...(this.checkedAt > 0 ? { checked: this.checkedAt } : {}) },
      drops: Object.fromEntries(dropCounts(this.iface.device)),
      udp: { ...this.iface.udp.stats },
      handshakes: { ...this.iface.device.handshakeStats, ...gateStats(this.iface.gate.stats) },
      inactive,
      applied: { ...this.appliedVersion },
    };
    const registry = this.source.health();
    if (registry) s.registry = registry;
    if (this.dns) s.dns = { ...this.dns.counters };
    return s;
  }

  /** What the metrics read on each scrape: the live device, names, access and DNS counters. */
  private metricsSource(): MetricsSource {
    return {
      ifname: this.ifname,
      device: this.iface.device,
      names: () => new Map(this.config.peers.flatMap((p): [string, string][] => (p.name !== undefined ? [[p.publicKey, p.name]] : []))),
      denied: () => this.access?.deniedByPeer() ?? new Map(),
      refused: () => this.access?.refusedByPeer() ?? new Map(),
      dns: () => this.dns?.counters ?? null,
      env: () => this.env?.counters ?? null,
      registry: () => this.source.health(),
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
      this.log.warn(`metrics on ${key} have no authentication: anyone who can reach ${at.host} reads peer names, public keys and traffic counters; prefer Metrics = 127.0.0.1:${at.port} (or [::1]) behind a proxy, or a firewall rule`);
    }
  }

  /**
   * Queues a reload of the config file (reloads run one at a time). The service manager hears
   * RELOADING=1 when it begins and READY=1 when it is done; the status file then records when the
   * pass began (`reload.checked`), so `wgts reload` knows its SIGHUP was handled.
   */
  scheduleReload(): void {
    this.reloads = this.reloads.then(async () => {
      if (this.stopping) return;
      const started = Date.now();
      const tell = this.ready;
      if (tell) this.notifier.reloading();
      try {
        await this.reload();
      } catch (e) {
        this.failed([`reload failed: ${e instanceof Error ? e.message : String(e)}`], true);
      }
      if (this.stopping) return;
      if (tell) this.notifier.ready(this.describe());
      this.checkedAt = started;
      await this.status?.write().catch(() => undefined);
    }).finally(() => this.armExpiry());
  }

  /**
   * Arms the timer for the next expiry of an active peer (at most EXPIRY_CHECK_MAX_MS ahead): when
   * it fires, a reload takes the expired peer off the interface, with no change of the file.
   */
  armExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (this.stopping) return;
    const now = Date.now();
    const next = nextExpiry(this.fileConfig, now);
    if (next === null) return;
    const delay = Math.min(next - now + 20, EXPIRY_CHECK_MAX_MS);
    this.expiryTimer = setTimeout(() => { this.expiryTimer = null; this.scheduleReload(); }, delay);
  }

  /**
   * Re-reads the config file and applies it, fail-closed (see the module comment). A file that
   * does not parse or check is reported (the running config is kept until the file changes); a
   * step that fails makes the reload failed and tried again.
   */
  private async reload(): Promise<void> {
    if (this.stopping) return;
    this.cancelRetry();
    // A reload (SIGHUP, a file event) looks at every env file again, even when the config is unchanged.
    this.envStore?.invalidate();
    let got: SourceRead;
    try {
      got = await this.source.read();
    } catch (e) {
      this.failed([`cannot read ${this.path}: ${e instanceof Error ? e.message : String(e)}`], true);
      return;
    }
    const health = this.source.health();
    if (health && health.connected !== this.registryConnected) {
      this.registryConnected = health.connected;
      void this.status?.write().catch(() => undefined);
    }
    // A registry state that does not decode is kept out like a file that does not parse.
    if (!got.ok) {
      this.failed(got.errors, false);
      return;
    }
    const text = got.text;
    // An unchanged file still brings back a device changed behind its back (`wg set`): peers the
    // file holds are re-sent in full, peers it does not hold are removed.
    const now = Date.now();
    const sameActive = activeConfig(this.fileConfig, now).peers.length === this.config.peers.length;
    if (secretFingerprint(text) === this.textDigest && this.reloadState.ok && this.deviceMatches(this.config) && sameActive) {
      // Same state at a later registry revision (an edit elsewhere under PREFIX that changed nothing here).
      if (got.version !== this.appliedVersion.version) {
        this.appliedVersion = { version: got.version, at: Date.now() };
        void this.status?.write().catch(() => undefined);
      }
      return;
    }
    // An expiry cuts off first, whatever becomes of the rest of the reload (a file that does not
    // parse or check keeps the running config, but never an expired peer).
    if (!sameActive) await this.cutOffExpired(now);
    if (!this.deviceMatches(this.config)) this.dirty = true;
    const parsed = parseConfig(text, this.path);
    if (!parsed.ok) {
      this.failed(parsed.errors.map((e) => e.message), false);
      return;
    }
    // Only active peers go on: disabled and expired ones are removed like peers the file lost.
    const effective = activeConfig(parsed.config, now);
    const next = liveApplicable(this.applied, effective);
    const problems = checkUpConfig(parsed.config, this.path, parsed.doc);
    const compiled = compileAccess(next.peers, this.path, gatewayAliases(tunnelAddresses(next)));
    if (!compiled.ok) problems.push(...compiled.errors);
    if (problems.length > 0 || !compiled.ok) {
      this.failed(problems, false);
      return;
    }
    if (this.stopping) return;
    const wasFailing = !this.reloadState.ok;

    // 1. In memory, cannot fail: the file's access policies, before any peer or rule changes.
    const previousFile = this.fileConfig;
    this.textDigest = secretFingerprint(text);
    this.config = withoutSecrets(next);
    this.fileConfig = withoutSecrets(parsed.config);
    if (this.access && next.gateway) {
      this.access.setPolicies(compiled.rules);
      this.access.setNetworks(next.gateway.networks);
    }
    this.env?.setPeers(next.peers);
    const errors: string[] = [];
    const target = this.iface.target;
    const uapiError = (r: Awaited<ReturnType<typeof applySet>>): string => ('message' in r ? r.message : `errno ${r.errno}`);

    // 2. Peers the file no longer holds leave the device, in a body of their own.
    const keep = new Set(next.peers.map((p) => p.publicKey));
    const gone = this.devicePeerKeys().filter((k) => !keep.has(k));
    if (gone.length > 0) {
      const r = await applySet(removalSetBody(gone), target);
      if (r.errno !== 0) errors.push(`removing peers from ${this.ifname} failed: ${uapiError(r)}`);
    }

    // 3. The rest of the device: keys, port, new and changed peers (all of them after a failure).
    const diff = diffConfigs(this.applied, withoutSecrets(effective));
    const resolved = await resolveEndpoints(this.dirty ? next.peers : peersNeedingEndpoints(diff), this.opts.lookup);
    if (!resolved.ok) {
      errors.push(...resolved.errors);
    } else {
      const loops = endpointLoops(next, resolved.endpoints, this.path);
      if (loops.length > 0) {
        errors.push(...loops);
      } else {
        const body = this.dirty ? syncSetBody(next, resolved.endpoints) : reloadSetBody({ ...diff, peersRemoved: [] }, next, resolved.endpoints);
        if (body !== '') {
          const r = await applySet(body, target);
          if (r.errno !== 0) errors.push(`applying the change to ${this.ifname} failed: ${uapiError(r)}`);
        }
      }
    }

    // 4. The host: routes, gateway rules and DNS, metrics. Each step runs even when another failed.
    const steps: [string, () => Promise<void>][] = [
      ['routes', () => this.syncRoutes(next)],
      ['gateway', () => this.syncGateway(next)],
      ['metrics', () => this.syncMetrics(next)],
    ];
    for (const [what, step] of steps) {
      if (this.stopping) return;
      try {
        await step();
      } catch (e) {
        errors.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (errors.length > 0) {
      this.dirty = true;
      this.failed(errors, true);
      return;
    }
    this.applied = withoutSecrets(next);
    this.dirty = false;
    this.appliedVersion = { version: got.version, at: Date.now() };
    this.succeeded(diff, effective, wasFailing, previousFile, now);
  }

  /** Takes the peers of the running config whose Expires has passed off the access rules and the interface. */
  private async cutOffExpired(now: number): Promise<void> {
    const active = activeConfig(this.config, now);
    const compiled = compileAccess(active.peers, this.path, gatewayAliases(tunnelAddresses(active)));
    if (this.access && compiled.ok) this.access.setPolicies(compiled.rules);
    const keep = new Set(active.peers.map((p) => p.publicKey));
    const gone = this.config.peers.filter((p) => !keep.has(p.publicKey));
    this.config = active;
    if (gone.length === 0) return;
    const r = await applySet(removalSetBody(gone.map((p) => p.publicKey)), this.iface.target);
    if (r.errno !== 0) this.log.error(`removing expired peers from ${this.ifname} failed: ${'message' in r ? r.message : `errno ${r.errno}`}`);
  }

  private succeeded(diff: ConfigDiff, file: WgtsConfig, recovered: boolean, previousFile: WgtsConfig, now: number): void {
    this.reloadState = { ok: true, at: Date.now(), attempts: 0, errors: [] };
    this.retryDelay = RELOAD_RETRY_FIRST_MS;
    if (!!file.gateway !== !!this.applied.gateway) this.log.error('the [Gateway] section appeared or disappeared: restart wgts up to apply that');
    if (diff.interfaceFields.length > 0) this.log.error(`changed ${diff.interfaceFields.join(', ')} of [Interface]: restart wgts up to apply`);
    const names = (ps: readonly { name?: string; publicKey: string }[]): string => ps.map((p) => p.name ?? p.publicKey).join(', ');
    const parts: string[] = [];
    // Peers that left or joined the interface because of their Disabled / Expires say so.
    const was = new Map(inactivePeers(previousFile, now).map((x) => [x.peer.publicKey, x.state]));
    const is = new Map(inactivePeers(this.fileConfig, now).map((x) => [x.peer.publicKey, x.state]));
    const cut = (state: string): PeerConfig[] => diff.peersRemoved.filter((p) => is.get(p.publicKey) === state);
    const back = diff.peersAdded.filter((p) => was.has(p.publicKey));
    const added = diff.peersAdded.filter((p) => !was.has(p.publicKey));
    const removed = diff.peersRemoved.filter((p) => !is.has(p.publicKey));
    if (added.length) parts.push(`added ${names(added)}`);
    if (back.length) parts.push(`enabled ${names(back)}`);
    if (removed.length) parts.push(`removed ${names(removed)}`);
    if (cut('disabled').length) parts.push(`disabled ${names(cut('disabled'))} (cut off)`);
    if (cut('expired').length) parts.push(`expired ${names(cut('expired'))} (cut off)`);
    if (diff.peersChanged.length) parts.push(`changed ${names(diff.peersChanged.map((c) => c.after))}`);
    if (diff.gatewayFields.length) parts.push(`gateway ${diff.gatewayFields.join(', ')}`);
    if (diff.env) parts.push('[Env]');
    if (parts.length > 0 || recovered) this.log.info(`reloaded ${basename(this.path)}${parts.length ? `: ${parts.join('; ')}` : ''}${recovered ? ' (the earlier failure is resolved)' : ''}`, { event: 'reloaded' });
    const each: [string, readonly { name?: string; publicKey: string }[]][] = [
      ['added', diff.peersAdded], ['removed', diff.peersRemoved], ['changed', diff.peersChanged.map((c) => c.after)]];
    for (const [what, ps] of each) {
      for (const p of ps) this.log.info(`peer ${p.name ?? shortKey(p.publicKey)} ${what}`, { event: `peer-${what}`, peer: p.publicKey, ...(p.name !== undefined ? { name: p.name } : {}) });
    }
    void this.status?.write().catch(() => undefined);
  }

  /**
   * Records a failed reload: logged, in the status file, and with `retry` tried again after a
   * delay that doubles up to RELOAD_RETRY_MAX_MS (without: when the file changes).
   */
  private failed(errors: readonly string[], retry: boolean): void {
    if (this.stopping) return;
    for (const e of errors) this.log.error(e, { event: 'reload-error' });
    const attempts = this.reloadState.ok ? 1 : this.reloadState.attempts + 1;
    const state: ReloadStatus = { ok: false, at: Date.now(), attempts, errors: [...errors] };
    if (retry) {
      const delay = this.retryDelay;
      this.retryDelay = Math.min(delay * 2, RELOAD_RETRY_MAX_MS);
      state.nextRetry = Date.now() + delay;
      this.log.error(`reload of ${basename(this.path)} failed (attempt ${attempts}): peers removed from the file are cut off and rules tightened already; trying the rest again in ${(delay / 1000).toFixed(0)} s`, { event: 'reload-failed' });
      this.cancelRetry();
      this.retryTimer = setTimeout(() => { this.retryTimer = null; this.scheduleReload(); }, delay);
    } else {
      this.log.error('config not applied: keeping the running config (the file is read again when it changes)', { event: 'reload-failed' });
    }
    this.reloadState = state;
    void this.status?.write().catch(() => undefined);
  }

  private cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Stops the interface and undoes everything (idempotent; resolves when done). */
  stop(reason: string): Promise<void> {
    if (!this.stopping) this.stopping = this.shutdown(reason);
    return this.stopping;
  }

  /**
   * For the process's 'exit' handler: undoes synchronously what an interrupted stop left (firewall
   * rules, restored sysctls, the namespace resolv.conf) and removes the status file.
   */
  undoSync(): void {
    this.net.undo.unwindSync((key, e) => this.log.error(`undo ${key}: ${e instanceof Error ? e.message : String(e)}`));
    rmSync(statusPath(this.ifname, this.opts.statusDir ?? STATUS_DIR), { force: true });
  }

  private async shutdown(reason: string): Promise<void> {
    this.notifier.stopping(`stopping: ${reason}`);
    this.cancelRetry();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.watch?.close();
    await this.reloads.catch(() => undefined);
    await this.source.close().catch((e: unknown) => this.log.error(`closing ${this.path}: ${String(e)}`));
    this.cancelRetry();
    const device = this.iface.device;
    device.inboundFilter = null;
    device.outboundFilter = null;
    if (this.dns) await this.dns.close().catch((e: unknown) => this.log.error(`closing DNS: ${String(e)}`));
    this.dns = null;
    if (this.env) await this.env.close().catch((e: unknown) => this.log.error(`closing the variables service: ${String(e)}`));
    this.env = null;
    await this.net.undo.unwind((key, e) => this.log.error(`undo ${key}: ${e instanceof Error ? e.message : String(e)}`));
    await this.iface.close(reason);
    if (this.status) await this.status.stop().catch((e: unknown) => this.log.error(`status file: ${String(e)}`));
    this.log.info(`down (${reason})`, { event: 'down' });
    this.resolveStopped(reason);
  }
}

/**
 * `wgts up FILE` in the foreground: starts, stops on SIGINT / SIGTERM (or when the interface goes
 * away), reloads on SIGHUP as on a file change. Resolves with the exit code. An uncaught
 * exception logs, undoes everything (as a stop does) and exits with EXIT_CRASH (io/crash.ts);
 * whatever the process leaves behind when it exits anyway (process.exit() elsewhere) is undone
 * synchronously from its 'exit' handler.
 */
export async function runUp(path: string, opts: UpOptions = {}): Promise<number> {
  // Handlers go in first: a signal during the start must stop the interface once it is up,
  // not kill the process half-configured.
  let rt: InterfaceRuntime | null = null;
  let label = path;
  try { label = isRegistryLocation(path) ? (opts.ifname ?? path) : interfaceNameOf(path); } catch { /* reported by the start */ }
  const json = opts.logFormat === 'json';
  const log = opts.log ?? (json ? jsonLog(label, (key) => rt?.peerName(key)) : consoleLog(label));
  const notifier = opts.notifier ?? ServiceNotifier.fromEnv((m) => log.warn(m, { event: 'notify' }));
  const crashLog = (m: string): void => log.error(m, { event: 'crash' });
  const noCrashHandler = exitCleanlyOnCrash(crashLog, async () => { if (rt) await rt.stop('crashed'); });
  let stopWhy: string | null = null;
  const onSignal = (sig: string) => (): void => {
    stopWhy ??= `received ${sig}`;
    if (rt) void rt.stop(stopWhy);
  };
  const onInt = onSignal('SIGINT');
  const onTerm = onSignal('SIGTERM');
  const onHup = (): void => rt?.scheduleReload();
  const onExit = (): void => rt?.undoSync();
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  process.on('exit', onExit);
  try {
    if (opts.ifname !== undefined && !isRegistryLocation(path)) throw new UpError([`--ifname is for a registry (etcd://...); the interface of ${path} is named after the file`]);
    const source = isRegistryLocation(path) ? await RegistrySource.open(path, opts.ifname) : new FileSource(path);
    rt = await InterfaceRuntime.start(source, { ...opts, log, notifier }, (created) => { rt = created; });
    if (stopWhy !== null) void rt.stop(stopWhy);
    await rt.stopped;
    return crashInProgress() ? EXIT_CRASH : 0;
  } catch (e) {
    const lines = e instanceof UpError ? e.messages : [e instanceof Error ? e.message : String(e)];
    // FILE:LINE: reason lines as they are (editors jump to them); in JSON, one object each.
    for (const l of lines) {
      if (json) log.error(l, { event: 'start-failed' });
      else process.stderr.write(`${l}\n`);
    }
    return 1;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    process.off('exit', onExit);
    noCrashHandler();
  }
}
