// Address arithmetic for onboarding: prefixes as inclusive integer ranges, overlap tests, and the
// allocation of a peer's tunnel address (the lowest free host of the gateway's subnet). Works on
// the config layer's canonical Cidr values; not used on any packet path.
import { formatIP, parseIP, type Cidr } from '../config/ip.js';

/** An inclusive range of addresses (or of host indices) as integers. */
interface Range {
  lo: bigint;
  hi: bigint;
}

const bitsOf = (family: 4 | 6): number => (family === 4 ? 32 : 128);

/** The integer value of a canonical IP text (the config layer only hands out valid ones). */
function ipValue(text: string): bigint {
  const bytes = parseIP(text);
  if (!bytes) throw new RangeError(`not an IP address: ${text}`);
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** Canonical IP text of an integer address of the given family. */
function ipText(value: bigint, family: 4 | 6): string {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  let v = value;
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return formatIP(bytes);
}

/** The addresses a prefix spans (host bits of `c.address` ignored). */
function rangeOf(c: Cidr): Range {
  const hostBits = BigInt(bitsOf(c.family) - c.prefix);
  const lo = (ipValue(c.address) >> hostBits) << hostBits;
  return { lo, hi: lo + (1n << hostBits) - 1n };
}

/** The network of an interface address such as 10.123.0.1/24 (-> 10.123.0.0/24). */
export function subnetOf(c: Cidr): Cidr {
  return { family: c.family, address: ipText(rangeOf(c).lo, c.family), prefix: c.prefix };
}

/** A single address as a host prefix (/32 or /128). */
export function hostCidr(address: string, family: 4 | 6): Cidr {
  return { family, address, prefix: bitsOf(family) };
}

/** Whether two prefixes share at least one address (never across families). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const ra = rangeOf(a);
  const rb = rangeOf(b);
  return ra.lo <= rb.hi && rb.lo <= ra.hi;
}

/** Whether the address `ip` (canonical text of family `family`) lies inside `c`. */
export function containsIP(c: Cidr, ip: string, family: 4 | 6): boolean {
  return overlaps(c, hostCidr(ip, family));
}

/** Where the host part of an interface address falls in its subnet. */
export type HostPosition = 'network' | 'broadcast' | 'host';

/**
 * Classifies the address of an interface address: the all-zero host part (the subnet itself),
 * the IPv4 all-ones host part (broadcast), or a usable host.
 */
export function hostPosition(c: Cidr): HostPosition {
  const r = rangeOf(c);
  const v = ipValue(c.address);
  if (v === r.lo) return 'network';
  if (c.family === 4 && v === r.hi) return 'broadcast';
  return 'host';
}

/** The gateway's tunnel addresses: the IPv4 one peers are numbered in, and an optional IPv6 one. */
export interface TunnelAddresses {
  v4: Cidr;
  v6?: Cidr;
}

/** A peer's newly allocated tunnel addresses (canonical IP texts). */
export interface Allocation {
  v4: string;
  v6?: string;
}

/**
 * The part of each `used` prefix that falls inside `subnet`, as host-index ranges (index 0 = the
 * subnet's first address).
 */
function usedIndices(subnet: Cidr, used: readonly Cidr[]): Range[] {
  const s = rangeOf(subnet);
  const out: Range[] = [];
  for (const u of used) {
    if (!overlaps(subnet, u)) continue;
    const r = rangeOf(u);
    out.push({ lo: (r.lo > s.lo ? r.lo : s.lo) - s.lo, hi: (r.hi < s.hi ? r.hi : s.hi) - s.lo });
  }
  return out;
}

/**
 * The lowest host index n >= 1 such that the n-th address of the IPv4 subnet is neither its
 * broadcast nor inside any `used` prefix, and (when the gateway has an IPv6 address) the n-th
 * address of the IPv6 subnet is not used either; so a peer gets the same host number in both
 * families. `used` should hold the gateway's own addresses, every peer's AllowedIPs and anything
 * else that must not be handed out. Returns null when the subnet is full.
 */
export function allocateHost(tunnel: TunnelAddresses, used: readonly Cidr[]): Allocation | null {
  const net4 = subnetOf(tunnel.v4);
  let last = (1n << BigInt(32 - net4.prefix)) - 2n; // the index before broadcast
  const taken = usedIndices(net4, used.filter((c) => c.family === 4));
  if (tunnel.v6) {
    const net6 = subnetOf(tunnel.v6);
    const last6 = (1n << BigInt(128 - net6.prefix)) - 1n;
    if (last6 < last) last = last6;
    taken.push(...usedIndices(net6, used.filter((c) => c.family === 6)));
  }
  taken.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  let n = 1n;
  for (const r of taken) {
    if (r.lo > n) break;
    if (r.hi >= n) n = r.hi + 1n;
  }
  if (n > last) return null;
  const v4 = ipText(rangeOf(net4).lo + n, 4);
  return tunnel.v6 ? { v4, v6: ipText(rangeOf(tunnel.v6).lo + n, 6) } : { v4 };
}

/** How many peer addresses the IPv4 subnet of `v4` holds (all hosts minus the gateway's). */
export function peerCapacity(v4: Cidr): number {
  return 2 ** (32 - v4.prefix) - 3;
}
