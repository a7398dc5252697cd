// Protocol-engine benchmark (src/noise), one core, per crypto backend:
//  1. handshakes per second: initiation + response + confirming keepalive between two engines on
//     one core, and per role: one responder (a gateway) completing handshakes with 256 laptops
//     whose messages are made outside its timed work, and the same for the initiator's half; with
//     the ceiling X25519 alone puts on each (its 8 scalar multiplications, 4 per side, timed by
//     themselves);
//  2. encapsulate + decapsulate per packet through the engine at 64 and 1420 bytes (in place), one
//     packet per call and as trains of 45 (encapsulateBatch / decapsulateBatch: one keypair, one
//     AEAD call per train, what the device does with a TUN super-packet or a GRO train);
//  3. memory on the data path: bytes allocated on the JS heap per packet (new-space growth over
//     short synchronous runs), minor GCs and retained heap growth over up to 1M packets (each
//     run is time-boxed, so a slow backend reports how many it got through).
// The native backend runs twice: with the addon's in-place dataSeal / dataOpen ("addon", the
// default when the addon is built) and with node:crypto objects per packet ("node:crypto",
// i.e. WGTS_AEAD=node); the pure backend seals in place with its own TypeScript ChaCha20-Poly1305. A "no-op AEAD" backend (native backend with sealing/opening replaced by
// nothing) isolates what the engine's own code allocates from what the crypto backends allocate inside.
// Time-boxed to stay well under 30 s. Run: npx tsc -p tsconfig.json && node dist/scripts/bench-noise.js

import { spawnSync } from 'node:child_process';
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { backends, type CryptoBackend } from '../src/crypto/index.js';
import { nodeCryptoAead } from '../src/crypto/native.js';
import { DECAP_HANDLED, DECAP_TUNNEL, WgEngine } from '../src/noise/engine.js';
import { ENGINE_SOURCE, fullHandshake as handshake } from '../test/helpers/engines.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  // Re-run with --expose-gc so retained heap can be measured after a full collection.
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const fullGc: () => void = gc;

/** The native backend on node:crypto's ChaCha20-Poly1305 only (what WGTS_AEAD=node selects). */
const nodeAead: CryptoBackend = {
  ...backends.native, ...nodeCryptoAead, dataSeal: undefined, dataOpen: undefined, dataSealBatch: undefined, dataOpenBatch: undefined,
};

/** The native backend with AEAD seal/open reduced to "tag = zeros": the engine's own cost only. */
const noopAead: CryptoBackend = {
  ...nodeAead,
  aeadSeal: (_k, _n, src, _aad, dst, off) => {
    if (src.buffer !== dst.buffer || src.byteOffset !== dst.byteOffset + off) dst.set(src, off);
    dst.fill(0, off + src.length, off + src.length + 16);
    return src.length + 16;
  },
  aeadOpen: (_k, _n, src, _aad, dst, off) => {
    const n = src.length - 16;
    if (src.buffer !== dst.buffer || src.byteOffset !== dst.byteOffset + off) dst.set(src.subarray(0, n), off);
    return n;
  },
};

const SOURCE = ENGINE_SOURCE;

/** Two engines that know each other; a's peer id for b is `ia`, b's for a is `ib`. */
function pair(crypto: CryptoBackend): { a: WgEngine; b: WgEngine; ia: number; ib: number; clock: { wall: bigint } } {
  const clock = { wall: 1_700_000_000_000_000_000n };
  const wallClockNs = (): bigint => (clock.wall += 1_000_000_000n);
  const a = new WgEngine({ crypto, wallClockNs });
  const b = new WgEngine({ crypto, wallClockNs });
  a.setPrivateKey(backends.native.randomBytes(32));
  b.setPrivateKey(backends.native.randomBytes(32));
  const ia = a.addPeer(b.publicKey!);
  const ib = b.addPeer(a.publicKey!);
  return { a, b, ia, ib, clock };
}

/** Handshakes per second: the best of several windows of `budgetMs / 5` (the machine is shared). */
function handshakesPerSecond(crypto: CryptoBackend, budgetMs: number): { rate: number; count: number } {
  const { a, b, ia } = pair(crypto);
  const scratch = new Uint8Array(256);
  let now = 0;
  for (let i = 0; i < 3; i++) handshake(a, b, ia, (now += 6000), scratch); // warm-up
  let count = 0;
  let rate = 0;
  for (let w = 0; w < 5; w++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < budgetMs / 5) {
      handshake(a, b, ia, (now += 6000), scratch);
      n++;
    }
    count += n;
    rate = Math.max(rate, (n * 1000) / (performance.now() - t0));
  }
  return { rate, count };
}

/** Role rates: a responder with `peers` initiators; each side's work timed alone (best of 5 rounds). */
function roleRates(crypto: CryptoBackend, peers: number, rounds: number): { responder: number; initiator: number } {
  const clock = { wall: 1_700_000_000_000_000_000n };
  const wallClockNs = (): bigint => (clock.wall += 1_000_000_000n);
  const r = new WgEngine({ crypto, wallClockNs });
  r.setPrivateKey(backends.native.randomBytes(32));
  const inits: { e: WgEngine; id: number }[] = [];
  for (let k = 0; k < peers; k++) {
    const e = new WgEngine({ crypto, wallClockNs });
    e.setPrivateKey(backends.native.randomBytes(32));
    r.addPeer(e.publicKey!);
    inits.push({ e, id: e.addPeer(r.publicKey!) });
  }
  const scratch = new Uint8Array(256);
  let now = 0;
  let responder = 0;
  let initiator = 0;
  for (let round = 0; round < rounds + 1; round++) {
    now += 6000;
    // Initiator, timed: initiations.
    let t = performance.now();
    const m1 = inits.map(({ e, id }) => { e.initiateHandshake(id, now); return e.takeOutbox()[0]!.data; });
    let ti = performance.now() - t;
    // Responder, timed: initiations in, responses out.
    t = performance.now();
    const m2 = m1.map((m) => {
      if (r.decapsulate(m, 0, m.length, ENGINE_SOURCE, now, scratch, 0) !== DECAP_HANDLED) throw new Error('initiation not handled');
      return r.takeOutbox()[0]!.data;
    });
    let tr = performance.now() - t;
    // Initiator, timed: responses in, confirming keepalives out.
    t = performance.now();
    const m3 = m2.map((m, k) => {
      const { e } = inits[k]!;
      if (e.decapsulate(m, 0, m.length, ENGINE_SOURCE, now, scratch, 0) !== DECAP_HANDLED) throw new Error('response not handled');
      return e.takeOutbox()[0]!.data;
    });
    ti += performance.now() - t;
    // Responder, timed: the confirmations install the sessions.
    t = performance.now();
    for (const m of m3) if (r.decapsulate(m, 0, m.length, ENGINE_SOURCE, now, scratch, 0) !== DECAP_HANDLED) throw new Error('confirmation not handled');
    tr += performance.now() - t;
    if (round === 0) continue; // warm-up
    responder = Math.max(responder, (peers * 1000) / tr);
    initiator = Math.max(initiator, (peers * 1000) / ti);
  }
  return { responder, initiator };
}

/** An IPv4 packet of `len` bytes at buf[16..] (room for the header in front, padding + tag behind). */
function dataSetup(crypto: CryptoBackend, len: number): { step: () => void; check: () => boolean } {
  const { a, b, ia } = pair(crypto);
  const scratch = new Uint8Array(256);
  handshake(a, b, ia, 6000, scratch);
  const buf = new Uint8Array(16 + len + 16 + 16);
  buf[16] = 0x45;
  buf[18] = len >> 8;
  buf[19] = len & 0xff;
  for (let i = 36; i < 16 + len; i++) buf[i] = i & 0xff;
  const expect = buf.slice(16, 16 + len);
  const now = 6000;
  const step = (): void => {
    const n = a.encapsulate(ia, buf, 16, len, now, buf, 0);
    if (b.decapsulate(buf, 0, n, SOURCE, now, buf, 16) !== DECAP_TUNNEL) throw new Error('decapsulate failed');
  };
  const check = (): boolean => b.lastLength === len && buf.subarray(16, 16 + len).every((x, i) => x === expect[i]);
  return { step, check };
}

const TRAIN = 45;

/** A train of TRAIN packets of `len` bytes, each in a 2 KiB slot; one step seals and opens the whole train. */
function trainSetup(crypto: CryptoBackend, len: number): { step: () => void; check: () => boolean } {
  const { a, b, ia } = pair(crypto);
  handshake(a, b, ia, 6000, new Uint8Array(256));
  const buf = new Uint8Array(TRAIN * 2048);
  const offsets = new Uint32Array(TRAIN);
  const lengths = new Uint32Array(TRAIN);
  const msgOffsets = new Uint32Array(TRAIN);
  const msgLengths = new Uint32Array(TRAIN);
  const results = new Int32Array(TRAIN);
  for (let k = 0; k < TRAIN; k++) {
    const o = k * 2048 + 16;
    offsets[k] = o;
    msgOffsets[k] = o - 16;
    lengths[k] = len;
    buf[o] = 0x45;
    buf[o + 2] = len >> 8;
    buf[o + 3] = len & 0xff;
    for (let i = 20; i < len; i++) buf[o + i] = (i + k) & 0xff;
  }
  const expect = buf.slice();
  const now = 6000;
  const step = (): void => {
    if (a.encapsulateBatch(ia, buf, offsets, lengths, 0, TRAIN, now, msgLengths) !== TRAIN) throw new Error('encapsulateBatch failed');
    if (b.decapsulateBatch(buf, msgOffsets, msgLengths, 0, TRAIN, now, results) < 0) throw new Error('decapsulateBatch failed');
  };
  const check = (): boolean => results.every((r) => r === len) && offsets.every((o) => buf.subarray(o, o + len).every((x, i) => x === expect[o + i]));
  return { step, check };
}

/** µs per packet (encapsulate + decapsulate, one by one or as trains): the best of five windows of `budgetMs / 5`. */
function usPerPacket(crypto: CryptoBackend, len: number, budgetMs: number, train = false): { us: number; ok: boolean } {
  const { step, check } = train ? trainSetup(crypto, len) : dataSetup(crypto, len);
  const per = train ? TRAIN : 1;
  for (let i = 0; i < 2000 / per; i++) step();
  let us = Infinity;
  for (let w = 0; w < 5; w++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < budgetMs / 5) {
      for (let i = 0; i < 500; i++) step();
      n += 500 * per;
    }
    us = Math.min(us, ((performance.now() - t0) * 1000) / n);
  }
  return { us, ok: check() };
}

function newSpaceUsed(): number {
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_used_size;
  return 0;
}

/** Median bytes of new-space growth per call of `fn` over short runs that saw no scavenge. */
function bytesPerCall(fn: () => void, calls: number): number {
  const samples: number[] = [];
  for (let r = 0; r < 25; r++) {
    const before = newSpaceUsed();
    for (let i = 0; i < calls; i++) fn();
    const after = newSpaceUsed();
    if (after >= before) samples.push((after - before) / calls);
  }
  samples.sort((x, y) => x - y);
  return samples.length === 0 ? NaN : samples[samples.length >> 1]!;
}

/** Up to `count` packets (stopping early after `budgetMs`): retained heap growth and minor GCs. */
async function manyPackets(crypto: CryptoBackend, len: number, count: number, budgetMs: number, train = false): Promise<{ growth: number; minorGcs: number; seconds: number; packets: number }> {
  const { step } = train ? trainSetup(crypto, len) : dataSetup(crypto, len);
  const per = train ? TRAIN : 1;
  for (let i = 0; i < 5000 / per; i++) step();
  let minor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const detail = (e as unknown as { detail?: { kind?: number } }).detail;
      if (detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) minor++;
    }
  });
  fullGc();
  const before = getHeapStatistics().used_heap_size;
  obs.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  let packets = 0;
  while (packets < count && performance.now() - t0 < budgetMs) {
    for (let i = 0; i < 10_000 / per; i++) step();
    packets += Math.floor(10_000 / per) * per;
  }
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 100)); // GC entries are delivered asynchronously
  obs.disconnect();
  fullGc();
  return { growth: getHeapStatistics().used_heap_size - before, minorGcs: minor, seconds, packets };
}

const started = performance.now();
const named: [string, CryptoBackend][] = [['addon', backends.native], ['node:crypto', nodeAead], ['pure', backends.pure], ['no-op AEAD', noopAead]];

console.log('wgts noise engine benchmark (one core, Node ' + process.version + ')\n');
if (backends.native.dataSeal === undefined) console.log('(the addon AEAD is not in use: build the addon, unset WGTS_AEAD; "addon" rows below measure node:crypto)\n');
console.log('handshakes (initiation + response + confirmation, both engines on this core; best of 5 windows):');
for (const [name, crypto] of [['native', backends.native], ['pure', backends.pure]] as const) {
  const h = handshakesPerSecond(crypto, 1500);
  console.log(`  ${name.padEnd(10)} ${h.rate.toFixed(0).padStart(6)} handshakes/s  (${h.count} in the run)`);
}
console.log('per role on one core: a responder (the gateway) completing handshakes with 256 initiators whose messages are made apart, and the initiators\' half (best of 5 rounds):');
for (const [name, crypto, peers] of [['native', backends.native, 256], ['pure', backends.pure, 16]] as const) {
  const h = roleRates(crypto, peers, 5);
  console.log(`  ${name.padEnd(10)} responder ${h.responder.toFixed(0).padStart(6)} handshakes/s, initiator ${h.initiator.toFixed(0).padStart(6)} handshakes/s  (${peers} peers)`);
}

// The floor X25519 sets: a full handshake is 6 scalar multiplications with a peer's point (es, ee
// and se on each side; ss is precomputed per peer) and 2 ephemeral public keys: 3 + 1 per side.
for (const crypto of [backends.native, backends.pure]) {
  const priv = crypto.randomBytes(32);
  const pub = crypto.x25519Public(crypto.randomBytes(32));
  const out = new Uint8Array(32);
  const n = crypto === backends.native ? 400 : 20;
  const best = (fn: () => void): number => {
    let b = Infinity;
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) fn();
      b = Math.min(b, ((performance.now() - t0) * 1000) / n);
    }
    return b;
  };
  const dh = best(() => void crypto.x25519Into(out, priv, pub));
  const base = best(() => void crypto.x25519PublicInto(out, priv));
  const floor = 6 * dh + 2 * base;
  const side = 3 * dh + base;
  console.log(`  ${crypto.name.padEnd(10)} X25519 alone: 6 x ${dh.toFixed(1)} µs + 2 x ${base.toFixed(1)} µs = ${floor.toFixed(0)} µs per handshake, ` +
    `so at most ${(1e6 / floor).toFixed(0)} handshakes/s with both sides on one core, ${(1e6 / side).toFixed(0)}/s for one side`);
}

console.log('\nencapsulate + decapsulate through the engine, per packet (in place; best of 5 windows):');
for (const [name, crypto] of named) {
  for (const len of [64, 1420]) {
    const r = usPerPacket(crypto, len, 600);
    const alloc = (() => {
      const { step } = dataSetup(crypto, len);
      for (let i = 0; i < 2000; i++) step();
      const base = bytesPerCall(() => undefined, 1000);
      return bytesPerCall(step, 1000) - base;
    })();
    console.log(`  ${name.padEnd(11)} ${String(len).padStart(5)} B  ${r.us.toFixed(2).padStart(7)} µs  ` +
      `(${(1 / r.us).toFixed(3)} M packets/s)  JS heap allocated ≈ ${alloc.toFixed(0)} B/packet` + (r.ok ? '' : '  PAYLOAD MISMATCH'));
  }
}

console.log(`\nthe same as trains of ${TRAIN} (encapsulateBatch + decapsulateBatch), per packet:`);
for (const [name, crypto] of named) {
  for (const len of [64, 1420]) {
    const r = usPerPacket(crypto, len, 600, true);
    const alloc = (() => {
      const { step } = trainSetup(crypto, len);
      for (let i = 0; i < 50; i++) step();
      const base = bytesPerCall(() => undefined, 20);
      return (bytesPerCall(step, 20) - base) / TRAIN;
    })();
    console.log(`  ${name.padEnd(11)} ${String(len).padStart(5)} B  ${r.us.toFixed(2).padStart(7)} µs  ` +
      `(${(1 / r.us).toFixed(3)} M packets/s)  JS heap allocated ≈ ${alloc.toFixed(0)} B/packet` + (r.ok ? '' : '  PAYLOAD MISMATCH'));
  }
}

console.log('\nheap over many packets (full GC before and after; minor GCs counted during the run):');
for (const [name, crypto, len, budget, train] of [['no-op AEAD', noopAead, 1420, 5000, false], ['addon', backends.native, 1420, 5000, false],
  ['addon trains', backends.native, 1420, 5000, true], ['node:crypto', nodeAead, 64, 6000, false], ['pure', backends.pure, 1420, 5000, false]] as const) {
  const m = await manyPackets(crypto, len, 1_000_000, budget, train);
  console.log(`  ${name.padEnd(11)} ${String(len).padStart(5)} B x ${m.packets.toLocaleString('en')}: retained heap growth ${(m.growth / 1024).toFixed(1)} KiB, ` +
    `${m.minorGcs} minor GCs, ${m.seconds.toFixed(1)} s`);
}
console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s`);
