// The device's handshake queue with a gate (in memory, a fake gate supplying the verdicts): data in
// a batch is delivered before the handshake messages of the same batch are worked off; handshake
// work stops after HANDSHAKE_BUDGET_MS per event-loop turn and continues in a deferred turn; a
// backlog puts the device (engine and gate) under load; a message with a valid mac2 overtakes the
// queue; under load a message without mac2 is answered with the gate's cookie reply; the load
// ends a second after the backlog is gone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getCrypto } from '../../src/crypto/index.js';
import { generatePrivateKey } from '../../src/crypto/keys.js';
import { Device, type DatagramBatch, type HandshakeGate } from '../../src/device/device.js';
import { makeEndpoint } from '../../src/device/endpoint.js';
import { createLogger, LogLevel } from '../../src/device/log.js';
import { MACS_MAC1, MACS_MAC2 } from '../../src/noise/codes.js';
import { INITIATION_SIZE } from '../../src/noise/constants.js';
import { HANDSHAKE_BUDGET_MS, LOAD_WINDOW_MS, UNDER_LOAD_AFTER_MS } from '../../src/noise/load.js';
import { initiationPool } from '../../scripts/flood/attacker.js';

const crypto = getCrypto();
const mapped = (d: number): Uint8Array => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, d);

class FakeGate implements HandshakeGate {
  readonly verdicts = new Uint8Array(1024);
  underLoad = false;
  replies: number[] = [];
  badMac1 = 0;
  cookieReplies = 0;
  deflected = 0;
  setKey(): void { /* keys are the engine's business here */ }
  setUnderLoad(on: boolean): void { this.underLoad = on; }
  cookieReply(_d: Uint8Array, _o: number, _l: number, addr: Uint8Array, _p: number, out: Uint8Array): number {
    this.replies.push(addr[15]!);
    out.fill(0);
    out[0] = 3;
    this.cookieReplies++;
    return 64;
  }
}

/** A batch of datagrams from sources 10.0.0.d. */
function batch(items: { data: Uint8Array; from: number }[]): DatagramBatch {
  const slab = new Uint8Array(items.length * 2048);
  const offsets = new Uint32Array(items.length);
  const lengths = new Uint32Array(items.length);
  const addrWords = new Uint32Array(items.length * 4);
  const ports = new Uint16Array(items.length);
  const localWords = new Uint32Array(items.length * 5);
  items.forEach((it, j) => {
    offsets[j] = j * 2048;
    lengths[j] = it.data.length;
    slab.set(it.data, j * 2048);
    new Uint8Array(addrWords.buffer).set(mapped(it.from), j * 16);
    ports[j] = 1000 + it.from;
  });
  return { slab, offsets, lengths, addrWords, ports, localWords, count: items.length };
}

function setup(): { dev: Device; gate: FakeGate; clock: { t: number; step: number }; deferred: (() => void)[]; sent: { type: number; to: number }[]; legit: Uint8Array; pub: Uint8Array } {
  const clock = { t: 1000, step: 0 };
  const deferred: (() => void)[] = [];
  const sent: { type: number; to: number }[] = [];
  const gate = new FakeGate();
  const dev = new Device({
    crypto, log: createLogger('t', LogLevel.Silent), gate,
    now: () => (clock.t += clock.step),
    defer: (fn) => { deferred.push(fn); },
    tun: { write: () => true },
    udp: { send: (d, off, _l, ep) => { sent.push({ type: d[off]!, to: ep.addr[15]! }); return true; }, queue: () => undefined, flush: () => undefined },
  });
  const kb = generatePrivateKey();
  dev.engine.setPrivateKey(kb);
  const pub = crypto.x25519Public(kb);
  // A legitimate initiator: its initiation, built by a second device.
  const ka = generatePrivateKey();
  let legit = new Uint8Array(0);
  const a = new Device({
    crypto, log: createLogger('t', LogLevel.Silent), tun: { write: () => true },
    udp: { send: (d, off, len) => { if (d[off] === 1) legit = d.slice(off, off + len); return true; }, queue: () => undefined, flush: () => undefined },
  });
  a.engine.setPrivateKey(ka);
  const peerOfB = a.addPeer(pub);
  a.setEndpoint(peerOfB, makeEndpoint(mapped(2), 1002));
  a.allowed.insert(Uint8Array.of(10, 9, 0, 2), 32, peerOfB);
  dev.addPeer(crypto.x25519Public(ka));
  const pkt = new Uint8Array(28);
  pkt[0] = 0x45; pkt[3] = 28; pkt[9] = 17; pkt.set([10, 9, 0, 1], 12); pkt.set([10, 9, 0, 2], 16);
  a.outbound(pkt, 0, pkt.length);
  if (legit.length !== INITIATION_SIZE) throw new Error('no initiation from the legitimate side');
  return { dev, gate, clock, deferred, sent, legit, pub };
}

test('a flood batch: work stops at the budget, continues deferred, the backlog means load; data in the batch is not held up', () => {
  const { dev, gate, clock, deferred } = setup();
  const pool = initiationPool(dev.engine.publicKey!, 300);
  const items = [];
  for (let i = 0; i < 300; i++) items.push({ data: pool.subarray(i * INITIATION_SIZE, (i + 1) * INITIATION_SIZE), from: 7 });
  const data = new Uint8Array(48);
  data[0] = 4; // a data message for an unknown index: dropped at once, but handled in the batch
  items.push({ data, from: 8 });
  const b = batch(items);
  gate.verdicts.fill(MACS_MAC1, 0, 300);
  gate.verdicts[300] = 0;
  clock.step = 0.25; // every clock read costs 0.25 ms of "work"
  dev.onDatagramBatch(b);
  const processed = dev.handshakeStats.processed;
  assert.ok(processed >= 1 && processed <= HANDSHAKE_BUDGET_MS / 0.25 + 1, `processed ${processed} in the first turn`);
  assert.is(dev.engine.dropsByReason[17], 1, 'the data message was handled within the batch (unknown index)');
  assert.is(deferred.length, 1, 'the rest was deferred to a later turn');
  assert.ok(dev.engine.underLoad && gate.underLoad, 'backlog: under load, and the gate was told');
  let turns = 1;
  while (deferred.length > 0 && turns < 1000) { deferred.shift()!(); turns++; }
  assert.is(dev.handshakeStats.processed, 300);
  assert.ok(turns > 10, `worked off over ${turns} turns`);
  assert.ok(gate.replies.length > 0, 'under load, queued messages without mac2 got cookie replies');
});

test('a message with a valid mac2 overtakes the queue; under load one without gets a cookie reply; load ends a second after the backlog', () => {
  const { dev, gate, clock, deferred, sent, legit } = setup();
  const pool = initiationPool(dev.engine.publicKey!, 200);
  const items = [];
  for (let i = 0; i < 200; i++) items.push({ data: pool.subarray(i * INITIATION_SIZE, (i + 1) * INITIATION_SIZE), from: 7 });
  items.push({ data: legit, from: 2 });
  gate.verdicts.fill(MACS_MAC1, 0, 200);
  gate.verdicts[200] = MACS_MAC2;
  clock.step = 0.25;
  dev.onDatagramBatch(batch(items));
  assert.equal(sent.filter((s) => s.type === 2).map((s) => s.to), [2], 'the proven initiation was answered in the first turn');
  assert.ok(dev.handshakeStats.processed < 20);
  while (deferred.length > 0) deferred.shift()!();
  // Under load (the backlog was 200): a legitimate initiation without mac2 gets a cookie reply.
  gate.replies.length = 0;
  sent.length = 0;
  gate.verdicts[0] = MACS_MAC1;
  dev.onDatagramBatch(batch([{ data: legit, from: 3 }]));
  assert.ok(dev.engine.underLoad);
  assert.equal(gate.replies, [3]);
  assert.equal(sent, [{ type: 3, to: 3 }]);
  clock.step = 0;
  clock.t += UNDER_LOAD_AFTER_MS + 1;
  dev.tick();
  assert.not.ok(dev.engine.underLoad);
  assert.not.ok(gate.underLoad, 'the gate was told the load is over');
});

test('one handshake that took 80 ms of wall time (a loaded host) does not put the device under load; 100 in a window, each ~1 ms of work, do', () => {
  const { dev, gate, clock, deferred, legit } = setup();
  gate.verdicts[0] = MACS_MAC1;
  clock.step = 40; // two clock reads around the message: 80 ms of wall time, most of it not ours
  dev.onDatagramBatch(batch([{ data: legit, from: 2 }]));
  while (deferred.length > 0) deferred.shift()!();
  assert.is(dev.handshakeStats.processed, 1);
  assert.not.ok(dev.engine.underLoad, 'one slow message counts at most HANDSHAKE_WORK_MAX_MS');
  assert.not.ok(gate.underLoad);
  // Real handshake work: a window's quarter of busy time from many messages is load.
  // 100 stays below the backlog trigger (UNDER_LOAD_BACKLOG = 128): only the busy share decides.
  const pool = initiationPool(dev.engine.publicKey!, 100);
  const items = [];
  for (let i = 0; i < 100; i++) items.push({ data: pool.subarray(i * INITIATION_SIZE, (i + 1) * INITIATION_SIZE), from: 7 });
  gate.verdicts.fill(MACS_MAC1, 0, 100);
  clock.step = 0.9;
  dev.onDatagramBatch(batch(items));
  let turns = 0;
  while (deferred.length > 0 && turns++ < 1000) deferred.shift()!();
  assert.ok(dev.engine.underLoad, `100 messages of ~1 ms each within ${LOAD_WINDOW_MS} ms: under load`);
});

test.run();
