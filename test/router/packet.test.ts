import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  dstPort,
  icmpType,
  ipPacketLength,
  ipProtocol,
  ipVersion,
  lastFragmentId,
  lastProtocol,
  MAX_EXTENSION_HEADERS,
  readDst,
  readSrc,
  transportOffset,
} from '../../src/router/packet.js';
import { packet as build } from '../helpers/packets.js';

// Hand-built packets. Transport headers carry just the fields the router reads.

function tcp(dport: number): number[] {
  const h = new Array(20).fill(0);
  h[0] = 0xc3; // source port 50000
  h[1] = 0x50;
  h[2] = dport >> 8;
  h[3] = dport & 0xff;
  h[12] = 5 << 4; // data offset
  return h;
}

function udp(dport: number, payload = 4): number[] {
  const len = 8 + payload;
  return [0x30, 0x39, dport >> 8, dport & 0xff, len >> 8, len & 0xff, 0, 0, ...new Array(payload).fill(0xaa)];
}

function icmp(type: number): number[] {
  return [type, 0, 0, 0, 0, 1, 0, 1];
}

interface V4Options {
  proto: number;
  body: number[];
  options?: number[]; // IPv4 options (multiple of 4 bytes)
  fragOffset?: number; // in 8-byte units
  moreFragments?: boolean;
  totalLength?: number; // override
}

function ipv4(o: V4Options): number[] {
  const opts = o.options ?? [];
  const ihl = 5 + opts.length / 4;
  const total = o.totalLength ?? ihl * 4 + o.body.length;
  const frag = (o.moreFragments ? 0x2000 : 0) | (o.fragOffset ?? 0);
  return [
    0x40 | ihl, 0, total >> 8, total & 0xff, 0x12, 0x34, frag >> 8, frag & 0xff, 64, o.proto, 0, 0,
    10, 124, 0, 7, // source 10.124.0.7
    10, 124, 0, 10, // destination 10.124.0.10
    ...opts,
    ...o.body,
  ];
}

const SRC6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
const DST6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];

function ipv6(next: number, body: number[], payloadLength = body.length): number[] {
  return [0x60, 0, 0, 0, payloadLength >> 8, payloadLength & 0xff, next, 64, ...SRC6, ...DST6, ...body];
}

/** An extension header of `size` bytes (multiple of 8) whose next header is `next`. */
function ext(next: number, size: number): number[] {
  return [next, size / 8 - 1, ...new Array(size - 2).fill(0)];
}

function fragmentHeader(next: number, offset: number, more: boolean): number[] {
  const v = (offset << 3) | (more ? 1 : 0);
  return [next, 0, v >> 8, v & 0xff, 0, 0, 0, 1];
}

/** Fields the router reads, in one object for compact assertions. */
function view(bytes: number[], off = 0, len = bytes.length - off) {
  const buf = Uint8Array.from(bytes);
  return {
    version: ipVersion(buf, off, len),
    length: ipPacketLength(buf, off, len),
    proto: ipProtocol(buf, off, len),
    port: dstPort(buf, off, len),
    icmp: icmpType(buf, off, len),
  };
}

test('IPv4 TCP / UDP / ICMP', () => {
  assert.equal(view(ipv4({ proto: 6, body: tcp(3000) })), { version: 4, length: 40, proto: 6, port: 3000, icmp: -1 });
  assert.equal(view(ipv4({ proto: 17, body: udp(53) })), { version: 4, length: 32, proto: 17, port: 53, icmp: -1 });
  assert.equal(view(ipv4({ proto: 1, body: icmp(8) })), { version: 4, length: 28, proto: 1, port: -1, icmp: 8 });
  assert.equal(view(ipv4({ proto: 47, body: [0, 0, 8, 0] })), { version: 4, length: 24, proto: 47, port: -1, icmp: -1 });
});

test('IPv4 options move the transport header; padding after total length is ignored', () => {
  const p = ipv4({ proto: 6, body: tcp(5432), options: [1, 1, 1, 0] });
  assert.equal(view(p), { version: 4, length: 44, proto: 6, port: 5432, icmp: -1 });
  const padded = [...p, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  assert.equal(view(padded), { version: 4, length: 44, proto: 6, port: 5432, icmp: -1 });
});

test('IPv4 fragments: first one has the port, later ones only the protocol', () => {
  assert.is(dstPort(Uint8Array.from(ipv4({ proto: 17, body: udp(4500), moreFragments: true })), 0, 32), 4500);
  const later = ipv4({ proto: 17, body: [1, 2, 3, 4, 5, 6, 7, 8], fragOffset: 185 });
  assert.equal(view(later), { version: 4, length: 28, proto: 17, port: -1, icmp: -1 });
});

test('transportOffset, lastProtocol, lastFragmentId: one walk describes the packet (IPv4 and IPv6 fragments)', () => {
  const whole = build({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, sport: 1, dport: 2 });
  assert.is(transportOffset(whole, 0, whole.length), 20);
  assert.is(lastProtocol(), 17);
  assert.is(lastFragmentId(), -1, 'not a fragment');
  const first = build({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, sport: 1, dport: 2, frag: { id: 0xbeef, offset: 0, more: true } });
  assert.is(transportOffset(first, 0, first.length), 20, 'a first fragment has its transport header');
  assert.is(lastFragmentId(), 0xbeef);
  const later = build({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, frag: { id: 7, offset: 100, more: false } });
  assert.is(transportOffset(later, 0, later.length), -1);
  assert.is(lastProtocol(), 6);
  assert.is(lastFragmentId(), 7, 'the last fragment too (offset set, no MF)');
  const first6 = build({ src: 'fd00::1', dst: 'fd00::2', proto: 17, sport: 1, dport: 2, frag: { id: 0xdeadbeef, offset: 0, more: true } });
  assert.is(transportOffset(first6, 0, first6.length), 48, 'after the Fragment header');
  assert.is(lastFragmentId(), 0xdeadbeef, 'all 32 bits, unsigned');
  const later6 = build({ src: 'fd00::1', dst: 'fd00::2', proto: 17, frag: { id: 3, offset: 50, more: true } });
  assert.is(transportOffset(later6, 0, later6.length), -1);
  assert.is(lastProtocol(), 17);
  assert.is(lastFragmentId(), 3);
  assert.is(transportOffset(new Uint8Array(8), 0, 8), -1);
  assert.is(lastFragmentId(), -1, 'reset by every walk');
});

test('IPv4 invalid or truncated headers', () => {
  const good = ipv4({ proto: 6, body: tcp(80) });
  const bad = (bytes: number[], why: string, off = 0, len = bytes.length - off): void => {
    assert.equal(view(bytes, off, len), { version: 0, length: -1, proto: -1, port: -1, icmp: -1 }, why);
  };
  bad(good.slice(0, 19), 'shorter than a header');
  bad(good.slice(0, 39), 'total length beyond the data');
  bad(good, 'len past the buffer', 0, good.length + 1);
  bad(good, 'negative offset', -1, 20);
  bad(ipv4({ proto: 6, body: tcp(80), totalLength: 16 }), 'total length below the header');
  const shortIhl = [...good];
  shortIhl[0] = 0x44;
  bad(shortIhl, 'IHL 4');
  const longIhl = [...good];
  longIhl[0] = 0x4f; // 60-byte header, total length 40
  bad(longIhl, 'IHL beyond total length');
  const v5 = [...good];
  v5[0] = 0x55;
  bad(v5, 'version 5');
  bad([], 'empty');
  // Valid IP header, transport header cut short by the total length: protocol only.
  const cut = ipv4({ proto: 6, body: tcp(80).slice(0, 10) });
  assert.equal(view(cut), { version: 4, length: 30, proto: 6, port: -1, icmp: -1 });
  assert.equal(view(ipv4({ proto: 17, body: udp(53, 0).slice(0, 7) })).port, -1, 'UDP needs 8 bytes');
  assert.equal(view(ipv4({ proto: 1, body: icmp(0).slice(0, 4) })).icmp, -1, 'ICMP needs 8 bytes');
});

test('addresses as words, at an offset inside a slab', () => {
  const slab = new Uint8Array(256).fill(0xee);
  const p4 = ipv4({ proto: 17, body: udp(51820) });
  slab.set(p4, 16);
  const out = new Uint32Array(4);
  assert.is(readDst(slab, 16, p4.length, out), 4);
  assert.is(out[0], 0x0a7c000a);
  assert.is(readSrc(slab, 16, p4.length, out), 4);
  assert.is(out[0], 0x0a7c0007);
  assert.is(dstPort(slab, 16, p4.length), 51820);
  const p6 = ipv6(6, tcp(443));
  slab.set(p6, 100);
  assert.is(readDst(slab, 100, p6.length, out), 6);
  assert.equal(Array.from(out), [0xfd000000, 0, 0, 0x12345678]);
  assert.is(readSrc(slab, 100, p6.length, out), 6);
  assert.equal(Array.from(out), [0xfd000000, 0, 0, 7]);
  out.fill(9);
  assert.is(readDst(slab, 100, 39, out), 0);
  assert.is(readSrc(slab, 250, 20, out), 0, 'range past the slab');
  assert.equal(Array.from(out), [9, 9, 9, 9], 'untouched on failure');
});

test('IPv6 TCP / UDP / ICMPv6, padding', () => {
  assert.equal(view(ipv6(6, tcp(22))), { version: 6, length: 60, proto: 6, port: 22, icmp: -1 });
  assert.equal(view(ipv6(17, udp(53))), { version: 6, length: 52, proto: 17, port: 53, icmp: -1 });
  assert.equal(view(ipv6(58, icmp(128))), { version: 6, length: 48, proto: 58, port: -1, icmp: 128 });
  assert.equal(view([...ipv6(58, icmp(129)), 0, 0, 0, 0]), { version: 6, length: 48, proto: 58, port: -1, icmp: 129 });
  assert.equal(view(ipv6(59, [])), { version: 6, length: 40, proto: 59, port: -1, icmp: -1 }, 'no next header');
});

test('ICMP numbers belong to their family', () => {
  assert.equal(view(ipv6(1, icmp(8))), { version: 6, length: 48, proto: 1, port: -1, icmp: -1 });
  assert.equal(view(ipv4({ proto: 58, body: icmp(128) })), { version: 4, length: 28, proto: 58, port: -1, icmp: -1 });
});

test('IPv6 extension headers are skipped up to the transport header', () => {
  const chain = [...ext(60, 8), ...ext(43, 16), ...ext(6, 8), ...tcp(8080)];
  assert.equal(view(ipv6(0, chain)), { version: 6, length: 40 + chain.length, proto: 6, port: 8080, icmp: -1 });
  const ah = [17, 4, 0, 0, ...new Array(20).fill(0), ...udp(500)]; // AH: (4 + 2) * 4 = 24 bytes
  assert.equal(view(ipv6(51, ah)).port, 500);
  assert.equal(view(ipv6(44, [...fragmentHeader(17, 0, true), ...udp(4789)])).port, 4789, 'first fragment');
  const later = ipv6(44, [...fragmentHeader(17, 181, false), 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(view(later), { version: 6, length: 56, proto: 17, port: -1, icmp: -1 });
  assert.equal(view(ipv6(50, [0, 0, 1, 0, 0, 0, 0, 1])), { version: 6, length: 48, proto: 50, port: -1, icmp: -1 }, 'ESP opaque');
});

test('IPv6 extension chains that are too long or cut short', () => {
  let body = tcp(80);
  let next = 6;
  for (let i = 0; i <= MAX_EXTENSION_HEADERS; i++) {
    body = [...ext(next, 8), ...body];
    next = 60;
  }
  assert.equal(view(ipv6(60, body)), { version: 6, length: 40 + body.length, proto: -1, port: -1, icmp: -1 });
  const fits = body.slice(8); // exactly MAX_EXTENSION_HEADERS
  assert.is(view(ipv6(60, fits)).port, 80);
  const overrun = [6, 3, ...new Array(6).fill(0), ...tcp(80)]; // claims 32 bytes, 28 remain
  assert.equal(view(ipv6(60, overrun)).proto, -1);
  assert.equal(view(ipv6(60, [6, 0, 0, 0])).proto, -1, 'extension header shorter than 8 bytes');
  assert.equal(view(ipv6(6, tcp(80), 10)), { version: 6, length: 50, proto: 6, port: -1, icmp: -1 }, 'TCP cut by payload length');
});

test('IPv6 invalid or truncated headers', () => {
  const good = ipv6(17, udp(53));
  assert.equal(view(good.slice(0, 39)).version, 0, 'shorter than a header');
  assert.equal(view(good.slice(0, good.length - 1)).version, 0, 'payload length beyond the data');
  const v7 = [...good];
  v7[0] = 0x70;
  assert.equal(view(v7).version, 0);
  assert.equal(view(good, 0, 30).length, -1);
});

test('arbitrary bytes never throw and stay in range', () => {
  let seed = 0x1234567;
  const rnd = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const buf = new Uint8Array(128);
  const out = new Uint32Array(4);
  const templates = [ipv4({ proto: 6, body: tcp(1) }), ipv6(0, [...ext(6, 8), ...tcp(1)]), ipv6(44, [...fragmentHeader(6, 0, true), ...tcp(1)])];
  let valid = 0;
  for (let i = 0; i < 20000; i++) {
    buf.set(templates[i % 3]);
    for (let j = rnd() % 6; j > 0; j--) buf[rnd() % 80] = rnd() & 0xff; // a few corrupted bytes
    const off = rnd() % 8;
    const len = (rnd() % 140) - 4;
    const v = ipVersion(buf, off, len);
    assert.ok(v === 0 || v === 4 || v === 6);
    if (v !== 0) valid++;
    const l = ipPacketLength(buf, off, len);
    assert.ok(l === -1 || (l >= 20 && l <= len));
    assert.is(readDst(buf, off, len, out), v);
    const p = ipProtocol(buf, off, len);
    assert.ok(p >= -1 && p <= 255);
    const port = dstPort(buf, off, len);
    assert.ok(port >= -1 && port <= 65535);
    const t = icmpType(buf, off, len);
    assert.ok(t >= -1 && t <= 255);
  }
  assert.ok(valid > 1000, `some inputs stay valid (${valid})`);
});

test.run();
