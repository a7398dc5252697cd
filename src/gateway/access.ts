// The gateway's access control, from config to data plane. The `Allow =` and `AllowInbound =`
// strings of each [Peer] are compiled (router/access.ts; errors at FILE:LINE of the line) into a
// policy per PUBLIC KEY. The data plane works with device peer ids, which the device reuses after
// removals, so PeerAccess follows the device's peer events: when an id starts belonging to a key
// it gets that key's policy (or nothing at all when the file does not know the key) and fresh
// flows and counters; when the peer goes, its id is cleared. A peer removed and another added
// through UAPI between two reloads therefore never inherits the rules or flows of the old one.
//
// Semantics (README "Access"):
//   - a peer without Allow lines reaches the gateway's Networks, except the gateway host's own
//     addresses (any of them: sshd, Docker ports, the metrics port), plus the gateway's DNS and
//     its project-variables service (TCP on the tunnel addresses, when [Env] is configured);
//   - a peer with Allow lines reaches exactly what they name, plus the DNS and the variables; the alias
//     `gateway` names the gateway's tunnel addresses (`Allow = gateway:22/tcp`);
//   - a peer the file does not hold (added with `wg set` only) reaches nothing;
//   - the network reaches a peer only within flows the peer started, or through its AllowInbound
//     rules (`AllowInbound = 8080/tcp`).
// Refused packets are counted per peer (denied: from it; refused: to it), in typed arrays indexed
// by id; the filters allocate nothing.
import type { Cidr } from '../config/ip.js';
import type { PeerConfig } from '../config/model.js';
import type { InboundFilter, OutboundFilter, PeerEvents } from '../device/device.js';
import { keyToBase64 } from '../crypto/keys.js';
import {
  formatAccessRule, formatInboundRule, MODE_DEFAULT, parseAccessRules, parseInboundRule,
  type AccessRule, type InboundRule, type RuleAliases,
} from '../router/access.js';
import { PeerFirewall } from '../router/firewall.js';
import { DEFAULT_FLOW_CAPACITY } from '../router/flows.js';
import { maskInPlace, parseAddr } from '../router/prefix.js';

/** The alias that names the gateway's tunnel addresses in Allow rules. */
export const GATEWAY_ALIAS = 'gateway';

/** One peer's compiled access: its own rules (null = the default: the networks) and inbound rules. */
export interface PeerPolicy {
  readonly rules: readonly AccessRule[] | null;
  readonly inbound: readonly InboundRule[];
  /** Canonical text of both, to tell a changed policy from an unchanged one. */
  readonly signature: string;
}

/** The compiled access of every peer of a file, by base64 public key. */
export type CompiledAccess = ReadonlyMap<string, PeerPolicy>;

/** Outcome of compileAccess: the policies by public key, or every bad rule as `FILE:LINE: reason`. */
export type CompileResult = { ok: true; rules: CompiledAccess } | { ok: false; errors: string[] };

/** The rule aliases of a gateway whose tunnel addresses are `tunnel` (IP literals). */
export function gatewayAliases(tunnel: readonly string[]): RuleAliases {
  const addrs: Uint8Array[] = [];
  for (const t of tunnel) {
    const a = parseAddr(t);
    if (a.ok) addrs.push(a.value);
  }
  return new Map([[GATEWAY_ALIAS, addrs]]);
}

/** Compiles the Allow and AllowInbound lines of `peers` (from the file `file`). */
export function compileAccess(peers: readonly PeerConfig[], file: string, aliases: RuleAliases = gatewayAliases([])): CompileResult {
  const policies = new Map<string, PeerPolicy>();
  const errors: string[] = [];
  const at = (p: PeerConfig, line: number | undefined): string => {
    const n = line ?? p.source?.line ?? 0;
    return n > 0 ? `${file}:${n}` : file;
  };
  for (const p of peers) {
    let rules: AccessRule[] | null = null;
    if (p.allow.length > 0) {
      rules = [];
      for (const [i, text] of p.allow.entries()) {
        const r = parseAccessRules(text, aliases);
        if (r.ok) rules.push(...r.value);
        else errors.push(`${at(p, p.source?.allowLines[i])}: ${r.error}`);
      }
    }
    const inbound: InboundRule[] = [];
    for (const [i, text] of (p.allowInbound ?? []).entries()) {
      const r = parseInboundRule(text);
      if (r.ok) inbound.push(r.value);
      else errors.push(`${at(p, p.source?.allowInboundLines?.[i])}: ${r.error}`);
    }
    const signature = `${rules === null ? '*' : rules.map(formatAccessRule).join(',')}|${inbound.map(formatInboundRule).join(',')}`;
    policies.set(p.publicKey, { rules, inbound, signature });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, rules: policies };
}

/** Where a service of the gateway listens (the DNS, the variables): allowed to every peer the file holds. */
export interface ServiceTarget {
  /** IP literal. */
  readonly address: string;
  readonly port: number;
}

/** Where the gateway's DNS listens (UDP and TCP). */
export type DnsTarget = ServiceTarget;

/** A host prefix rule for an IP literal (throws on a bad literal: config values are checked). */
function hostRule(ip: string, proto: AccessRule['proto'], lo = 0, hi = 65535): AccessRule {
  const a = parseAddr(ip);
  if (!a.ok) throw new Error(`bad address ${ip}: ${a.error}`);
  return { addr: a.value, cidr: a.value.length * 8, proto, portLo: lo, portHi: hi };
}

/** Peer access state of one gateway interface: policies by key, the firewall by id, counters. */
export class PeerAccess implements PeerEvents {
  readonly firewall: PeerFirewall;
  private policies: CompiledAccess = new Map();
  /** Public key owning each peer id, as the device's peer events said. */
  private readonly keyOfId: (string | undefined)[] = [];
  /** Signature of the policy applied to each id ('' = none: the file does not hold the key). */
  private readonly applied: string[] = [];
  private networksText = '';
  /** The services every peer of the file reaches, and their text as last set (to skip no-op changes). */
  private readonly exempt: Record<'dns' | 'env', { text: string; targets: readonly ServiceTarget[] }> = {
    dns: { text: '', targets: [] },
    env: { text: '', targets: [] },
  };
  private localText = '';

  constructor(flowCapacity = DEFAULT_FLOW_CAPACITY) {
    this.firewall = new PeerFirewall(flowCapacity);
  }

  /** The project networks: what peers without Allow lines reach. */
  setNetworks(networks: readonly Cidr[]): void {
    const text = networks.map((n) => `${n.address}/${n.prefix}`).join(',');
    if (text === this.networksText) return;
    this.networksText = text;
    this.firewall.access.setDefaultRules(networks.map((n): AccessRule => {
      const a = parseAddr(n.address);
      if (!a.ok) throw new Error(`bad network ${n.address}: ${a.error}`);
      return { addr: maskInPlace(a.value, n.prefix), cidr: n.prefix, proto: 'any', portLo: 0, portHi: 65535 };
    }));
    this.forgetFlows((id) => this.firewall.access.modeOf(id) === MODE_DEFAULT);
  }

  /** Where the DNS listens (UDP and TCP): reachable by every peer the file holds. */
  setDnsTargets(targets: readonly DnsTarget[]): void {
    this.setExempt('dns', targets);
  }

  /** Where the project-variables service listens (TCP; none without [Env]): reachable by every peer the file holds. */
  setEnvTargets(targets: readonly ServiceTarget[]): void {
    this.setExempt('env', targets);
  }

  private setExempt(which: 'dns' | 'env', targets: readonly ServiceTarget[]): void {
    const text = targets.map((t) => `${t.address}:${t.port}`).join(',');
    if (text === this.exempt[which].text) return;
    this.exempt[which] = { text, targets: [...targets] };
    this.firewall.access.setExemptions([
      ...this.exempt.dns.targets.flatMap((t) => [hostRule(t.address, 'udp', t.port, t.port), hostRule(t.address, 'tcp', t.port, t.port)]),
      ...this.exempt.env.targets.map((t) => hostRule(t.address, 'tcp', t.port, t.port)),
    ]);
    this.forgetFlows(() => true);
  }

  /** The gateway host's own addresses (IP literals): never reached through the default policy. */
  setLocalAddresses(addresses: readonly string[]): void {
    const sorted = [...new Set(addresses)].sort();
    const text = sorted.join(',');
    if (text === this.localText) return;
    const before = new Set(this.localAddresses);
    const added = sorted.some((a) => !before.has(a));
    this.localText = text;
    const bytes: Uint8Array[] = [];
    for (const ip of sorted) {
      const a = parseAddr(ip);
      if (a.ok) bytes.push(a.value);
    }
    this.firewall.access.setExcluded(bytes);
    // A new host address may be the destination of a flow a default peer already has: forget those
    // flows (answers resume with the laptop's next packet). A removed address only loosens.
    if (added) this.forgetFlows((id) => this.firewall.access.modeOf(id) === MODE_DEFAULT);
  }

  /** The gateway host's addresses as last set. */
  get localAddresses(): string[] {
    return this.localText === '' ? [] : this.localText.split(',');
  }

  /**
   * Takes the policies of a (re)loaded file. Every peer id the device has gets its key's policy at
   * once; an id whose key the file no longer holds gets none (nothing passes). A changed policy
   * also forgets the flows the old one let start.
   */
  setPolicies(policies: CompiledAccess): void {
    this.policies = policies;
    this.keyOfId.forEach((key, id) => { if (key !== undefined) this.applyTo(id, key); });
  }

  private applyTo(id: number, key: string): void {
    const p = this.policies.get(key);
    const signature = p?.signature ?? '';
    const access = this.firewall.access;
    if (p === undefined) {
      access.clearPeer(id);
    } else {
      if (p.rules === null) access.setDefault(id);
      else access.setRules(id, p.rules);
      access.setInbound(id, p.inbound);
    }
    if (this.applied[id] !== undefined && this.applied[id] !== signature) this.firewall.forgetFlows(id);
    this.applied[id] = signature;
  }

  private forgetFlows(which: (id: number) => boolean): void {
    this.keyOfId.forEach((key, id) => { if (key !== undefined && which(id)) this.firewall.forgetFlows(id); });
  }

  /** PeerEvents: the device gave `id` to `publicKey` (a new peer): its policy, fresh flows and counters. */
  added(id: number, publicKey: Uint8Array): void {
    const key = keyToBase64(publicKey);
    this.keyOfId[id] = key;
    this.applied[id] = '';
    this.firewall.resetPeer(id);
    this.applyTo(id, key);
  }

  /** PeerEvents: the peer with `id` is gone: the id allows nothing until it is given again. */
  removed(id: number): void {
    if (id < 0) return;
    this.keyOfId[id] = undefined;
    this.applied[id] = '';
    this.firewall.access.clearPeer(id);
    this.firewall.resetPeer(id);
  }

  /** Device.inboundFilter: may `peer` send this decrypted packet into the network? */
  readonly filter: InboundFilter = (peer, pkt, off, len, now) => this.firewall.fromPeer(peer, pkt, off, len, now);

  /** Device.outboundFilter: may this packet from the network go to `peer`? */
  readonly outboundFilter: OutboundFilter = (peer, pkt, off, len, now) => this.firewall.toPeer(peer, pkt, off, len, now);

  /** The public key (base64) the device gave `id` to, as its peer events said; null when none. */
  keyOf(id: number): string | null {
    return id >= 0 ? this.keyOfId[id] ?? null : null;
  }

  /** The device id of a public key (-1 when the device does not have it). */
  idOf(publicKey: string): number {
    return this.keyOfId.indexOf(publicKey);
  }

  /** Denied packets of the peer with `publicKey` (0 when unknown). */
  deniedOf(publicKey: string): number {
    return this.firewall.deniedOf(this.idOf(publicKey));
  }

  /** Packets from each peer refused by its rules, by public key, for every peer the device has. */
  deniedByPeer(): Map<string, number> {
    return this.byKey((id) => this.firewall.deniedOf(id));
  }

  /** Packets to each peer refused (no flow of it, no AllowInbound), by public key. */
  refusedByPeer(): Map<string, number> {
    return this.byKey((id) => this.firewall.refusedOf(id));
  }

  private byKey(value: (id: number) => number): Map<string, number> {
    const out = new Map<string, number>();
    this.keyOfId.forEach((key, id) => { if (key !== undefined) out.set(key, value(id)); });
    return out;
  }
}
