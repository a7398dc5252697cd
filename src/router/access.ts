// Per-peer access rules: which packets a peer may send into the network, checked after decryption
// and before the TUN write. A rule matches a packet coming FROM the peer by (destination address,
// protocol, destination port); replies within established flows are the device's business.
//
// Semantics, per peer id:
//   - no rules set (never set, or clearPeer): everything is allowed;
//   - rules set (possibly an empty list): only packets matching at least one rule are allowed.
// A rule matches when the destination is inside its network (same family), and
//   proto any,  no ports: any packet;            proto any, ports: TCP or UDP with port in range;
//   proto tcp/udp, no ports: any such packet;    proto tcp/udp, ports: such a packet, port in range;
//   proto icmp: ICMP for an IPv4 network, ICMPv6 for an IPv6 one (ports do not apply).
// "No ports" is the range 0-65535; a packet without a readable port (e.g. a non-first fragment)
// only matches rules without ports. Rules are stored per peer as one Int32Array of fixed records
// and checked in order; allows() is a loop of array reads without allocation.
//
// Rule text grammar (whitespace not allowed; protocol names case-insensitive):
//   rule   = target [ ":" ports ] [ "/" proto ]
//   target = ipv4 [ "/" len ]                 e.g. 10.124.0.0/24, 10.124.0.10 (= /32)
//          | "[" ipv6 "]" [ "/" len ]         e.g. [fd00::1]:80/tcp, [fd00::]/64:80-90/tcp
//          | ipv6 "/" len                     e.g. fd00::1/128:80-90/tcp
//          | ipv6                             bare IPv6 (= /128): a port cannot follow, since the
//                                             colon would be read as part of the address
//   ports  = port [ "-" port ]                decimal 0..65535, no leading zeros, first <= second
//   proto  = "tcp" | "udp" | "icmp"           absent = any protocol
// Host bits of the address are cleared. Ports with icmp are rejected. Examples:
// 10.124.0.10/32:3000/tcp, 10.124.0.0/24, 10.124.0.10:5432/tcp, 10.124.0.0/16/udp.

import { MAX_PEER_ID } from './allowedips.js';
import { dstPort, ipProtocol, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, readDst } from './packet.js';
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

/** Per-peer rule sets (peer ids as in AllowedIps: small non-negative integers). */
export class AccessTable {
  /** Rules of each peer id; null (or beyond the end) = no rules set = allow all. */
  private readonly byPeer: (Int32Array | null)[] = [];
  private readonly dst = new Uint32Array(4);

  /**
   * Replaces the peer's rules (an empty list denies everything). Throws RangeError on a caller
   * bug: bad peer id, address not 4/16 bytes, prefix length or port out of range.
   */
  setRules(peer: number, rules: readonly AccessRule[]): void {
    if (!Number.isInteger(peer) || peer < 0 || peer > MAX_PEER_ID) throw new RangeError(`bad peer id ${peer}`);
    const r = new Int32Array(rules.length * STRIDE);
    rules.forEach((rule, i) => compileRule(rule, r, i * STRIDE));
    while (this.byPeer.length <= peer) this.byPeer.push(null);
    this.byPeer[peer] = r;
  }

  /** Drops the peer's rules: the peer is allowed everything again. */
  clearPeer(peer: number): void {
    if (this.rulesOf(peer) !== null) this.byPeer[peer] = null;
  }

  /** Whether rules are set for the peer (false = allow all). */
  hasRules(peer: number): boolean {
    return this.rulesOf(peer) !== null;
  }

  private rulesOf(peer: number): Int32Array | null {
    return peer >>> 0 === peer && peer < this.byPeer.length ? this.byPeer[peer] : null;
  }

  /**
   * Whether the peer may send a packet of IP `version` to `dst` (words as readDst writes them),
   * with upper-layer protocol `proto` and destination port `port` (-1 when there is none).
   */
  allows(peer: number, version: number, dst: Uint32Array, proto: number, port: number): boolean {
    const r = this.rulesOf(peer);
    if (r === null) return true;
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

  /**
   * allows() for the packet at buf[off..off+len), reading its header (packet.ts). A peer without
   * rules is allowed anything; with rules, an invalid packet is refused.
   */
  allowsPacket(peer: number, buf: Uint8Array, off: number, len: number): boolean {
    if (!this.hasRules(peer)) return true;
    const version = readDst(buf, off, len, this.dst);
    if (version === 0) return false;
    return this.allows(peer, version, this.dst, ipProtocol(buf, off, len), dstPort(buf, off, len));
  }
}
