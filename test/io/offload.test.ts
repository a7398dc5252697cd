// The TUN offload logic of the addon (native/offload.cc) on plain buffers: splitting super-packets
// read with a virtio-net header into segments, completing NEEDS_CSUM checksums, and coalescing
// segments into super-packets the way the kernel's GRO would, byte for byte against packets built
// here with an independent checksum implementation. Also the WGTS_OFFLOAD switch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadAddon, type OffloadUnit } from '../../src/io/native.js';
import { offloadWanted } from '../../src/io/offload.js';
import { toHex } from '../helpers/vectors.js';
import {
  TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_SYN, decodeVnet, fixChecksums, get16, get32, ipv4HeaderChecksumOk, l4ChecksumOk,
  onesSum, packet, pattern, pseudoSum, put16, type PacketSpec, vnetHeader,
} from '../helpers/offload-packets.js';

const addon = loadAddon();

const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;
const GSO_UDP_L4 = 5;
const GSO_ECN = 0x80;
const NEEDS_CSUM = 1;
const SPLIT_SHORT = 1;
const SPLIT_BAD_VERSION = 2;
const SPLIT_BAD_GSO = 3;
const SPLIT_BAD_CSUM = 4;

function split(vnet: Uint8Array, pkt: Uint8Array): Uint8Array[] {
  const r = addon.offloadSplit(vnet, pkt);
  if (typeof r === 'number') throw new Error(`split refused: ${r}`);
  return r;
}

/** A super-packet as the kernel hands it over: one packet holding all payload, L4 checksum = partial pseudo-header sum. */
function superPacket(s: PacketSpec): Uint8Array {
  const p = packet(s);
  const l4 = s.v6 ? 40 : 20;
  const at = l4 + (s.proto === 'tcp' ? 16 : 6);
  put16(p, at, pseudoSum(p, s.proto === 'tcp' ? 6 : 17, p.length - l4));
  return p;
}

/** The segments the kernel itself would produce from `s` cut at `gso` payload bytes. */
function expectedSegments(s: PacketSpec, gso: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const n = Math.max(1, Math.ceil(s.payload.length / gso));
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    let flags = s.flags ?? TCP_ACK;
    if (!last) flags &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) flags &= ~TCP_CWR;
    out.push(packet({
      ...s,
      payload: s.payload.subarray(i * gso, Math.min(s.payload.length, (i + 1) * gso)),
      seq: ((s.seq ?? 1000) + i * gso) >>> 0,
      flags,
      id: ((s.id ?? 0x1234) + i) & 0xffff,
    }));
  }
  return out;
}

function assertSegments(got: Uint8Array[], want: Uint8Array[]): void {
  assert.is(got.length, want.length, 'segment count');
  for (let i = 0; i < want.length; i++) {
    assert.is(toHex(got[i]!), toHex(want[i]!), `segment ${i}`);
    assert.ok(l4ChecksumOk(got[i]!), `segment ${i} L4 checksum`);
    if (got[i]![0]! >> 4 === 4) assert.ok(ipv4HeaderChecksumOk(got[i]!), `segment ${i} IPv4 header checksum`);
  }
}

// ---- split ---------------------------------------------------------------------------------------

test('split: IPv4 TCP super-packet into MSS segments (id, length, header checksum, seq, FIN/PSH on the last only)', () => {
  const s: PacketSpec = { proto: 'tcp', seq: 0xfffff000, flags: TCP_ACK | TCP_PSH | TCP_FIN, id: 0xfffe, payload: pattern(4000) };
  const sp = superPacket(s);
  sp[10] = 0xde; sp[11] = 0xad; // the kernel's header checksum is not trusted either
  const vnet = vnetHeader({ flags: NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 40, gsoSize: 1448, csumStart: 20, csumOffset: 16 });
  const got = split(vnet, sp);
  assertSegments(got, expectedSegments(s, 1448));
  assert.is(got.map((g) => g.length).join(), '1488,1488,1144');
  assert.is(get32(got[2]!, 24), (0xfffff000 + 2 * 1448) >>> 0, 'sequence numbers wrap');
  assert.is(get16(got[1]!, 4), 0xffff, 'id + 1');
  assert.is(get16(got[2]!, 4), 0x0000, 'id wraps');
});

test('split: IPv6 TCP with options; hdr_len from the kernel is not trusted', () => {
  const options = [1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78]; // NOP NOP timestamps
  const s: PacketSpec = { v6: true, proto: 'tcp', options, flags: TCP_ACK | TCP_PSH, payload: pattern(3000, 5) };
  const vnet = vnetHeader({ flags: NEEDS_CSUM, gsoType: GSO_TCPV6, hdrLen: 1500, gsoSize: 1000, csumStart: 40, csumOffset: 16 });
  const got = split(vnet, superPacket(s));
  assertSegments(got, expectedSegments(s, 1000));
  for (const g of got) assert.is(get16(g, 4), g.length - 40, 'payload length');
});

test('split: ECN super-packet keeps CWR on the first segment only', () => {
  const s: PacketSpec = { proto: 'tcp', flags: TCP_ACK | TCP_CWR | TCP_ECE, tos: 0x02, payload: pattern(2900) };
  const got = split(vnetHeader({ flags: NEEDS_CSUM, gsoType: GSO_TCPV4 | GSO_ECN, gsoSize: 1400, csumStart: 20, csumOffset: 16 }), superPacket(s));
  assertSegments(got, expectedSegments(s, 1400));
  assert.is(got.map((g) => g[33]! & (TCP_CWR | TCP_ECE)).join(), `${TCP_CWR | TCP_ECE},${TCP_ECE},${TCP_ECE}`);
});

test('split: UDP (USO) over IPv4 and IPv6: UDP length and checksum per datagram', () => {
  for (const v6 of [false, true]) {
    const s: PacketSpec = { v6, proto: 'udp', payload: pattern(3 * 1200 + 17, 3) };
    const got = split(vnetHeader({ flags: NEEDS_CSUM, gsoType: GSO_UDP_L4, gsoSize: 1200, csumStart: v6 ? 40 : 20, csumOffset: 6 }), superPacket(s));
    const want = [0, 1, 2, 3].map((i) => packet({ ...s, id: (0x1234 + i) & 0xffff, payload: s.payload.subarray(i * 1200, Math.min(s.payload.length, (i + 1) * 1200)) }));
    assertSegments(got, want);
    assert.is(get16(got[3]!, (v6 ? 40 : 20) + 4), 8 + 17);
  }
});

test('split: a tiny MSS gives many exact segments', () => {
  const s: PacketSpec = { proto: 'tcp', flags: TCP_ACK | TCP_PSH, payload: pattern(6000, 9) };
  const got = split(vnetHeader({ flags: NEEDS_CSUM, gsoType: GSO_TCPV4, gsoSize: 8, csumStart: 20, csumOffset: 16 }), superPacket(s));
  assert.is(got.length, 750);
  assertSegments(got, expectedSegments(s, 8));
});

test('split: a plain packet passes unchanged; NEEDS_CSUM is completed (0 sent as 0xffff)', () => {
  const p = packet({ proto: 'tcp', payload: pattern(100) });
  assert.equal(split(vnetHeader({}), p).map(toHex), [toHex(p)]);
  // The kernel leaves the pseudo-header sum in the field for us to complete.
  for (const v6 of [false, true]) {
    const want = packet({ v6, proto: 'udp', payload: pattern(333, 1) });
    const partial = want.slice();
    const l4 = v6 ? 40 : 20;
    put16(partial, l4 + 6, pseudoSum(partial, 17, partial.length - l4));
    const got = split(vnetHeader({ flags: NEEDS_CSUM, csumStart: l4, csumOffset: 6 }), partial);
    assert.is(toHex(got[0]!), toHex(want), `v6 ${v6}`);
  }
  // A payload whose checksum comes out 0: the field carries 0xffff (both mean "0" to the receiver).
  const z = packet({ proto: 'udp', payload: new Uint8Array(10) });
  put16(z, 28, 0);
  put16(z, 26, 0);
  const rest = onesSum(z, 20, z.length, pseudoSum(z, 17, z.length - 20));
  put16(z, 28, 0xffff - rest);
  assert.is(onesSum(z, 20, z.length, pseudoSum(z, 17, z.length - 20)), 0xffff);
  put16(z, 26, pseudoSum(z, 17, z.length - 20));
  const zg = split(vnetHeader({ flags: NEEDS_CSUM, csumStart: 20, csumOffset: 6 }), z);
  assert.is(get16(zg[0]!, 26), 0xffff);
  assert.ok(l4ChecksumOk(zg[0]!));
});

test('split: unusable reads are refused with a reason', () => {
  const v4 = superPacket({ proto: 'tcp', payload: pattern(3000) });
  const v6 = superPacket({ v6: true, proto: 'tcp', payload: pattern(3000) });
  const gso = (gsoType: number, gsoSize = 1000, csumStart = 20): Uint8Array => vnetHeader({ flags: NEEDS_CSUM, gsoType, gsoSize, csumStart, csumOffset: 16 });
  assert.is(addon.offloadSplit(gso(GSO_TCPV4), v6), SPLIT_BAD_VERSION, 'TCPV4 on an IPv6 packet');
  assert.is(addon.offloadSplit(gso(GSO_TCPV6, 1000, 40), v4), SPLIT_BAD_VERSION, 'TCPV6 on an IPv4 packet');
  assert.is(addon.offloadSplit(gso(GSO_TCPV4), new Uint8Array([0x25, 0, 0, 20])), SPLIT_BAD_VERSION, 'IP version 2');
  assert.is(addon.offloadSplit(gso(GSO_TCPV4, 0), v4), SPLIT_BAD_GSO, 'gso_size 0');
  assert.is(addon.offloadSplit(gso(3), v4), SPLIT_BAD_GSO, 'UFO is not offered');
  assert.is(addon.offloadSplit(gso(GSO_TCPV4, 1000, 8), v4), SPLIT_BAD_GSO, 'csum_start inside the IP header');
  const badThl = v4.slice();
  badThl[32] = 0x30; // data offset 12 bytes
  assert.is(addon.offloadSplit(gso(GSO_TCPV4), badThl), SPLIT_BAD_GSO, 'TCP header shorter than 20');
  assert.is(addon.offloadSplit(gso(GSO_TCPV4), v4.subarray(0, 30)), SPLIT_SHORT, 'cut inside the TCP header');
  assert.is(addon.offloadSplit(vnetHeader({ flags: NEEDS_CSUM, csumStart: 20, csumOffset: 16 }), v4.subarray(0, 30)), SPLIT_BAD_CSUM, 'checksum field outside');
  assert.is(addon.offloadSplit(vnetHeader({}), new Uint8Array(0)), SPLIT_SHORT, 'empty read');
});

// ---- coalesce ------------------------------------------------------------------------------------

/** Lays packets out in one buffer with gaps (as in the UDP receive slab) and coalesces them. */
function coalesce(packets: Uint8Array[], udp = false): { units: OffloadUnit[]; buf: Uint8Array; offsets: Uint32Array } {
  const offsets = new Uint32Array(packets.length);
  const lengths = new Uint32Array(packets.length);
  let size = 16;
  for (const p of packets) size += p.length + 48;
  const buf = new Uint8Array(size);
  let off = 16;
  packets.forEach((p, i) => {
    buf.set(p, off);
    offsets[i] = off;
    lengths[i] = p.length;
    off += p.length + 48;
  });
  return { units: addon.offloadCoalesce(buf, offsets, lengths, packets.length, udp), buf, offsets };
}

/** Segments of one TCP flow, in order, each checksum-valid. */
function flow(n: number, size: number, base: Partial<PacketSpec> = {}, lastFlags = TCP_ACK | TCP_PSH): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    out.push(packet({ proto: 'tcp', seq: 5000 + i * size, flags: i === n - 1 ? lastFlags : TCP_ACK, id: 100 + i, payload: pattern(size, i), ...base }));
  }
  return out;
}

/** What a merged unit must hold: the head's headers for the whole train, PSH if any had it, payloads in order. */
function assertMerged(u: OffloadUnit, parts: Uint8Array[], gso: number, v6 = false, proto: 'tcp' | 'udp' = 'tcp'): void {
  const ipLen = v6 ? 40 : 20;
  const head = parts[0]!;
  const l4Hdr = proto === 'tcp' ? (head[ipLen + 12]! >> 4) * 4 : 8;
  const hdr = ipLen + l4Hdr;
  const total = hdr + parts.reduce((a, p) => a + p.length - hdr, 0);
  assert.is(u.packets, parts.length);
  assert.is(u.bytes.length, total);
  const v = decodeVnet(u.vnet);
  assert.equal(v, {
    flags: NEEDS_CSUM,
    gsoType: proto === 'udp' ? GSO_UDP_L4 : v6 ? GSO_TCPV6 : GSO_TCPV4,
    hdrLen: hdr, gsoSize: gso, csumStart: ipLen, csumOffset: proto === 'tcp' ? 16 : 6,
  });
  // Payloads back to back.
  let at = hdr;
  for (const p of parts) {
    assert.is(toHex(u.bytes.subarray(at, at + p.length - hdr)), toHex(p.subarray(hdr)));
    at += p.length - hdr;
  }
  // Headers: lengths rewritten, IPv4 header checksum valid, L4 field = the pseudo-header sum
  // (CHECKSUM_PARTIAL), and completing it gives a valid checksum over the whole super-packet.
  if (v6) assert.is(get16(u.bytes, 4), total - 40);
  else {
    assert.is(get16(u.bytes, 2), total);
    assert.ok(ipv4HeaderChecksumOk(u.bytes));
  }
  const csumAt = ipLen + (proto === 'tcp' ? 16 : 6);
  assert.is(get16(u.bytes, csumAt), pseudoSum(u.bytes, proto === 'tcp' ? 6 : 17, total - ipLen));
  if (proto === 'udp') assert.is(get16(u.bytes, ipLen + 4), total - ipLen);
  const full = fixChecksums(u.bytes.slice());
  assert.ok(l4ChecksumOk(full));
}

test('coalesce: in-order TCP segments of one flow become one super-packet (IPv4 and IPv6)', () => {
  for (const v6 of [false, true]) {
    const parts = flow(5, 1400, { v6 });
    const { units } = coalesce(parts);
    assert.is(units.length, 1);
    assertMerged(units[0]!, parts, 1400, v6);
    assert.is(units[0]!.bytes[(v6 ? 40 : 20) + 13], TCP_ACK | TCP_PSH, 'PSH of the last segment on the super-packet');
  }
});

test('coalesce: splitting the result gives the original segments back byte for byte', () => {
  const parts = flow(7, 1000, { options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2] }, TCP_ACK | TCP_PSH);
  const { units } = coalesce(parts);
  assert.is(units.length, 1);
  const u = units[0]!;
  const again = split(u.vnet, u.bytes);
  assert.equal(again.map(toHex), parts.map(toHex));
});

test('coalesce: a shorter segment ends a train; a longer one never follows', () => {
  const a = flow(3, 1000);
  const short = packet({ proto: 'tcp', seq: 5000 + 3000, payload: pattern(500), id: 103 });
  const after = packet({ proto: 'tcp', seq: 5000 + 3500, payload: pattern(1000), id: 104 });
  const parts = [a[0]!, a[1]!, packet({ proto: 'tcp', seq: 7000, payload: pattern(1000, 2), id: 102 }), short, after];
  const { units } = coalesce(parts);
  assert.equal(units.map((u) => u.packets), [4, 1]);
  assertMerged(units[0]!, parts.slice(0, 4), 1000);
  const bigger = [packet({ proto: 'tcp', seq: 1, payload: pattern(500) }), packet({ proto: 'tcp', seq: 501, payload: pattern(1000) })];
  assert.equal(coalesce(bigger).units.map((u) => u.packets), [1, 1]);
});

test('coalesce: PSH only on the last; FIN, SYN, CWR, ECE, pure ACKs and non-TCP stay alone', () => {
  const withPsh = [packet({ proto: 'tcp', seq: 0, flags: TCP_ACK | TCP_PSH, payload: pattern(100) }), packet({ proto: 'tcp', seq: 100, payload: pattern(100) })];
  assert.equal(coalesce(withPsh).units.map((u) => u.packets), [1, 1], 'nothing after PSH');
  for (const flags of [TCP_ACK | TCP_FIN, TCP_ACK | TCP_CWR, TCP_ACK | TCP_ECE, TCP_SYN | TCP_ACK]) {
    const parts = [packet({ proto: 'tcp', seq: 0, payload: pattern(100) }), packet({ proto: 'tcp', seq: 100, flags, payload: pattern(100) })];
    assert.equal(coalesce(parts).units.map((u) => u.packets), [1, 1], `flags ${flags}`);
  }
  const acks = [packet({ proto: 'tcp', seq: 0, payload: new Uint8Array(0) }), packet({ proto: 'tcp', seq: 0, payload: new Uint8Array(0) })];
  assert.equal(coalesce(acks).units.map((u) => u.packets), [1, 1], 'pure ACKs');
  const icmp = packet({ proto: 'udp', payload: pattern(64) });
  icmp[9] = 1;
  assert.equal(coalesce([icmp, icmp.slice()]).units.map((u) => u.packets), [1, 1]);
});

test('coalesce: different ACK number, options, TTL, TOS (ECN CE), DF or flow label never merge', () => {
  const cases: [string, Partial<PacketSpec>][] = [
    ['ack', { ack: 1 }], ['options', { options: [1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 9] }], ['ttl', { ttl: 63 }],
    ['tos CE', { tos: 0x03 }], ['df', { df: false }],
  ];
  for (const [what, change] of cases) {
    const parts = [packet({ proto: 'tcp', seq: 0, payload: pattern(100), options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 1] }),
      packet({ proto: 'tcp', seq: 100, payload: pattern(100), options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 1], ...change })];
    assert.equal(coalesce(parts).units.map((u) => u.packets), [1, 1], what);
  }
  const v6 = [packet({ v6: true, proto: 'tcp', seq: 0, payload: pattern(100) }), packet({ v6: true, proto: 'tcp', seq: 100, payload: pattern(100), flowLabel: 7 })];
  assert.equal(coalesce(v6).units.map((u) => u.packets), [1, 1], 'flow label');
  const same = [packet({ proto: 'tcp', seq: 0, payload: pattern(100), tos: 0x02 }), packet({ proto: 'tcp', seq: 100, payload: pattern(100), tos: 0x02 })];
  assert.equal(coalesce(same).units.map((u) => u.packets), [2], 'equal ECT(0) marks do merge');
});

test('coalesce: IPv4 options, fragments and a wrong length field are left alone', () => {
  const base = (): Uint8Array[] => flow(2, 100);
  const withOptions = base().map((p) => {
    const q = new Uint8Array(p.length + 4);
    q.set(p.subarray(0, 20));
    q.set(p.subarray(20), 24);
    q[0] = 0x46;
    put16(q, 2, q.length);
    return fixChecksums(q);
  });
  assert.equal(coalesce(withOptions).units.map((u) => u.packets), [1, 1], 'IHL 6');
  const frags = base().map((p) => { put16(p, 6, 0x2000); return fixChecksums(p); });
  assert.equal(coalesce(frags).units.map((u) => u.packets), [1, 1], 'MF');
  const padded = base().map((p) => { const q = new Uint8Array(p.length + 3); q.set(p); return q; });
  assert.equal(coalesce(padded).units.map((u) => u.packets), [1, 1], 'length field short of the buffer');
});

test('coalesce: out-of-order segments merge where they are adjacent; order of heads kept', () => {
  const parts = flow(4, 500, {}, TCP_ACK);
  const { units } = coalesce([parts[0]!, parts[2]!, parts[1]!, parts[3]!]);
  assert.equal(units.map((u) => [u.head, u.packets]), [[0, 2], [1, 2]]);
  assertMerged(units[0]!, [parts[0]!, parts[1]!], 500);
  assertMerged(units[1]!, [parts[2]!, parts[3]!], 500);
});

test('coalesce: interleaved flows each get their super-packet', () => {
  const a = flow(3, 700, { sport: 1 });
  const b = flow(3, 700, { sport: 2, v6: false });
  const { units } = coalesce([a[0]!, b[0]!, a[1]!, b[1]!, a[2]!, b[2]!]);
  assert.equal(units.map((u) => [u.head, u.packets]), [[0, 3], [1, 3]]);
  assertMerged(units[0]!, a, 700);
  assertMerged(units[1]!, b, 700);
});

test('coalesce: a bad checksum is never merged and is written untouched (bad packet or bad head)', () => {
  const parts = flow(4, 600, {}, TCP_ACK);
  const broken = parts[1]!.slice();
  broken[60] = broken[60]! ^ 0xff;
  const r = coalesce([parts[0]!, broken, parts[2]!, parts[3]!]);
  assert.equal(r.units.map((u) => [u.head, u.packets]), [[0, 1], [1, 1], [2, 2]]);
  assert.is(toHex(r.units[1]!.bytes), toHex(broken), 'the bad packet is written as it came');
  assert.is(decodeVnet(r.units[1]!.vnet).flags, 0, 'without NEEDS_CSUM, so the kernel checks it');
  assert.is(toHex(r.units[0]!.bytes), toHex(parts[0]!), 'the head before it stays as it was');
  const badHead = parts[0]!.slice();
  badHead[70] = badHead[70]! ^ 1;
  const h = coalesce([badHead, parts[1]!, parts[2]!]);
  assert.equal(h.units.map((u) => [u.head, u.packets]), [[0, 1], [1, 2]]);
  assert.is(toHex(h.units[0]!.bytes), toHex(badHead));
});

test('coalesce: at most 64 segments and 65535 bytes per super-packet (tiny MSS)', () => {
  const tiny = flow(150, 10, {}, TCP_ACK);
  assert.equal(coalesce(tiny).units.map((u) => u.packets), [64, 64, 22]);
  const big = flow(50, 1400, {}, TCP_ACK);
  const units = coalesce(big).units;
  assert.equal(units.map((u) => u.packets), [46, 4]);
  assert.ok(units.every((u) => u.bytes.length <= 65535));
  assertMerged(units[0]!, big.slice(0, 46), 1400);
});

test('coalesce: UDP only when asked (USO), newest item only, the last datagram may be shorter, checksum 0 = none', () => {
  const dgrams = [0, 1, 2, 3].map((i) => packet({ proto: 'udp', payload: pattern(i === 3 ? 300 : 1200, i), id: i }));
  assert.equal(coalesce(dgrams, false).units.map((u) => u.packets), [1, 1, 1, 1], 'no USO: no UDP coalescing');
  const { units } = coalesce(dgrams, true);
  assert.equal(units.map((u) => u.packets), [4]);
  assertMerged(units[0]!, dgrams, 1200, false, 'udp');
  const v6 = [0, 1].map((i) => packet({ v6: true, proto: 'udp', payload: pattern(1000, i) }));
  assertMerged(coalesce(v6, true).units[0]!, v6, 1000, true, 'udp');
  const noCsum = [0, 1].map((i) => { const p = packet({ proto: 'udp', payload: pattern(500, i) }); put16(p, 26, 0); return p; });
  assert.equal(coalesce(noCsum, true).units.map((u) => u.packets), [2]);
  const badMiddle = dgrams.map((d) => d.slice());
  badMiddle[1]![40] = badMiddle[1]![40]! ^ 1;
  assert.equal(coalesce(badMiddle, true).units.map((u) => [u.head, u.packets]), [[0, 1], [1, 1], [2, 2]], 'nothing jumps over a bad datagram');
});

// ---- the switch ----------------------------------------------------------------------------------

test('WGTS_OFFLOAD: on unless 0/off; anything else is an error naming the variable', () => {
  for (const v of [undefined, '', '1', 'on', 'auto', ' 1 ']) assert.is(offloadWanted(v), true, String(v));
  for (const v of ['0', 'off', 'OFF']) assert.is(offloadWanted(v), false, v);
  assert.throws(() => offloadWanted('yes'), /WGTS_OFFLOAD must be 1 \(on, the default\) or 0 \(off\), got 'yes'/);
});

test.run();
