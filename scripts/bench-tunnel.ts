// Tunnel benchmark: ping RTT, one-stream TCP throughput both ways, UDP loss at a fixed offered rate
// and the CPU seconds each side spends per GB, through a WireGuard tunnel between two network
// namespaces, for every pair of implementations in one run so the numbers compare (wgts also on its
// pure TypeScript crypto, WGTS_CRYPTO=pure). Needs root.
//
// Usage: node dist/scripts/bench-tunnel.js [seconds per iperf3 run, default 5]
//   WGTS_BENCH_WIREGUARD_GO=/path/to/wireguard-go   a second (e.g. current upstream) wireguard-go:
//                                                   adds its pairs to the table
//   WGTS_BENCH_PAIRS=wgts-wgts,cur-cur,...           run only these pairs (names in PAIRS below)
//   WGTS_BENCH_PROFILE=1                             per-thread CPU (pidstat -t) of both daemons
//                                                   during each TCP run
import { openSync, closeSync, readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { B4, type End, startPair } from '../test/helpers/pair.js';
import { type Daemon, goVersion, iperf, iperfUdp, pingRtt } from '../test/helpers/wg.js';

const seconds = Math.min(30, Math.max(1, Number(process.argv[2] ?? 5)));
const UDP_RATE = '400M';
const UDP_SIZE = 1392;
const currentGo = process.env.WGTS_BENCH_WIREGUARD_GO?.trim() || undefined;
const profile = process.env.WGTS_BENCH_PROFILE === '1';

interface Side extends End { label: string }

const debian: Side = { impl: 'wireguard-go', label: `wg-go ${goVersion('wireguard-go')} (Debian)` };
const current: Side | undefined = currentGo ? { impl: 'wireguard-go', label: `wg-go ${goVersion(currentGo)}`, binary: currentGo } : undefined;
const wgts: Side = { impl: 'wgts', label: 'wgts' };
const wgtsOff: Side = { impl: 'wgts', label: 'wgts WGTS_OFFLOAD=0', env: { WGTS_OFFLOAD: '0' } };
const wgtsPure: Side = { impl: 'wgts', label: 'wgts WGTS_CRYPTO=pure', env: { WGTS_CRYPTO: 'pure' } };

const PAIRS: [string, Side, Side | undefined][] = [
  ['deb-deb', debian, debian],
  ['cur-cur', current ?? debian, current],
  ['wgts-wgts', wgts, wgts],
  ['wgts-cur', wgts, current],
  ['wgts-deb', wgts, debian],
  ['off-off', wgtsOff, wgtsOff],
  ['pure-pure', wgtsPure, wgtsPure],
];
const only = process.env.WGTS_BENCH_PAIRS?.split(',').map((s) => s.trim()).filter(Boolean);

// ---- CPU accounting from /proc (what pidstat reads) ----------------------------------------------

const TICK = 100; // USER_HZ: /proc reports CPU time in 1/100 s on Linux

interface Cpu { user: number; system: number }

function parseStat(text: string): { comm: string; user: number; system: number } {
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  return { comm, user: Number(f[11]) / TICK, system: Number(f[12]) / TICK };
}

function processCpu(pid: number): Cpu {
  try {
    const s = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return { user: s.user, system: s.system };
  } catch {
    return { user: 0, system: 0 };
  }
}

const minus = (a: Cpu, b: Cpu): Cpu => ({ user: a.user - b.user, system: a.system - b.system });

/** Runs `fn` and returns its result with the CPU each daemon spent meanwhile (and pidstat -t output in profile mode). */
async function withCpu<T>(daemons: Daemon[], fn: () => Promise<T>): Promise<{ result: T; cpu: Cpu[]; pidstat: string }> {
  const pids = daemons.map((d) => d.proc.pid ?? 0);
  const before = pids.map(processCpu);
  let dir = '';
  let stop = async (): Promise<string> => '';
  if (profile) {
    dir = mkdtempSync(join(tmpdir(), 'wgts-bench-'));
    const out = openSync(join(dir, 'pidstat'), 'w');
    const child = spawn('pidstat', ['-t', '-u', '-p', pids.join(','), '1', String(seconds)], { stdio: ['ignore', out, 'ignore'] });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    stop = async (): Promise<string> => {
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      closeSync(out);
      const text = readFileSync(join(dir, 'pidstat'), 'utf8');
      rmSync(dir, { recursive: true, force: true });
      return text;
    };
  }
  const result = await fn();
  const cpu = pids.map((p, i) => minus(processCpu(p), before[i] as Cpu));
  return { result, cpu, pidstat: await stop() };
}

/** The `Average:` lines of pidstat -t, threads using at least 1 % only. */
function pidstatAverages(text: string): string {
  return text.split('\n').filter((l) => l.startsWith('Average:') && (/%usr/.test(l) || Number(l.trim().split(/\s+/)[7]) >= 1)).join('\n');
}

/** Per-thread CPU seconds of a live process (name, user, system), busiest first. */
function threads(pid: number): { tid: string; comm: string; user: number; system: number }[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map((tid) => ({ tid, ...parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')) }));
  } catch {
    return [];
  }
}

// ---- one pair ------------------------------------------------------------------------------------

interface Direction { mbit: number; cpuA: Cpu; cpuB: Cpu; gb: number }
interface Result {
  pair: string;
  rttMs: number;
  /** Median of three ping runs after the throughput runs and 2 s of idle: daemons that have run. */
  rttRunningMs: number;
  up: Direction;
  down: Direction;
  udpUp: number;
  udpDown: number;
  notes: string[];
}

async function measure(name: string, sideA: Side, sideB: Side): Promise<Result> {
  const notes: string[] = [];
  const p = await startPair(sideA, sideB, { logLevel: 'error' });
  try {
    const { nsA, nsB, a, b } = p;
    pingRtt(nsA, B4, 3); // handshake
    const rttMs = pingRtt(nsA, B4, 20);
    const tcp = async (reverse: boolean): Promise<Direction> => {
      const r = await withCpu([a, b], () => iperf(nsB, nsA, B4, seconds, reverse));
      if (profile) {
        notes.push(`${name} TCP ${reverse ? 'B->A' : 'A->B'} (A = ${sideA.label}, pid ${a.proc.pid}; B = ${sideB.label}, pid ${b.proc.pid}):\n${pidstatAverages(r.pidstat)}`);
      }
      const gb = (r.result * seconds) / 8 / 1e9;
      return { mbit: r.result / 1e6, cpuA: r.cpu[0] as Cpu, cpuB: r.cpu[1] as Cpu, gb };
    };
    const up = await tcp(false);
    const down = await tcp(true);
    const udpUp = (await iperfUdp(nsB, nsA, B4, seconds, false, UDP_RATE, UDP_SIZE)).lostPercent;
    const udpDown = (await iperfUdp(nsB, nsA, B4, seconds, true, UDP_RATE, UDP_SIZE)).lostPercent;
    // The same pings once the daemons have carried traffic (a gateway that has been serving): JIT
    // compilers have seen the data path by then; pings still 50 ms apart, after 2 s of idle.
    await new Promise((r) => setTimeout(r, 2000));
    const runs = [pingRtt(nsA, B4, 20), pingRtt(nsA, B4, 20), pingRtt(nsA, B4, 20)].sort((x, y) => x - y);
    const rttRunningMs = runs[1] as number;
    if (profile) {
      for (const d of [a, b]) {
        const top = threads(d.proc.pid ?? 0).sort((x, y) => y.user + y.system - x.user - x.system).slice(0, 6);
        notes.push(`${name} ${d === a ? 'A' : 'B'} threads over the whole run: ${top.map((t) => `${t.comm}[${t.tid}] usr ${t.user.toFixed(2)} s sys ${t.system.toFixed(2)} s`).join('; ')}`);
      }
    }
    return { pair: `${sideA.label} <-> ${sideB.label}`, rttMs, rttRunningMs, up, down, udpUp, udpDown, notes };
  } finally {
    await p.close();
  }
}

// ---- the table -----------------------------------------------------------------------------------

const perGb = (c: Cpu, gb: number): string => (gb > 0 ? ((c.user + c.system) / gb).toFixed(1) : '-');
const split = (c: Cpu): string => `${c.user.toFixed(1)}+${c.system.toFixed(1)}`;

const results = new Map<string, Result>();
for (const [name, x, y] of PAIRS) {
  if (y === undefined) continue;
  if (only && !only.includes(name)) continue;
  results.set(name, await measure(name, x, y));
}

console.log(`\nTunnel between two network namespaces (veth), MTU 1420, iperf3 one TCP stream ${seconds} s per direction,`);
console.log(`ping 20 x 56 B at 50 ms just after the start ("fresh") and, median of 3 x 20, after the throughput runs and 2 s idle ("running"),`);
console.log(`UDP ${UDP_SIZE} B datagrams offered at ${UDP_RATE}bit/s for ${seconds} s (loss as the receiver counts it).`);
console.log('CPU = seconds of CPU (user+system) each daemon used per GB carried during that TCP run.\n');
console.log('| pair (A <-> B) | ping RTT fresh / running | TCP A->B | CPU s/GB A / B | TCP B->A | CPU s/GB A / B | UDP loss A->B | UDP loss B->A |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results.values()) {
  console.log(`| ${r.pair} | ${r.rttMs.toFixed(3)} / ${r.rttRunningMs.toFixed(3)} ms | ${r.up.mbit.toFixed(0)} Mbit/s | ${perGb(r.up.cpuA, r.up.gb)} / ${perGb(r.up.cpuB, r.up.gb)} | ` +
    `${r.down.mbit.toFixed(0)} Mbit/s | ${perGb(r.down.cpuA, r.down.gb)} / ${perGb(r.down.cpuB, r.down.gb)} | ${r.udpUp.toFixed(2)} % | ${r.udpDown.toFixed(2)} % |`);
}
console.log('\nCPU seconds (user+system) per TCP run, A / B:');
for (const r of results.values()) console.log(`  ${r.pair}: A->B ${split(r.up.cpuA)} / ${split(r.up.cpuB)}, B->A ${split(r.down.cpuA)} / ${split(r.down.cpuB)}`);

const tcpSum = (name: string): number | undefined => {
  const r = results.get(name);
  return r ? r.up.mbit + r.down.mbit : undefined;
};
const ratio = (num: string, den: string, what: string): void => {
  const n = tcpSum(num), d = tcpSum(den);
  if (n !== undefined && d !== undefined) console.log(`${what}: ${(n / d).toFixed(2)}`);
};
console.log('');
ratio('wgts-wgts', 'cur-cur', 'TCP wgts<->wgts / current wg-go<->current wg-go');
ratio('wgts-cur', 'cur-cur', 'TCP wgts<->current wg-go / current wg-go<->current wg-go');
ratio('wgts-wgts', 'deb-deb', 'TCP wgts<->wgts / Debian wg-go<->Debian wg-go');
ratio('off-off', 'wgts-wgts', 'TCP WGTS_OFFLOAD=0 / offloads on');
ratio('pure-pure', 'cur-cur', 'TCP wgts WGTS_CRYPTO=pure / current wg-go<->current wg-go');
ratio('pure-pure', 'deb-deb', 'TCP wgts WGTS_CRYPTO=pure / Debian wg-go<->Debian wg-go');
const cur = results.get('cur-cur');
for (const [when, pick] of [['fresh', (r: Result) => r.rttMs], ['running', (r: Result) => r.rttRunningMs]] as const) {
  for (const name of ['wgts-wgts', 'wgts-cur']) {
    const w = results.get(name);
    if (w !== undefined && cur !== undefined) console.log(`ping RTT ${when} ${name === 'wgts-wgts' ? 'wgts<->wgts' : 'wgts<->current wg-go'} / current wg-go<->current wg-go: ${(pick(w) / pick(cur)).toFixed(2)}`);
  }
}
for (const r of results.values()) for (const n of r.notes) console.log(`\n${n}`);
