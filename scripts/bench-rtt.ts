// Idle round-trip benchmark: where a ping's time goes, hop by hop, through two WireGuard daemons in
// two namespaces (test/helpers/pair.ts), for each implementation in one run. Each pair carries
// 2 000 fast pings, idles 2 s, then sends 20 pings 50 ms apart while `perf record -a` records the
// raw_syscalls and sched tracepoints; scripts/rtt/timeline.ts cuts every ping at the daemons'
// syscalls. Tracing slows every hop, so compare the columns of one run, not the totals with the
// tunnel benchmark's untraced pings. Needs root, perf (linux-perf) and an x86-64 machine.
//
// Usage: node dist/scripts/bench-rtt.js [runs per implementation, default 2]
//   WGTS_BENCH_WIREGUARD_GO=/path/to/wireguard-go   a second (e.g. current upstream) wireguard-go
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { trySh } from '../src/io/netns.js';
import { B4, type End, startPair } from '../test/helpers/pair.js';
import { goVersion, pingRtt } from '../test/helpers/wg.js';
import { SEGMENTS, cutPings, medians, parsePerfScript } from './rtt/timeline.js';

const runs = Math.min(5, Math.max(1, Number(process.argv[2] ?? 2)));
const currentGo = process.env.WGTS_BENCH_WIREGUARD_GO?.trim() || undefined;
const EVENTS = 'raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_switch,sched:sched_wakeup';

if (process.arch !== 'x64') {
  console.log(`bench rtt: skipped on ${process.arch} (the timeline reads x86-64 syscall numbers)`);
  process.exit(0);
}
if (trySh('perf', ['--version']).status !== 0) throw new Error('bench rtt needs perf (Debian package linux-perf)');

interface Side extends End { label: string }
const sides: Side[] = [
  { impl: 'wireguard-go', label: `wg-go ${goVersion('wireguard-go')} (Debian)` },
  ...(currentGo ? [{ impl: 'wireguard-go' as const, label: `wg-go ${goVersion(currentGo)}`, binary: currentGo }] : []),
  { impl: 'wgts', label: 'wgts' },
];

const tids = (pid: number): Set<number> => new Set(readdirSync(`/proc/${pid}/task`).map(Number));

/** One traced run of `side` against itself: the medians per segment, the pings cut, ping's own average. */
async function traced(side: Side, dir: string): Promise<{ med: number[]; pings: number; pingAvgMs: number }> {
  const p = await startPair(side, side, { logLevel: 'error' });
  try {
    pingRtt(p.nsA, B4, 3); // handshake
    p.nsA.exec('ping', ['-c', '2000', '-i', '0.001', '-q', B4], { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 2000));
    const data = join(dir, 'perf.data');
    const perf = spawn('perf', ['record', '-q', '-a', '-e', EVENTS, '-o', data, '--', 'sleep', '1.6'], { stdio: 'ignore' });
    const done = new Promise<number>((r) => perf.on('exit', (code) => r(code ?? -1)));
    await new Promise((r) => setTimeout(r, 200));
    const pingAvgMs = pingRtt(p.nsA, B4, 20);
    if (await done !== 0) throw new Error('perf record failed');
    // Tens of MB of text: into a file, not a pipe buffer.
    const text = join(dir, 'perf.txt');
    const fd = openSync(text, 'w');
    const r = spawnSync('perf', ['script', '-i', data], { stdio: ['ignore', fd, 'ignore'], timeout: 120_000 });
    closeSync(fd);
    if (r.status !== 0) throw new Error(`perf script failed (${r.status ?? r.signal})`);
    const events = parsePerfScript(readFileSync(text, 'utf8'));
    const cuts = cutPings(events, tids(p.a.proc.pid ?? 0), tids(p.b.proc.pid ?? 0));
    return { med: medians(cuts), pings: cuts.length, pingAvgMs };
  } finally {
    await p.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'wgts-bench-rtt-'));
const table = new Map<string, { med: number[]; pings: number; pingAvgMs: number }[]>();
try {
  // Alternate the implementations, so a change of the machine's load falls on all of them.
  for (let r = 0; r < runs; r++) {
    for (const s of sides) {
      const list = table.get(s.label) ?? [];
      list.push(await traced(s, dir));
      table.set(s.label, list);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const range = (v: number[]): string => {
  const ok = v.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (ok.length === 0) return '-';
  const lo = (ok[0] as number).toFixed(0), hi = (ok[ok.length - 1] as number).toFixed(0);
  return lo === hi ? lo : `${lo}–${hi}`;
};
const labels = [...table.keys()];
console.log(`20 pings at 50 ms after 2 000 fast pings and 2 s idle, traced (perf: ${EVENTS});`);
console.log(`µs per segment, the range of the per-run medians over ${runs} run(s):\n`);
console.log(`| segment of one ping | ${labels.join(' | ')} |`);
console.log(`|---|${labels.map(() => '---').join('|')}|`);
SEGMENTS.forEach((name, s) => console.log(`| ${name} | ${labels.map((l) => range((table.get(l) ?? []).map((x) => x.med[s] as number))).join(' | ')} |`));
console.log(`| pings cut whole (of 20 per run) | ${labels.map((l) => (table.get(l) ?? []).map((x) => x.pings).join(', ')).join(' | ')} |`);
console.log(`| ping's own average while traced, ms | ${labels.map((l) => (table.get(l) ?? []).map((x) => x.pingAvgMs.toFixed(3)).join(', ')).join(' | ')} |`);
