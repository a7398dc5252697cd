// The device's gateway hooks, in memory: two devices joined by a fake UDP link. peerEvents hears of
// every peer an id starts or stops belonging to (also the one setPrivateKey drops); the
// outboundFilter sees each TUN packet routed to a peer, with the device clock, and a refusal is
// counted and nothing is sent; the inboundFilter sees decrypted packets the same way. Sticky
// sources: what the device sends to a peer leaves from the local address the peer last sent to,
// until checkSources or a handshake timer drops it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getCrypto } from '../../src/crypto/index.js';
import { generatePrivateKey } from '../../src/crypto/keys.js';
import { Device, type DatagramSender, type PeerEvents, type TunWriter } from '../../src/device/device.js';
import { formatSource, makeEndpoint, type Endpoint } from '../../src/device/endpoint.js';
import { createLogger, LogLevel } from '../../src/device/log.js';
import { packet, UDP } from '../helpers/packets.js';

const crypto = getCrypto();
const v4mapped = (a: number, b: number, c: number, d: number): Uint8Array => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d);

interface Side {
  device: Device; written: Uint8Array[]; sent: number; addr: Uint8Array; port: number; clock: { now: number };
  /** The local address (20 bytes, see Endpoint.source) the other side's device is told this side's datagrams were sent to. */
  sentTo?: Uint8Array;
  /** The sticky source of each datagram this side sent ('' for the kernel's choice). */
  sources: string[];
  /** Datagrams this side sends are lost on the way. */
  lose?: boolean;
}

/** Two devices whose datagrams reach each other at once (A at 192.0.2.1:1, B at 192.0.2.2:2). */
function pair(): { a: Side; b: Side } {
  const make = (addr: Uint8Array, port: number): Side => {
    const side = { written: [] as Uint8Array[], sent: 0, addr, port, clock: { now: 1000 }, sources: [] as string[] } as Side;
    const tun: TunWriter = { write: (buf, off, len) => { side.written.push(buf.slice(off, off + len)); return true; } };
    const queue: Uint8Array[] = [];
    const deliver = (data: Uint8Array): void => { side.sent++; if (!side.lose) other(side).device.onDatagram(data, 0, data.length, side.addr, side.port, side.sentTo); };
    const udp: DatagramSender = {
      send: (data, off, len, ep) => { side.sources.push(formatSource(ep)); deliver(data.slice(off, off + len)); return true; },
      queue: (data, off, len, ep) => { side.sources.push(formatSource(ep)); queue.push(data.slice(off, off + len)); },
      flush: () => { for (const d of queue.splice(0)) deliver(d); },
    };
    side.device = new Device({ crypto, tun, udp, log: createLogger('t', LogLevel.Silent), now: () => side.clock.now });
    return side;
  };
  const a = make(v4mapped(192, 0, 2, 1), 1);
  const b = make(v4mapped(192, 0, 2, 2), 2);
  const other = (s: Side): Side => (s === a ? b : a);
  const ka = generatePrivateKey();
  const kb = generatePrivateKey();
  a.device.engine.setPrivateKey(ka);
  b.device.engine.setPrivateKey(kb);
  const ia = a.device.addPeer(crypto.x25519Public(kb));
  const ib = b.device.addPeer(crypto.x25519Public(ka));
  a.device.allowed.insert(Uint8Array.of(10, 0, 0, 2), 32, ia);
  b.device.allowed.insert(Uint8Array.of(10, 0, 0, 1), 32, ib);
  const ep = (s: Side): Endpoint => makeEndpoint(s.addr, s.port);
  a.device.setEndpoint(ia, ep(b));
  b.device.setEndpoint(ib, ep(a));
  return { a, b };
}

const toB = packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: UDP, sport: 1, dport: 2 });
const toA = packet({ src: '10.0.0.2', dst: '10.0.0.1', proto: UDP, sport: 2, dport: 1 });

/** A local address as the UDP edge reports it: 16 bytes (IPv4 v4-mapped) and the interface index. */
function local(a: number, b: number, c: number, d: number, ifindex: number): Uint8Array {
  const out = new Uint8Array(20);
  out.set(v4mapped(a, b, c, d));
  new DataView(out.buffer).setUint32(16, ifindex, true);
  return out;
}

test('sticky source: handshake responses and data leave from the address the peer sent to; it follows the peer; checkSources drops it', () => {
  const { a, b } = pair();
  a.sentTo = local(192, 0, 2, 20, 3); // B has several addresses: A's datagrams reach it at .20
  a.device.outbound(toB, 0, toB.length); // initiation, response, the staged packet
  assert.equal(b.written.map((p) => p.length), [toB.length]);
  assert.ok(b.sources.length > 0 && b.sources.every((x) => x === '192.0.2.20'), `B's handshake response from .20: ${b.sources.join()}`);
  b.sources.length = 0;
  b.device.outbound(toA, 0, toA.length);
  assert.equal(b.sources, ['192.0.2.20'], 'data from .20');
  a.sentTo = local(192, 0, 2, 21, 3); // A now targets .21
  a.device.outbound(toB, 0, toB.length);
  b.sources.length = 0;
  b.device.outbound(toA, 0, toA.length);
  assert.equal(b.sources, ['192.0.2.21'], 'the source follows the address A sends to');
  assert.is(b.device.checkSources(() => true), 0, 'a usable source stays');
  assert.is(b.device.checkSources(() => false), 1, 'an unusable one is dropped');
  b.sources.length = 0;
  b.device.outbound(toA, 0, toA.length);
  assert.equal(b.sources, [''], 'then the kernel picks');
  assert.is(a.written.length, 3, 'and everything arrived');
});

test('sticky source: dropped when the peer goes quiet and a timer starts a new handshake (as wireguard-go)', () => {
  const { a, b } = pair();
  a.sentTo = local(192, 0, 2, 20, 3);
  a.device.outbound(toB, 0, toB.length);
  b.device.outbound(toA, 0, toA.length);
  assert.equal(b.sources.at(-1), '192.0.2.20');
  b.lose = true; // B's data gets no answer
  b.device.outbound(toA, 0, toA.length);
  b.sources.length = 0;
  for (let t = 0; t < 20; t++) { b.clock.now += 1000; b.device.tick(); }
  assert.ok(b.sources.length > 0 && b.sources.every((x) => x === ''), `the new initiation goes from the kernel's choice: ${b.sources.join()}`);
});

test('outboundFilter: sees each routed packet with the peer and the clock; a refusal is counted and not sent', () => {
  const { a, b } = pair();
  const seen: [number, number][] = [];
  let allow = false;
  a.device.outboundFilter = (peer, _p, _o, _l, now) => { seen.push([peer, now]); return allow; };
  a.clock.now = 1234;
  a.device.outbound(toB, 0, toB.length);
  assert.equal(seen, [[0, 1234]]);
  assert.is(a.device.counters.outboundFiltered, 1);
  assert.is(a.sent, 0, 'nothing left the device, not even a handshake');
  allow = true;
  a.device.outbound(toB, 0, toB.length);
  assert.ok(a.sent > 0, 'a handshake and the staged packet');
  assert.equal(b.written.map((p) => p.length), [toB.length]);
});

test('outboundFilter on TUN batches: once per super-packet train, once per lone packet; refused trains counted whole', () => {
  const { a, b } = pair();
  a.device.outbound(toB, 0, toB.length); // handshake
  const slab = new Uint8Array(8 * 256);
  const offsets = new Uint32Array(6);
  const lengths = new Uint32Array(6);
  for (let k = 0; k < 6; k++) {
    offsets[k] = 16 + k * 256;
    lengths[k] = toB.length;
    slab.set(toB, offsets[k]!);
  }
  const trains = Uint32Array.of(3, 0, 0, 1, 1, 1); // a train of three segments, then three lone packets
  let calls = 0;
  let allow = true;
  a.device.outboundFilter = () => { calls++; return allow; };
  const before = b.written.length;
  a.device.onTunBatch(slab, offsets, lengths, 6, trains);
  assert.is(calls, 4, 'one check for the train, one per lone packet');
  assert.is(b.written.length - before, 6, 'all six arrived');
  allow = false;
  for (let k = 0; k < 6; k++) slab.set(toB, offsets[k]!);
  a.device.onTunBatch(slab, offsets, lengths, 6, trains);
  assert.is(a.device.counters.outboundFiltered, 6, 'a refused train counts every segment');
  assert.is(b.written.length - before, 6, 'nothing more arrived');
});

test('inboundFilter: decrypted packets from a peer, refused ones counted and not written', () => {
  const { a, b } = pair();
  a.device.outbound(toB, 0, toB.length); // handshake
  let refuse = true;
  const seen: number[] = [];
  a.device.inboundFilter = (peer, _p, _o, _l, now) => { seen.push(now); return peer === 0 && !refuse; };
  a.clock.now = 5000;
  b.device.outbound(toA, 0, toA.length);
  assert.is(a.device.counters.filtered, 1);
  assert.is(a.written.length, 0);
  refuse = false;
  b.device.outbound(toA, 0, toA.length);
  assert.is(a.written.length, 1);
  assert.equal(seen, [5000, 5000]);
});

test('peerEvents: added once per new peer (not for a known one), removed on removal and when setPrivateKey drops a peer', () => {
  const events: string[] = [];
  const listener: PeerEvents = { added: (id) => events.push(`+${id}`), removed: (id) => events.push(`-${id}`) };
  const { a } = pair();
  a.device.peerEvents = listener;
  const k1 = crypto.x25519Public(generatePrivateKey());
  const own = generatePrivateKey();
  const id = a.device.addPeer(k1);
  assert.is(a.device.addPeer(k1), id, 'known key: same id');
  const selfId = a.device.addPeer(crypto.x25519Public(own));
  a.device.removePeer(id);
  // The peer with the public key of the new private key goes (as in wireguard-go).
  for (const gone of a.device.engine.setPrivateKey(own)) a.device.removePeer(gone);
  assert.equal(events, [`+${id}`, `+${selfId}`, `-${id}`, `-${selfId}`]);
});

test.run();
