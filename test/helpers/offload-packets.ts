// IPv4/IPv6 TCP/UDP packets with correct checksums, built byte by byte for the offload tests, with
// their own straightforward RFC 1071 checksum (network-order 16-bit words) so that the addon's
// optimized one is checked against an independent implementation.

export interface PacketSpec {
  v6?: boolean;
  proto: 'tcp' | 'udp';
  src?: number[];
  dst?: number[];
  sport?: number;
  dport?: number;
  /** TCP */
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  /** TCP options, a multiple of 4 bytes. */
  options?: number[];
  payload: Uint8Array;
  /** IPv4 TOS / IPv6 traffic class. */
  tos?: number;
  /** IPv4 TTL / IPv6 hop limit. */
  ttl?: number;
  /** IPv4 identification. */
  id?: number;
  /** IPv4 DF bit (default set). */
  df?: boolean;
  flowLabel?: number;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

const put16 = (b: Uint8Array, o: number, v: number): void => { b[o] = (v >>> 8) & 0xff; b[o + 1] = v & 0xff; };
const put32 = (b: Uint8Array, o: number, v: number): void => { put16(b, o, v >>> 16); put16(b, o + 2, v & 0xffff); };
export const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const get32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** One's-complement sum of network-order 16-bit words, folded to 16 bits (not inverted). */
export function onesSum(b: Uint8Array, start = 0, end = b.length, init = 0): number {
  let s = init;
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Folded pseudo-header sum of the IP packet `p` for an L4 part of `l4Len` bytes. */
export function pseudoSum(p: Uint8Array, proto: number, l4Len: number): number {
  const v6 = p[0]! >> 4 === 6;
  let s = v6 ? onesSum(p, 8, 40) : onesSum(p, 12, 20);
  s += proto + (l4Len & 0xffff) + Math.floor(l4Len / 0x10000);
  return onesSum(new Uint8Array(0), 0, 0, s);
}

export const ipHeaderLength = (p: Uint8Array): number => (p[0]! >> 4 === 6 ? 40 : (p[0]! & 0x0f) * 4);
export const protoOf = (p: Uint8Array): number => (p[0]! >> 4 === 6 ? p[6]! : p[9]!);

/** True when the TCP/UDP checksum of packet `p` verifies (IPv4 UDP checksum 0 = none). */
export function l4ChecksumOk(p: Uint8Array): boolean {
  const l4 = ipHeaderLength(p);
  const proto = protoOf(p);
  if (proto === 17 && p[0]! >> 4 === 4 && get16(p, l4 + 6) === 0) return true;
  return onesSum(p, l4, p.length, pseudoSum(p, proto, p.length - l4)) === 0xffff;
}

export function ipv4HeaderChecksumOk(p: Uint8Array): boolean {
  return onesSum(p, 0, (p[0]! & 0x0f) * 4) === 0xffff;
}

/** Recomputes the L4 checksum of `p` in place (and the IPv4 header checksum). */
export function fixChecksums(p: Uint8Array): Uint8Array {
  const v6 = p[0]! >> 4 === 6;
  const l4 = ipHeaderLength(p);
  if (!v6) {
    put16(p, 10, 0);
    put16(p, 10, ~onesSum(p, 0, l4) & 0xffff);
  }
  const proto = protoOf(p);
  const at = l4 + (proto === 6 ? 16 : 6);
  put16(p, at, 0);
  let c = ~onesSum(p, l4, p.length, pseudoSum(p, proto, p.length - l4)) & 0xffff;
  if (c === 0) c = 0xffff;
  put16(p, at, c);
  return p;
}

/** A complete packet per `s`, checksums valid. */
export function packet(s: PacketSpec): Uint8Array {
  const v6 = s.v6 === true;
  const ipLen = v6 ? 40 : 20;
  const opts = s.options ?? [];
  const l4Len = s.proto === 'tcp' ? 20 + opts.length : 8;
  const total = ipLen + l4Len + s.payload.length;
  const p = new Uint8Array(total);
  if (v6) {
    const tc = s.tos ?? 0;
    const fl = s.flowLabel ?? 0x12345;
    put32(p, 0, ((6 << 28) | (tc << 20) | fl) >>> 0);
    put16(p, 4, total - 40);
    p[6] = s.proto === 'tcp' ? 6 : 17;
    p[7] = s.ttl ?? 64;
    p.set(s.src ?? [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8);
    p.set(s.dst ?? [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 24);
  } else {
    p[0] = 0x45;
    p[1] = s.tos ?? 0;
    put16(p, 2, total);
    put16(p, 4, s.id ?? 0x1234);
    put16(p, 6, s.df === false ? 0 : 0x4000);
    p[8] = s.ttl ?? 64;
    p[9] = s.proto === 'tcp' ? 6 : 17;
    p.set(s.src ?? [10, 0, 0, 1], 12);
    p.set(s.dst ?? [10, 0, 0, 2], 16);
  }
  const l4 = ipLen;
  put16(p, l4, s.sport ?? 40000);
  put16(p, l4 + 2, s.dport ?? 5201);
  if (s.proto === 'tcp') {
    put32(p, l4 + 4, s.seq ?? 1000);
    put32(p, l4 + 8, s.ack ?? 7777);
    p[l4 + 12] = ((20 + opts.length) / 4) << 4;
    p[l4 + 13] = s.flags ?? TCP_ACK;
    put16(p, l4 + 14, s.window ?? 512);
    p.set(opts, l4 + 20);
  } else {
    put16(p, l4 + 4, 8 + s.payload.length);
  }
  p.set(s.payload, l4 + l4Len);
  return fixChecksums(p);
}

/** `n` bytes of a recognizable pattern starting at `from`. */
export function pattern(n: number, from = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (from + i * 7 + (i >> 8)) & 0xff;
  return b;
}

/** The 10-byte virtio_net_hdr (little-endian fields). */
export function vnetHeader(h: { flags?: number; gsoType?: number; hdrLen?: number; gsoSize?: number; csumStart?: number; csumOffset?: number }): Uint8Array {
  const b = new Uint8Array(10);
  const le = (o: number, v: number): void => { b[o] = v & 0xff; b[o + 1] = (v >> 8) & 0xff; };
  b[0] = h.flags ?? 0;
  b[1] = h.gsoType ?? 0;
  le(2, h.hdrLen ?? 0);
  le(4, h.gsoSize ?? 0);
  le(6, h.csumStart ?? 0);
  le(8, h.csumOffset ?? 0);
  return b;
}

export function decodeVnet(b: Uint8Array): { flags: number; gsoType: number; hdrLen: number; gsoSize: number; csumStart: number; csumOffset: number } {
  const le = (o: number): number => b[o]! | (b[o + 1]! << 8);
  return { flags: b[0]!, gsoType: b[1]!, hdrLen: le(2), gsoSize: le(4), csumStart: le(6), csumOffset: le(8) };
}

export { put16, put32 };
