// Per-peer access rules: which packets a peer may send into the network, checked after decryption
// and before the TUN write, and which new connections the network may open to a peer. A rule
// matches a packet coming FROM the peer by (destination address, protocol, destination port);
// answers within flows the peer started are the flow table's business (flows.ts, firewall.ts).
//
// Each peer id is in one of three modes:
//   - none (never set, or clearPeer): nothing is allowed, not even the exemptions;
//   - default (setDefault): the exemptions, and the default rules (the gateway's networks) except
//     for destinations in the excluded addresses (the gateway host's own addresses);
//   - rules (setRules): the exemptions, and the peer's own rules (an empty list: exemptions only).
// The exemptions are rules every peer in default or rules mode has (the gateway's DNS).
// A rule matches when the destination is inside its network (same family), and
//   proto any,  no ports: any packet;            proto any, ports: TCP or UDP with port in range;
//   proto tcp/udp, no ports: any such packet;    proto tcp/udp, ports: such a packet, port in range;
//   proto icmp: ICMP for an IPv4 network, ICMPv6 for an IPv6 one (ports do not apply).
// "No ports" is the range 0-65535; a packet without a readable port (e.g. a non-first fragment)
// only matches rules without ports. Rules are stored as Int32Arrays of fixed records and checked
// in order; allows() is a loop of array reads without allocation.
//
// Inbound rules (setInbound, the AllowInbound of a peer): connections the network may start to the
// peer, by protocol and the peer's port: "PORT[-PORT][/tcp|/udp]" (no protocol: both) or "icmp"
// (echo requests).
//
// Rule text grammar (whitespace not allowed; protocol names case-insensitive):
//   rule   = target [ ":" ports ] [ "/" proto ]
//   target = ipv4 [ "/" len ]                 e.g. 10.124.0.0/24, 10.124.0.10 (= /32)
//          | "[" ipv6 "]" [ "/" len ]         e.g. [fd00::1]:80/tcp, [fd00::]/64:80-90/tcp
//          | ipv6 "/" len                     e.g. fd00::1/128:80-90/tcp
//          | ipv6                             bare IPv6 (= /128): a port cannot follow, since the
//                                             colon would be read as part of the address
//          | alias                            a name standing for host addresses, given by the
//                                             caller (the gateway: `gateway` = its tunnel addresses)
//   ports  = port [ "-" port ]                decimal 0..65535, no leading zeros, first <= second
//   proto  = "tcp" | "udp" | "icmp"           absent = any protocol
// Host bits of the address are cleared. Ports with icmp are rejected. Examples:
// 10.124.0.10/32:3000/tcp, 10.124.0.0/24, 10.124.0.10:5432/tcp, 10.124.0.0/16/udp, gateway:22/tcp.

import { MAX_PEER_ID } from './allowedips.js';
import { lastProtocol, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, readDst, transportOffset } from './packet.js';
import { addrWord, fail, formatAddr, maskInPlace, parseAddr, parseCidr, type Parsed } from './prefix.js';

/** Protocol selector of a rule. */
export type AccessProto = 'any' | 'tcp' | 'udp' | 'icmp';

/** One access rule: network addr/cidr (4 or 16 bytes), protocol, destination ports portLo..portHi. */
export interface AccessRule {
  addr: Uint8Array;
  cidr: number;
  proto: AccessProto;
  /** 0..65535 means any port. */
  portLo: number;
  portHi: number;
}

// Rule record layout in a peer's Int32Array.
const VERSION = 0; // 4 or 6
const PROTO = 1; // IP protocol number, or ANY
const LO = 2;
const HI = 3;
const NET = 4; // 4 network words (IPv4 uses the first)
const MASK = 8; // 4 mask words
const STRIDE = 12;
const ANY = 256; // outside the 0..255 protocol numbers

const PROTOS: Record<string, AccessProto> = { tcp: 'tcp', udp: 'udp', icmp: 'icmp' };

/** Parses "lo" or "lo-hi" into a port range. */
function parsePorts(s: string): Parsed<[number, number]> {
  const parts = s.split('-');
  if (parts.length > 2) return fail(`bad port range "${s}"`);
  const nums: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(p) || Number(p) > 65535) return fail(`bad port "${p}" (0..65535)`);
    nums.push(Number(p));
  }
  const lo = nums[0];
  const hi = nums.length === 2 ? nums[1] : lo;
  if (lo > hi) return fail(`port range "${s}" runs backwards`);
  return { ok: true, value: [lo, hi] };
}

/** Parses one rule in the grammar of the module comment; the error names the bad token. */
export function parseAccessRule(text: string): Parsed<AccessRule> {
  const bad = (why: string): Parsed<AccessRule> => fail(`access rule "${text}": ${why}`);
  let s = text;
  let proto: AccessProto = 'any';
  const lastSlash = s.lastIndexOf('/');
  if (lastSlash >= 0 && /^[A-Za-z]+$/.test(s.slice(lastSlash + 1))) {
    const name = s.slice(lastSlash + 1);
    const p = PROTOS[name.toLowerCase()];
    if (p === undefined) return bad(`unknown protocol "${name}" (tcp, udp or icmp)`);
    proto = p;
    s = s.slice(0, lastSlash);
  }
  // Split s into address text, optional length text and optional ports text.
  let addrText: string;
  let rest: string; // "" | "/len" | "/len:ports" | ":ports"
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return bad(`missing "]" after "${s}"`);
    addrText = s.slice(1, close);
    if (!addrText.includes(':')) return bad(`brackets are for IPv6 addresses, not "${addrText}"`);
    rest = s.slice(close + 1);
  } else if (s.includes('/')) {
    addrText = s.slice(0, s.indexOf('/'));
    rest = s.slice(s.indexOf('/'));
  } else if (s.split(':').length === 2) {
    addrText = s.slice(0, s.indexOf(':')); // IPv4 with a port
    rest = s.slice(s.indexOf(':'));
  } else {
    addrText = s; // a bare address (IPv4, or IPv6 which cannot carry a port here)
    rest = '';
  }
  const addr = parseAddr(addrText);
  if (!addr.ok) return bad(addr.error);
  const bits = addr.value.length * 8;
  let cidr = bits;
  let portsText = '';
  if (rest.startsWith('/')) {
    const colon = rest.indexOf(':');
    const lenText = colon < 0 ? rest.slice(1) : rest.slice(1, colon);
    const c = parseCidr(lenText, bits);
    if (!c.ok) return bad(c.error);
    cidr = c.value;
    portsText = colon < 0 ? '' : rest.slice(colon + 1);
    if (colon >= 0 && portsText === '') return bad('empty port after ":"');
  } else if (rest.startsWith(':')) {
    portsText = rest.slice(1);
    if (portsText === '') return bad('empty port after ":"');
  } else if (rest !== '') {
    return bad(`unexpected "${rest}" after the address`);
  }
  let portLo = 0;
  let portHi = 65535;
  if (portsText !== '') {
    if (proto === 'icmp') return bad(`ports "${portsText}" do not apply to icmp`);
    const p = parsePorts(portsText);
    if (!p.ok) return bad(p.error);
    [portLo, portHi] = p.value;
  }
  return { ok: true, value: { addr: maskInPlace(addr.value, cidr), cidr, proto, portLo, portHi } };
}

/** Alias names (lower case) and the host addresses (4 or 16 bytes) each stands for. */
export type RuleAliases = ReadonlyMap<string, readonly Uint8Array[]>;

/**
 * The alias a rule text starts with (`gateway`, `gateway:22/tcp`, `GATEWAY/icmp`), or null: a
 * name (a letter, then letters, digits, '-') followed by nothing but `:PORT[-PORT]` and `/PROTO`,
 * so an IPv6 address such as `fd00::1` or `abc:1::/64` is never taken for one.
 */
export function ruleAlias(text: string): { name: string; rest: string } | null {
  const m = /^([A-Za-z][A-Za-z0-9-]*)((?::[0-9]+(?:-[0-9]+)?)?(?:\/[A-Za-z]+)?)$/.exec(text);
  if (!m || (m[2] === '' && /^[0-9a-f]{1,4}$/i.test(m[1]))) return null;
  return { name: m[1].toLowerCase(), rest: m[2] };
}

/**
 * Parses one rule text into rules: an address rule gives one, an alias one per address it stands
 * for (IPv4 and IPv6 alike; the ports and protocol apply to each). An unknown alias is an error.
 */
export function parseAccessRules(text: string, aliases: RuleAliases = new Map()): Parsed<AccessRule[]> {
  const alias = ruleAlias(text);
  if (alias === null) {
    const r = parseAccessRule(text);
    return r.ok ? { ok: true, value: [r.value] } : r;
  }
  const addrs = aliases.get(alias.name);
  if (addrs === undefined) {
    const known = [...aliases.keys()];
    return fail(`access rule "${text}": unknown name "${alias.name}"${known.length ? ` (${known.join(', ')} or an address)` : ''}`);
  }
  const out: AccessRule[] = [];
  for (const a of addrs) {
    const lit = formatAddr(a);
    const r = parseAccessRule(a.length === 16 ? `[${lit}]${alias.rest}` : `${lit}${alias.rest}`);
    if (!r.ok) return fail(`access rule "${text}": ${r.error.replace(/^access rule "[^"]*": /, '')}`);
    out.push(r.value);
  }
  return { ok: true, value: out };
}

/** An AllowInbound rule: connections to the peer's ports portLo..portHi (or ICMP echo requests). */
export interface InboundRule {
  proto: AccessProto;
  portLo: number;
  portHi: number;
}

/** Parses `PORT[-PORT][/tcp|/udp]` (no protocol: TCP and UDP) or `icmp` (echo requests). */
export function parseInboundRule(text: string): Parsed<InboundRule> {
  const bad = (why: string): Parsed<InboundRule> => fail(`inbound rule "${text}": ${why}`);
  if (text.toLowerCase() === 'icmp') return { ok: true, value: { proto: 'icmp', portLo: 0, portHi: 65535 } };
  const slash = text.indexOf('/');
  let proto: AccessProto = 'any';
  if (slash >= 0) {
    const name = text.slice(slash + 1).toLowerCase();
    if (name !== 'tcp' && name !== 'udp') return bad(`"${text.slice(slash + 1)}" is not tcp or udp (or write just icmp)`);
    proto = name;
  }
  const ports = parsePorts(slash >= 0 ? text.slice(0, slash) : text);
  if (!ports.ok) return bad(ports.error);
  return { ok: true, value: { proto, portLo: ports.value[0], portHi: ports.value[1] } };
}

/** Canonical text of an inbound rule. */
export function formatInboundRule(r: InboundRule): string {
  if (r.proto === 'icmp') return 'icmp';
  const ports = r.portLo === r.portHi ? `${r.portLo}` : `${r.portLo}-${r.portHi}`;
  return r.proto === 'any' ? ports : `${ports}/${r.proto}`;
}

/** Canonical text of a rule (parseAccessRule reads it back to the same rule). */
export function formatAccessRule(rule: AccessRule): string {
  const v6 = rule.addr.length === 16;
  const addr = formatAddr(maskInPlace(rule.addr.slice(), rule.cidr));
  const allPorts = rule.proto === 'icmp' || (rule.portLo === 0 && rule.portHi === 65535);
  let out = v6 && !allPorts ? `[${addr}]/${rule.cidr}` : `${addr}/${rule.cidr}`;
  if (!allPorts) out += rule.portLo === rule.portHi ? `:${rule.portLo}` : `:${rule.portLo}-${rule.portHi}`;
  if (rule.proto !== 'any') out += `/${rule.proto}`;
  return out;
}

/** Writes rule's record at r[at..at+STRIDE); throws RangeError on out-of-range fields. */
function compileRule(rule: AccessRule, r: Int32Array, at: number): void {
  const words = rule.addr.length / 4;
  if (words !== 1 && words !== 4) throw new RangeError('rule address must be 4 or 16 bytes');
  if (!Number.isInteger(rule.cidr) || rule.cidr < 0 || rule.cidr > words * 32) {
    throw new RangeError(`rule prefix length ${rule.cidr} out of range`);
  }
  const { portLo, portHi } = rule;
  if (!(Number.isInteger(portLo) && Number.isInteger(portHi) && portLo >= 0 && portLo <= portHi && portHi <= 65535)) {
    throw new RangeError(`rule ports ${portLo}-${portHi} out of range`);
  }
  const icmp = rule.proto === 'icmp';
  r[at + VERSION] = words === 1 ? 4 : 6;
  if (icmp) r[at + PROTO] = words === 1 ? PROTO_ICMP : PROTO_ICMPV6;
  else r[at + PROTO] = rule.proto === 'tcp' ? PROTO_TCP : rule.proto === 'udp' ? PROTO_UDP : ANY;
  r[at + LO] = icmp ? 0 : portLo; // ports do not apply to ICMP
  r[at + HI] = icmp ? 65535 : portHi;
  for (let w = 0; w < 4; w++) {
    const keep = rule.cidr - 32 * w;
    const m = w >= words || keep <= 0 ? 0 : keep >= 32 ? -1 : -1 << (32 - keep);
    r[at + MASK + w] = m;
    r[at + NET + w] = w < words ? addrWord(rule.addr, 4 * w) & m : 0;
  }
}

/** Compiles a rule list into records. */
function compileRules(rules: readonly AccessRule[]): Int32Array<ArrayBuffer> {
  const r = new Int32Array(rules.length * STRIDE);
  rules.forEach((rule, i) => compileRule(rule, r, i * STRIDE));
  return r;
}

/** Whether one of the records of `r` matches (see the module comment). */
function matchRules(r: Int32Array, version: number, dst: Uint32Array, proto: number, port: number): boolean {
  for (let i = 0; i < r.length; i += STRIDE) {
    if (r[i + VERSION] !== version) continue;
    if (((dst[0] ^ r[i + NET]) & r[i + MASK]) !== 0) continue;
    if (
      version === 6 &&
      (((dst[1] ^ r[i + NET + 1]) & r[i + MASK + 1]) |
        ((dst[2] ^ r[i + NET + 2]) & r[i + MASK + 2]) |
        ((dst[3] ^ r[i + NET + 3]) & r[i + MASK + 3])) !==
        0
    ) {
      continue;
    }
    const rp = r[i + PROTO];
    if (rp !== ANY && rp !== proto) continue;
    const lo = r[i + LO];
    const hi = r[i + HI];
    if (lo === 0 && hi === 65535) return true;
    if ((proto === PROTO_TCP || proto === PROTO_UDP) && port >= lo && port <= hi) return true;
  }
  return false;
}

/** Peer modes (see the module comment). */
export const MODE_NONE = 0;
export const MODE_DEFAULT = 1;
export const MODE_RULES = 2;

// Excluded address records: version, 4 words.
const EXCLUDED_STRIDE = 5;
// Inbound records: protocol (ANY, TCP, UDP, or ICMP meaning echo requests), lo, hi.
const INBOUND_STRIDE = 3;
const INBOUND_ECHO = 1;

/** Per-peer access of one gateway (peer ids as in AllowedIps: small non-negative integers). */
export class AccessTable {
  /** Own rules of each peer id in rules mode. */
  private readonly byPeer: (Int32Array | null)[] = [];
  /** Inbound rules of each peer id (null: none). */
  private readonly inbound: (Int32Array | null)[] = [];
  private modes = new Uint8Array(64);
  private defaults: Int32Array = new Int32Array(0);
  private exempt: Int32Array = new Int32Array(0);
  private excluded: Int32Array = new Int32Array(0);
  private readonly dst = new Uint32Array(4);

  private checkPeer(peer: number): void {
    if (!Number.isInteger(peer) || peer < 0 || peer > MAX_PEER_ID) throw new RangeError(`bad peer id ${peer}`);
    if (peer >= this.modes.length) {
      const grown = new Uint8Array(Math.max(peer + 1, this.modes.length * 2));
      grown.set(this.modes);
      this.modes = grown;
    }
    while (this.byPeer.length <= peer) this.byPeer.push(null);
    while (this.inbound.length <= peer) this.inbound.push(null);
  }

  /**
   * Puts the peer in rules mode with these rules (an empty list: the exemptions only). Throws
   * RangeError on a caller bug: bad peer id, address not 4/16 bytes, prefix length or port out of
   * range; the peer is then unchanged.
   */
  setRules(peer: number, rules: readonly AccessRule[]): void {
    const r = compileRules(rules);
    this.checkPeer(peer);
    this.byPeer[peer] = r;
    this.modes[peer] = MODE_RULES;
  }

  /** Puts the peer in default mode (the default rules minus excluded addresses, plus exemptions). */
  setDefault(peer: number): void {
    this.checkPeer(peer);
    this.byPeer[peer] = null;
    this.modes[peer] = MODE_DEFAULT;
  }

  /** Puts the peer in mode none (nothing allowed) and drops its inbound rules. */
  clearPeer(peer: number): void {
    if (!(peer >>> 0 === peer && peer < this.modes.length)) return;
    this.modes[peer] = MODE_NONE;
    this.byPeer[peer] = null;
    this.inbound[peer] = null;
  }

  /** The peer's mode: MODE_NONE, MODE_DEFAULT or MODE_RULES. */
  modeOf(peer: number): number {
    return peer >>> 0 === peer && peer < this.modes.length ? this.modes[peer] : MODE_NONE;
  }

  /** The rules of default mode (the gateway's networks). */
  setDefaultRules(rules: readonly AccessRule[]): void {
    this.defaults = compileRules(rules);
  }

  /** Rules every peer in default or rules mode has (the gateway's DNS). */
  setExemptions(rules: readonly AccessRule[]): void {
    this.exempt = compileRules(rules);
  }

  /** Host addresses (4 or 16 bytes) the default rules never grant (the gateway host's own). */
  setExcluded(addrs: readonly Uint8Array[]): void {
    const r = new Int32Array(addrs.length * EXCLUDED_STRIDE);
    addrs.forEach((a, i) => {
      if (a.length !== 4 && a.length !== 16) throw new RangeError('excluded address must be 4 or 16 bytes');
      r[i * EXCLUDED_STRIDE] = a.length === 4 ? 4 : 6;
      for (let w = 0; w < a.length / 4; w++) r[i * EXCLUDED_STRIDE + 1 + w] = addrWord(a, 4 * w);
    });
    this.excluded = r;
  }

  /** The peer's inbound rules (AllowInbound); an empty list: none. */
  setInbound(peer: number, rules: readonly InboundRule[]): void {
    const r = new Int32Array(rules.length * INBOUND_STRIDE);
    rules.forEach((rule, i) => {
      const { portLo, portHi } = rule;
      if (!(Number.isInteger(portLo) && Number.isInteger(portHi) && portLo >= 0 && portLo <= portHi && portHi <= 65535)) {
        throw new RangeError(`inbound ports ${portLo}-${portHi} out of range`);
      }
      r[i * INBOUND_STRIDE] = rule.proto === 'tcp' ? PROTO_TCP : rule.proto === 'udp' ? PROTO_UDP : rule.proto === 'icmp' ? INBOUND_ECHO : ANY;
      r[i * INBOUND_STRIDE + 1] = portLo;
      r[i * INBOUND_STRIDE + 2] = portHi;
    });
    this.checkPeer(peer);
    this.inbound[peer] = rules.length > 0 ? r : null;
  }

  private isExcluded(version: number, dst: Uint32Array): boolean {
    const x = this.excluded;
    for (let i = 0; i < x.length; i += EXCLUDED_STRIDE) {
      if (x[i] !== version || x[i + 1] !== (dst[0] | 0)) continue;
      if (version === 4 || (x[i + 2] === (dst[1] | 0) && x[i + 3] === (dst[2] | 0) && x[i + 4] === (dst[3] | 0))) return true;
    }
    return false;
  }

  /**
   * Whether the peer may send a packet of IP `version` to `dst` (words as readDst writes them),
   * with upper-layer protocol `proto` and destination port `port` (-1 when there is none).
   */
  allows(peer: number, version: number, dst: Uint32Array, proto: number, port: number): boolean {
    const mode = this.modeOf(peer);
    if (mode === MODE_NONE) return false;
    if (matchRules(this.exempt, version, dst, proto, port)) return true;
    if (mode === MODE_RULES) return matchRules(this.byPeer[peer] as Int32Array, version, dst, proto, port);
    return matchRules(this.defaults, version, dst, proto, port) && !this.isExcluded(version, dst);
  }

  /** allows() for the packet at buf[off..off+len), reading its header (packet.ts); invalid packets are refused. */
  allowsPacket(peer: number, buf: Uint8Array, off: number, len: number): boolean {
    const version = readDst(buf, off, len, this.dst);
    if (version === 0) return false;
    const t = transportOffset(buf, off, len);
    const proto = lastProtocol();
    const port = t >= 0 && (proto === PROTO_TCP || proto === PROTO_UDP) ? (buf[t + 2] << 8) | buf[t + 3] : -1;
    return this.allows(peer, version, this.dst, proto, port);
  }

  /**
   * Whether the network may start a flow to the peer: protocol `proto` to the peer's port `port`
   * (TCP/UDP), or an ICMP echo request (`echoRequest`). Needs an inbound rule, and the peer not in
   * mode none.
   */
  allowsInbound(peer: number, proto: number, port: number, echoRequest: boolean): boolean {
    if (this.modeOf(peer) === MODE_NONE) return false;
    const r = this.inbound[peer];
    if (r === null || r === undefined) return false;
    for (let i = 0; i < r.length; i += INBOUND_STRIDE) {
      const p = r[i];
      if (p === INBOUND_ECHO) {
        if (echoRequest) return true;
        continue;
      }
      if (proto !== PROTO_TCP && proto !== PROTO_UDP) continue;
      if ((p === ANY || p === proto) && port >= r[i + 1] && port <= r[i + 2]) return true;
    }
    return false;
  }
}
