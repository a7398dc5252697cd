// Router lookup benchmark: IPv4 / IPv6 longest-prefix-match lookups per second on one core, for
// tables of 1k and 100k random prefixes and for dense host routes (the gateway case: many /32s
// in one subnet), plus an allocation check (heap growth and GC runs across 10M lookups, with a
// control loop that does allocate), the router's per-packet path (source check + access check),
// and the gateway firewall (flow table + rules, both directions): known flows, answers, refusals,
// new flows, and known flows in a table holding 50k of them, with its own allocation check.
// Each rate is the best of 3 rounds: on a shared machine other load only ever slows a round down.
//
// Run: npx tsc -p tsconfig.json && node dist/scripts/bench-router.js   (about 10 s)
//
// Random prefixes: uniformly random address, length uniform in 1..32 (IPv6 1..128), peer 0..999.
// Lookup addresses: half uniformly random, half inside a random stored prefix (host bits random),
// so lookups exercise long matches and not only the short prefixes that cover most of the space.

import { GCProfiler, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AccessTable, parseAccessRule, type AccessRule } from '../src/router/access.js';
import { AllowedIps } from '../src/router/allowedips.js';
import { PeerFirewall } from '../src/router/firewall.js';
import { readSrc } from '../src/router/packet.js';
import { ACK, packet, SYN, TCP, UDP } from '../test/helpers/packets.js';

const LOOKUP_ADDRS = 1 << 20;
const ROUNDS = 3;

/** xorshift32, seeded so runs are comparable. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** Random host bits below `cidr` in word i of a prefix. */
function withHostBits(word: number, i: number, cidr: number, noise: number): number {
  const keep = cidr - 32 * i;
  if (keep >= 32) return word;
  if (keep <= 0) return noise;
  const m = (0xffffffff << (32 - keep)) >>> 0;
  return ((word & m) | (noise & ~m)) >>> 0;
}

interface Workload {
  table: AllowedIps;
  /** Lookup addresses, `words` int32 per address (int32 bits keep call arguments unboxed). */
  addrs: Int32Array;
  words: number;
  buildMs: number;
}

function randomWorkload(words: number, count: number, seed: number): Workload {
  const rnd = prng(seed);
  const bits = 32 * words;
  const keys = new Uint32Array(count * words);
  const lens = new Uint8Array(count);
  for (let i = 0; i < keys.length; i++) keys[i] = rnd();
  for (let i = 0; i < count; i++) lens[i] = 1 + (rnd() % bits);
  const table = new AllowedIps();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const k = i * words;
    if (words === 1) table.insertV4(keys[k], lens[i], rnd() % 1000);
    else table.insertV6(keys[k], keys[k + 1], keys[k + 2], keys[k + 3], lens[i], rnd() % 1000);
  }
  const buildMs = performance.now() - t0;
  const addrs = new Int32Array(LOOKUP_ADDRS * words);
  for (let a = 0; a < LOOKUP_ADDRS; a++) {
    const p = rnd() % count;
    for (let i = 0; i < words; i++) {
      addrs[a * words + i] = a & 1 ? rnd() : withHostBits(keys[p * words + i], i, lens[p], rnd());
    }
  }
  return { table, addrs, words, buildMs };
}

/** `count` /32 host routes spread over 10.0.0.0/8 or 10.124.0.0/16; lookups hit stored hosts. */
function denseWorkload(count: number, base: number, hostBits: number, seed: number): Workload {
  const rnd = prng(seed);
  const hosts = new Uint32Array(count);
  const table = new AllowedIps();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    hosts[i] = (base | (rnd() >>> (32 - hostBits))) >>> 0;
    table.insertV4(hosts[i], 32, i % 1000);
  }
  const buildMs = performance.now() - t0;
  const addrs = new Int32Array(LOOKUP_ADDRS);
  for (let a = 0; a < LOOKUP_ADDRS; a++) addrs[a] = hosts[rnd() % count];
  return { table, addrs, words: 1, buildMs };
}

/** Runs `count` lookups cycling through the workload's addresses; returns a checksum. */
function lookups(w: Workload, count: number): number {
  const t = w.table;
  const a = w.addrs;
  const mask = LOOKUP_ADDRS - 1;
  let acc = 0;
  if (w.words === 1) {
    for (let i = 0; i < count; i++) acc = (acc + t.lookupV4(a[i & mask])) | 0;
  } else {
    for (let i = 0; i < count; i++) {
      const j = (i & mask) << 2;
      acc = (acc + t.lookupV6(a[j], a[j + 1], a[j + 2], a[j + 3])) | 0;
    }
  }
  return acc;
}

/** Iterations per second of `loop` over `count` iterations after a warm-up: the best of ROUNDS. */
function bestRate(loop: (count: number) => number, count: number): number {
  loop(1_000_000);
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    loop(count);
    best = Math.max(best, count / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return best;
}

function exposeGc(): () => void {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as () => void;
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('cannot expose gc');
  return gc as () => void;
}

/** A benchmark loop: runs `count` iterations, returns a checksum. */
type Loop = (count: number) => number;

/** Heap growth and GC runs (v8.GCProfiler) across `count` iterations of a warmed-up loop. */
function allocationCheck(loop: Loop, count: number, gc: () => void): string {
  loop(1_000_000);
  const profiler = new GCProfiler();
  gc();
  profiler.start();
  const before = process.memoryUsage().heapUsed;
  loop(count);
  const grew = process.memoryUsage().heapUsed - before;
  const runs = profiler.stop().statistics.length;
  return `heap used ${grew >= 0 ? '+' : ''}${grew} bytes, ${runs} GC runs`;
}

/**
 * Control for the allocation check, to show it does see allocation: the same IPv4 lookups through
 * lookup(bytes) with a fresh 4-byte view per call, a mistake a caller could make.
 */
function viewPerLookup(w: Workload, count: number): number {
  const t = w.table;
  const buffer = w.addrs.buffer;
  const mask = LOOKUP_ADDRS - 1;
  let acc = 0;
  for (let i = 0; i < count; i++) acc = (acc + t.lookup(new Uint8Array(buffer, (i & mask) << 2, 4))) | 0;
  return acc;
}

function mps(x: number): string {
  return `${(x / 1e6).toFixed(1).padStart(6)} M lookups/s`;
}

/**
 * The router's share of the per-packet work on the receive path, for an IPv4 TCP and an IPv6 UDP
 * packet in a slab: source check (readSrc + lookupWords), then the access check (allowsPacket).
 */
function packetPath(): Loop {
  const slab = new Uint8Array(256);
  slab.set([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 124, 0, 7, 10, 124, 0, 10], 0);
  slab[22] = 0x0b; // TCP destination port 3000
  slab[23] = 0xb8;
  slab.set([0x60, 0, 0, 0, 0, 8, 17, 64, 0xfd, ...new Array(14).fill(0), 7, 0xfd, ...new Array(14).fill(0), 0x10], 64);
  slab[106] = 0; // UDP destination port 53
  slab[107] = 53;
  const table = new AllowedIps();
  table.insertV4(0x0a7c0007, 32, 1);
  table.insertV6(0xfd000000, 0, 0, 7, 128, 1);
  const access = new AccessTable();
  const rules = ['10.124.0.0/24:22/tcp', '10.124.0.10:3000/tcp', '[fd00::10]:53/udp'].map((r) => {
    const parsed = parseAccessRule(r);
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.value;
  });
  access.setRules(1, rules);
  const src = new Uint32Array(4);
  return (count) => {
    let ok = 0;
    for (let i = 0; i < count; i++) {
      const off = i & 1 ? 64 : 0;
      const len = i & 1 ? 48 : 40;
      const peer = table.lookupWords(readSrc(slab, off, len, src), src);
      if (peer === 1 && access.allowsPacket(peer, slab, off, len)) ok++;
    }
    if (ok !== count) throw new Error('packet path refused a packet it should allow');
    return ok;
  };
}

/** A gateway firewall: default networks 10.124.0.0/16 and fd00:124::/64, DNS exemption, peer 1 in default mode. */
function firewall(): PeerFirewall {
  const fw = new PeerFirewall();
  const rule = (t: string): AccessRule => {
    const r = parseAccessRule(t);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  fw.access.setDefaultRules([rule('10.124.0.0/16'), rule('fd00:124::/64')]);
  fw.access.setExemptions([rule('10.123.0.1:53/udp')]);
  fw.access.setExcluded([Uint8Array.of(10, 124, 0, 1)]);
  fw.resetPeer(1);
  fw.access.setDefault(1);
  return fw;
}

/** `count` packets into one slab (64 bytes apart): the same flow in both directions, v4 TCP and v6 UDP. */
function slabOf(pkts: Uint8Array[]): { slab: Uint8Array; offs: Uint32Array; lens: Uint32Array } {
  const slab = new Uint8Array(pkts.length * 96);
  const offs = new Uint32Array(pkts.length);
  const lens = new Uint32Array(pkts.length);
  pkts.forEach((p, i) => { slab.set(p, i * 96); offs[i] = i * 96; lens[i] = p.length; });
  return { slab, offs, lens };
}

/** The firewall loops: each runs `count` packets and returns how many passed. */
function firewallLoops(): { name: string; loop: Loop; expectPass: boolean }[] {
  const now = 1000;
  const fw = firewall();
  const out = slabOf([
    packet({ src: '10.123.0.2', dst: '10.124.0.10', proto: TCP, sport: 40000, dport: 3000, flags: ACK }),
    packet({ src: 'fd00:123::2', dst: 'fd00:124::10', proto: UDP, sport: 40000, dport: 53 }),
  ]);
  const back = slabOf([
    packet({ src: '10.124.0.10', dst: '10.123.0.2', proto: TCP, sport: 3000, dport: 40000, flags: ACK }),
    packet({ src: 'fd00:124::10', dst: 'fd00:123::2', proto: UDP, sport: 53, dport: 40000 }),
  ]);
  const unsolicited = slabOf([
    packet({ src: '10.124.0.10', dst: '10.123.0.2', proto: TCP, sport: 3000, dport: 22, flags: SYN }),
    packet({ src: 'fd00:124::10', dst: 'fd00:123::2', proto: UDP, sport: 53, dport: 5353 }),
  ]);
  for (let i = 0; i < 2; i++) fw.fromPeer(1, out.slab, out.offs[i], out.lens[i], now);
  // 50k distinct flows (laptop ports), started in a fresh table, then looked up as known flows.
  const N = 50_000;
  const many = slabOf(Array.from({ length: N }, (_, i) => packet({ src: '10.123.0.2', dst: '10.124.0.10', proto: TCP, sport: 10000 + i, dport: 3000, flags: SYN })));
  const big = firewall();
  const run = (f: PeerFirewall, s: { slab: Uint8Array; offs: Uint32Array; lens: Uint32Array }, dir: 'from' | 'to') => (count: number): number => {
    let pass = 0;
    const n = s.offs.length;
    for (let i = 0; i < count; i++) {
      const k = i % n;
      const ok = dir === 'from' ? f.fromPeer(1, s.slab, s.offs[k], s.lens[k], now) : f.toPeer(1, s.slab, s.offs[k], s.lens[k], now);
      if (ok) pass++;
    }
    return pass;
  };
  const fresh = (count: number): number => {
    let pass = 0;
    for (let done = 0; done < count; done += N) {
      big.flows.forgetPeer(1); // the previous round's flows die: every packet starts a new flow
      pass += run(big, many, 'from')(Math.min(N, count - done));
    }
    return pass;
  };
  return [
    { name: 'known flow, laptop -> project (v4 TCP, v6 UDP)', loop: run(fw, out, 'from'), expectPass: true },
    { name: 'answer to the laptop (v4 TCP, v6 UDP)', loop: run(fw, back, 'to'), expectPass: true },
    { name: 'refused: the project opens a flow to the laptop', loop: run(fw, unsolicited, 'to'), expectPass: false },
    { name: 'new flow per packet (rules + insert, 50k flows)', loop: fresh, expectPass: true },
    { name: 'known flows in a table holding 50k', loop: (count) => { if (big.flows.live(now) < N) fresh(N); return run(big, many, 'from')(count); }, expectPass: true },
  ];
}

interface Case {
  name: string;
  make: () => Workload;
  /** Lookups per timed round. */
  count: number;
  /** Also run the allocation check (and, for IPv4, its control). */
  checkAllocation?: boolean;
}

const CASES: Case[] = [
  { name: 'IPv4   1k random prefixes', make: () => randomWorkload(1, 1_000, 1), count: 5e6 },
  { name: 'IPv4 100k random prefixes', make: () => randomWorkload(1, 100_000, 2), count: 5e6, checkAllocation: true },
  { name: 'IPv6   1k random prefixes', make: () => randomWorkload(4, 1_000, 3), count: 2e6 },
  { name: 'IPv6 100k random prefixes', make: () => randomWorkload(4, 100_000, 4), count: 1e6, checkAllocation: true },
  { name: 'IPv4   1k /32 hosts in 10.124.0.0/16', make: () => denseWorkload(1_000, 0x0a7c0000, 16, 5), count: 5e6 },
  { name: 'IPv4  60k /32 hosts in 10.124.0.0/16', make: () => denseWorkload(60_000, 0x0a7c0000, 16, 6), count: 5e6 },
  { name: 'IPv4 100k /32 hosts in 10.0.0.0/8', make: () => denseWorkload(100_000, 0x0a000000, 24, 7), count: 5e6 },
];

function main(): void {
  const gc = exposeGc();
  const started = performance.now();
  const pad = ''.padEnd(38);
  console.log(`router lookup benchmark (node ${process.version}, one core)`);
  for (const c of CASES) {
    const w = c.make();
    const rate = bestRate((n) => lookups(w, n), c.count);
    const stats = w.table.stats();
    const f = w.words === 1 ? stats.v4 : stats.v6;
    const shape = `${f.nodes} nodes, ${f.chunks} chunks, ${(f.bytes / 1e6).toFixed(1)} MB`;
    console.log(`${c.name.padEnd(38)} ${mps(rate)}   build ${w.buildMs.toFixed(0).padStart(4)} ms, ${shape}`);
    if (c.checkAllocation) {
      console.log(`${pad} allocation check, 10M lookups: ${allocationCheck((n) => lookups(w, n), 10_000_000, gc)}`);
      if (w.words === 1) {
        const control = allocationCheck((n) => viewPerLookup(w, n), 1_000_000, gc);
        console.log(`${pad} control, 1M lookups with a new view each: ${control}`);
      }
    }
  }
  const packets = packetPath();
  const rate = bestRate(packets, 2e6);
  console.log(`${'packet path: readSrc+lookupWords+allowsPacket'.padEnd(46)} ${(rate / 1e6).toFixed(1)} M packets/s`);
  console.log(`${pad} allocation check, 2M packets: ${allocationCheck(packets, 2_000_000, gc)}`);
  console.log('gateway firewall (flow table + rules), per packet:');
  for (const f of firewallLoops()) {
    const passed = f.loop(1000);
    if ((passed === 1000) !== f.expectPass || (!f.expectPass && passed !== 0)) throw new Error(`firewall loop "${f.name}" passed ${passed} of 1000`);
    const r = bestRate(f.loop, 2e6);
    console.log(`  ${f.name.padEnd(52)} ${(r / 1e6).toFixed(1).padStart(5)} M packets/s  (${(1e9 / r).toFixed(0)} ns)`);
    console.log(`${pad} allocation check, 4M packets: ${allocationCheck(f.loop, 4_000_000, gc)}`);
  }
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main();
