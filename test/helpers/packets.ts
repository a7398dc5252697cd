// Hand-built IPv4 / IPv6 packets for data-path tests: TCP (with flags), UDP, ICMP / ICMPv6 echo,
// ICMP errors quoting another packet, other protocols and fragments. Checksums are not filled in
// (the data path never reads them).
import { parseAddr } from '../../src/router/prefix.js';

export const TCP = 6;
export const UDP = 17;
export const ICMP = 1;
export const ICMPV6 = 58;
export const GRE = 47;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const ACK = 0x10;

function addr(text: string): Uint8Array {
  const a = parseAddr(text);
  if (!a.ok) throw new Error(a.error);
  return a.value;
}

export interface PacketSpec {
  src: string;
  dst: string;
  proto: number;
  sport?: number;
  dport?: number;
  /** TCP flags (default ACK). */
  flags?: number;
  /** ICMP type (default echo request) and echo identifier. */
  icmpType?: number;
  icmpId?: number;
  /** A payload (e.g. the quoted packet of an ICMP error). */
  payload?: Uint8Array;
  /** Fragment: id, offset in 8-byte units, more fragments. A non-first fragment has no transport header. */
  frag?: { id: number; offset: number; more: boolean };
}

/** The transport header (and payload) of a spec. */
function transport(s: PacketSpec, v6: boolean): Uint8Array {
  const payload = s.payload ?? new Uint8Array(0);
  let h: Uint8Array;
  if (s.proto === TCP) {
    h = new Uint8Array(20);
    h[12] = 0x50;
    h[13] = s.flags ?? ACK;
  } else if (s.proto === UDP || s.proto === GRE) {
    h = new Uint8Array(8);
  } else {
    h = new Uint8Array(8);
    h[0] = s.icmpType ?? (v6 ? 128 : 8);
    h[4] = (s.icmpId ?? 0) >> 8;
    h[5] = (s.icmpId ?? 0) & 0xff;
  }
  if (s.proto === TCP || s.proto === UDP) {
    h[0] = (s.sport ?? 0) >> 8; h[1] = (s.sport ?? 0) & 0xff;
    h[2] = (s.dport ?? 0) >> 8; h[3] = (s.dport ?? 0) & 0xff;
  }
  const out = new Uint8Array(h.length + payload.length);
  out.set(h);
  out.set(payload, h.length);
  return out;
}

/** An IPv4 or IPv6 packet (by the address family of src). */
export function packet(s: PacketSpec): Uint8Array {
  const v6 = s.src.includes(':');
  const nonFirst = s.frag !== undefined && s.frag.offset > 0;
  const body = nonFirst ? (s.payload ?? new Uint8Array(16)) : transport(s, v6);
  if (!v6) {
    const p = new Uint8Array(20 + body.length);
    p[0] = 0x45;
    p[2] = p.length >> 8; p[3] = p.length & 0xff;
    if (s.frag) {
      p[4] = s.frag.id >> 8; p[5] = s.frag.id & 0xff;
      const w = (s.frag.more ? 0x2000 : 0) | s.frag.offset;
      p[6] = w >> 8; p[7] = w & 0xff;
    }
    p[8] = 64; p[9] = s.proto;
    p.set(addr(s.src), 12);
    p.set(addr(s.dst), 16);
    p.set(body, 20);
    return p;
  }
  const ext = s.frag ? 8 : 0;
  const p = new Uint8Array(40 + ext + body.length);
  p[0] = 0x60;
  const plen = ext + body.length;
  p[4] = plen >> 8; p[5] = plen & 0xff;
  p[6] = s.frag ? 44 : s.proto; p[7] = 64;
  p.set(addr(s.src), 8);
  p.set(addr(s.dst), 24);
  if (s.frag) {
    p[40] = s.proto;
    const w = (s.frag.offset << 3) | (s.frag.more ? 1 : 0);
    p[42] = w >> 8; p[43] = w & 0xff;
    p[44] = (s.frag.id >>> 24) & 0xff; p[45] = (s.frag.id >>> 16) & 0xff; p[46] = (s.frag.id >>> 8) & 0xff; p[47] = s.frag.id & 0xff;
  }
  p.set(body, 40 + ext);
  return p;
}

/** The reverse of a spec (addresses and ports swapped), with other fields replaced by `over`. */
export function reply(s: PacketSpec, over: Partial<PacketSpec> = {}): PacketSpec {
  const r: PacketSpec = { ...s, src: s.dst, dst: s.src };
  if (s.sport !== undefined) r.dport = s.sport;
  if (s.dport !== undefined) r.sport = s.dport;
  return { ...r, ...over };
}

/** An ICMP error from `from` to the sender of `quoted` (IPv4: type 3 code 4, frag needed; IPv6: packet too big). */
export function icmpError(from: string, quoted: PacketSpec): Uint8Array {
  const q = packet(quoted);
  const v6 = from.includes(':');
  return packet({ src: from, dst: quoted.src, proto: v6 ? ICMPV6 : ICMP, icmpType: v6 ? 2 : 3, payload: q.subarray(0, v6 ? q.length : Math.min(q.length, 28)) });
}
