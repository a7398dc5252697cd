// Zero-allocation views of IP packet headers inside a slab: every function takes (buf, off, len)
// for the packet at buf[off..off+len), reads fields in place and returns numbers; nothing throws,
// malformed or truncated input yields 0 / -1.
//
// A header is valid when the range lies inside buf and
//   IPv4: len >= 20, version 4, IHL >= 5, IHL*4 <= total length <= len;
//   IPv6: len >= 40, version 6, 40 + payload length <= len.
// (len may exceed the stated length: decrypted packets carry padding, ipPacketLength trims it.)
// The IPv4 header checksum is not verified here; the kernel checks it when the packet is written
// to the TUN device.
//
// Transport fields (protocol, destination port, ICMP type) are read from the first transport header.
// IPv6 extension headers are skipped only when their length is self-describing and they do not
// hide the transport header: Hop-by-Hop (0), Routing (43), Destination Options (60), Fragment (44)
// and AH (51), at most MAX_EXTENSION_HEADERS of them. Any other next header (ESP, No Next Header,
// Mobility, unknown) is reported as the protocol, without a transport header. A non-first
// fragment (IPv4 fragment offset != 0, IPv6 Fragment header with offset != 0) has a protocol but
// no transport header, so no port or ICMP type. Transport headers must be complete to be read:
// TCP 20 bytes, UDP 8, ICMP / ICMPv6 8, counted within the stated packet length.

import { addrWord } from './prefix.js';

/** IP protocol numbers used by the router. */
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

/** Extension headers skipped at most, so a crafted chain costs a bounded amount of work. */
export const MAX_EXTENSION_HEADERS = 8;

/** The header's version, 4 or 6, or 0 if it is not a valid IPv4/IPv6 header (see module comment). */
export function ipVersion(buf: Uint8Array, off: number, len: number): number {
  if (!(off >= 0 && len >= 20 && off + len <= buf.length)) return 0;
  const v = buf[off] >> 4;
  if (v === 4) {
    const ihl = (buf[off] & 15) << 2;
    const total = (buf[off + 2] << 8) | buf[off + 3];
    return ihl >= 20 && total >= ihl && total <= len ? 4 : 0;
  }
  if (v === 6 && len >= 40) {
    return 40 + ((buf[off + 4] << 8) | buf[off + 5]) <= len ? 6 : 0;
  }
  return 0;
}

/**
 * The packet's length according to its header (IPv4 total length; IPv6 40 + payload length), or -1
 * if the header is invalid. The device trims decrypted packets (which carry padding) to this.
 */
export function ipPacketLength(buf: Uint8Array, off: number, len: number): number {
  switch (ipVersion(buf, off, len)) {
    case 4:
      return (buf[off + 2] << 8) | buf[off + 3];
    case 6:
      return 40 + ((buf[off + 4] << 8) | buf[off + 5]);
    default:
      return -1;
  }
}

/** Copies the 4 or 16 address bytes at buf[at..] into out as big-endian uint32 words. */
function readWords(buf: Uint8Array, at: number, words: number, out: Uint32Array): void {
  for (let i = 0; i < words; i++) out[i] = addrWord(buf, at + 4 * i);
}

/**
 * Writes the destination address into out (IPv4: out[0]; IPv6: out[0..3], most significant
 * first) and returns the version, or returns 0 and leaves out untouched if the header is invalid.
 */
export function readDst(buf: Uint8Array, off: number, len: number, out: Uint32Array): number {
  const v = ipVersion(buf, off, len);
  if (v === 4) readWords(buf, off + 16, 1, out);
  else if (v === 6) readWords(buf, off + 24, 4, out);
  return v;
}

/** Like readDst, for the source address (the device's check that a peer sent from its own IPs). */
export function readSrc(buf: Uint8Array, off: number, len: number, out: Uint32Array): number {
  const v = ipVersion(buf, off, len);
  if (v === 4) readWords(buf, off + 12, 1, out);
  else if (v === 6) readWords(buf, off + 8, 4, out);
  return v;
}

/** Protocol found by the last transport() call (module scratch: keeps the walk allocation-free). */
let walkedProto = -1;
/** Fragment id found by the last transport() call (IPv4 16 bits, IPv6 32 bits), -1 when not a fragment. */
let walkedFrag = -1;

/** Smallest complete transport header of a protocol in an IPvN packet, 0 for those not read. */
function minTransport(proto: number, version: number): number {
  if (proto === PROTO_TCP) return 20;
  if (proto === PROTO_UDP || proto === (version === 4 ? PROTO_ICMP : PROTO_ICMPV6)) return 8;
  return 0;
}

/**
 * Finds the upper-layer protocol (left in walkedProto, -1 if the header is invalid) and returns
 * the offset in buf of its header, or -1 when there is none to read: invalid packet, non-first
 * fragment, a protocol we do not read into, or a header cut short by the packet end.
 */
function transport(buf: Uint8Array, off: number, len: number): number {
  walkedProto = -1;
  walkedFrag = -1;
  const v = ipVersion(buf, off, len);
  let proto: number;
  let at: number;
  let end: number;
  if (v === 4) {
    proto = buf[off + 9];
    walkedProto = proto;
    const flags = (buf[off + 6] << 8) | buf[off + 7];
    if ((flags & 0x3fff) !== 0) walkedFrag = (buf[off + 4] << 8) | buf[off + 5]; // MF set or offset != 0
    if ((flags & 0x1fff) !== 0) return -1; // non-first fragment
    at = off + ((buf[off] & 15) << 2);
    end = off + ((buf[off + 2] << 8) | buf[off + 3]);
  } else if (v === 6) {
    proto = buf[off + 6];
    at = off + 40;
    end = at + ((buf[off + 4] << 8) | buf[off + 5]);
    for (let i = 0; proto === 0 || proto === 43 || proto === 60 || proto === 44 || proto === 51; i++) {
      if (i === MAX_EXTENSION_HEADERS || at + 8 > end) return -1;
      const size = proto === 44 ? 8 : proto === 51 ? (buf[at + 1] + 2) << 2 : (buf[at + 1] + 1) << 3;
      if (at + size > end) return -1;
      const nextProto = buf[at];
      if (proto === 44) {
        const offsetAndM = (buf[at + 2] << 8) | buf[at + 3];
        if (offsetAndM !== 0) walkedFrag = addrWord(buf, at + 4) >>> 0; // offset != 0 or M set
        if ((offsetAndM & 0xfff8) !== 0) {
          walkedProto = nextProto; // non-first fragment: protocol known, no transport header
          return -1;
        }
      }
      proto = nextProto;
      at += size;
    }
    walkedProto = proto;
  } else {
    return -1;
  }
  const need = minTransport(proto, v);
  return need !== 0 && at + need <= end ? at : -1;
}

/**
 * Offset in buf of the first transport header (see transport() above: -1 for an invalid packet,
 * a non-first fragment, a protocol not read into, a header cut short). One walk serves every field
 * a caller needs: lastProtocol() and lastFragmentId() then describe the same packet.
 */
export function transportOffset(buf: Uint8Array, off: number, len: number): number {
  return transport(buf, off, len);
}

/** The upper-layer protocol found by the last transportOffset() (or any other reader here), -1 if invalid. */
export function lastProtocol(): number {
  return walkedProto;
}

/**
 * The fragment id of the packet the last transportOffset() read (IPv4 identification, IPv6
 * Fragment header identification), or -1 when it is not a fragment (no MF flag, offset 0).
 */
export function lastFragmentId(): number {
  return walkedFrag;
}

/**
 * The upper-layer protocol: the IPv4 protocol field, or the IPv6 next header after the skipped
 * extension headers (see module comment); -1 if the header or the extension chain is invalid.
 */
export function ipProtocol(buf: Uint8Array, off: number, len: number): number {
  transport(buf, off, len);
  return walkedProto;
}

/** TCP or UDP destination port, or -1 (not TCP/UDP, non-first fragment, truncated, invalid). */
export function dstPort(buf: Uint8Array, off: number, len: number): number {
  const at = transport(buf, off, len);
  if (at < 0 || (walkedProto !== PROTO_TCP && walkedProto !== PROTO_UDP)) return -1;
  return (buf[at + 2] << 8) | buf[at + 3];
}

/** ICMP type (IPv4 protocol 1) or ICMPv6 type (next header 58), or -1. */
export function icmpType(buf: Uint8Array, off: number, len: number): number {
  const at = transport(buf, off, len);
  if (at < 0 || (walkedProto !== PROTO_ICMP && walkedProto !== PROTO_ICMPV6)) return -1;
  return buf[at];
}
