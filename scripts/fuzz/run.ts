// One fuzz run (`npm run fuzz`, and test/scripts/fuzz.test.ts with a smaller count): a target
// interface T (wgts up, or Debian's wireguard-go for comparison) in its own namespace, a
// legitimate peer P (wireguard-go) pushing iperf3 through the tunnel, and an attacker X on a
// second link of T. X first gets an on-path view (tcpdump on P's link: live receiver indices,
// valid data messages, P's initiation), then floods T with the corpus of corpus.ts, then replays
// the captured valid data messages at a pace T's socket keeps up with, so that every replay that
// reached T can be accounted for. Measured: what X sent per category, what T received and what
// the kernel dropped for it (socket buffer full), T's drops per reason (status file of wgts up),
// T's resident memory before and after, P's throughput before, during and after, and whether T
// is still alive. Every namespace and process is removed at the end, also on failure.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyFromBase64 } from '../../src/crypto/keys.js';
import { readStatus } from '../../src/gateway/status.js';
import { readU32 } from '../../src/noise/messages.js';
import { Netns, sleep, waitFor } from '../../src/io/netns.js';
import { cpuSeconds, type IperfStream, iperfStream, jsonChild, median, memoryKiB, mib, udpCounters } from '../../test/helpers/measure.js';
import { startUp, type UpProc } from '../../test/helpers/up.js';
import { type Daemon, genkey, ping, repoRoot, secretFile, startDaemon, uniqueIfname, wg } from '../../test/helpers/wg.js';
import type { AttackResult, AttackSpec } from './attacker.js';
import { udpPayloads } from './pcap.js';

export type FuzzTarget = 'wgts' | 'wireguard-go';

export interface FuzzOptions {
  target: FuzzTarget;
  /** Datagrams of the flood (the kernel must take this many from the attacker). */
  count: number;
  /** How often each captured valid data message is replayed in the accounted replay phase. */
  replayRounds: number;
  seed: number;
  /** Time limit of the flood (s). */
  floodSeconds: number;
  log: (line: string) => void;
}

export interface FuzzReport {
  target: FuzzTarget;
  flood: AttackResult;
  replay: AttackResult;
  /** Captured on P's link: valid data messages and live indices the attacker used. */
  captured: { dataMessages: number; liveIndices: number; initiation: boolean };
  /** UDP datagrams T's socket received in the flood (wgts only; null for wireguard-go). */
  received: number | null;
  /** Datagrams the kernel dropped for T in the flood / replay phase (receive buffer full). */
  kernelDrops: { flood: number; replay: number };
  /** Drops per reason during the flood (wgts only), only the reasons that moved. */
  drops: Record<string, number> | null;
  /** Replay phase: rejected as replays / for an unknown or expired session (wgts only). */
  replays: { rejected: number; accepted: number } | null;
  memory: { beforeKiB: number; afterKiB: number; peakKiB: number };
  /** CPU the target used during the flood, in cores (1 = one core busy all the time). */
  targetCpu: number;
  /** Mbit/s of the legitimate peer's iperf3: median before, min, median and mean during the flood, median after. */
  throughput: { before: number; duringMin: number; duringMedian: number; duringMean: number; after: number; samplesDuring: number };
  alive: boolean;
  /** The legitimate peer still reaches T by ping after everything. */
  pingAfter: boolean;
}

const T_LINK = { p: '10.93.1.1', x: '10.93.2.1' };
const TUN_T = '10.94.0.1';
const TUN_P = '10.94.0.2';
const PORT = 51820;
const attackerScript = join(repoRoot, 'dist', 'scripts', 'fuzz', 'attacker.js');

/** The target: its pid, whether it runs, its drop counters (wgts up's status file; null otherwise). */
interface Target {
  pid: number;
  alive(): boolean;
  drops(): Record<string, number> | null;
  received(): number | null;
  stop(): Promise<void>;
}

async function startTarget(kind: FuzzTarget, ns: Netns, dir: string, key: { priv: string }, peerPub: string): Promise<Target> {
  const ifname = uniqueIfname('ft');
  if (kind === 'wgts') {
    const file = join(dir, `${ifname}.conf`);
    writeFileSync(file, `[Interface]\nPrivateKey = ${key.priv}\nAddress = ${TUN_T}/24\nListenPort = ${PORT}\n\n[Peer]\nPublicKey = ${peerPub}\nAllowedIPs = ${TUN_P}/32\n`, { mode: 0o600 });
    const procs: UpProc[] = [];
    const up = await startUp(ns, file, ifname, procs);
    const pid = readStatus(ifname)?.pid;
    if (pid === undefined) throw new Error('wgts up wrote no status file');
    return {
      pid,
      alive: () => up.exit() === null,
      drops: () => readStatus(ifname)?.drops ?? null,
      received: () => readStatus(ifname)?.udp?.rxDatagrams ?? null,
      stop: async () => {
        up.kill('SIGTERM');
        await waitFor(() => up.exit() !== null, 10_000, 50, 'wgts up exit').catch(() => up.kill('SIGKILL'));
      },
    };
  }
  const d: Daemon = await startDaemon('wireguard-go', ns, ifname, { LOG_LEVEL: 'error' });
  wg(d, ['set', ifname, 'private-key', secretFile(key.priv), 'listen-port', String(PORT), 'peer', peerPub, 'allowed-ips', `${TUN_P}/32`]);
  ns.exec('ip', ['addr', 'add', `${TUN_T}/24`, 'dev', ifname]);
  ns.exec('ip', ['link', 'set', ifname, 'mtu', '1420', 'up']);
  return {
    pid: d.proc.pid as number, // `ip netns exec` execs the daemon
    alive: () => d.proc.exitCode === null && d.proc.signalCode === null,
    drops: () => null,
    received: () => null,
    stop: () => d.stop(),
  };
}

/** tcpdump on P's link for T-bound WireGuard datagrams while `traffic` runs; the UDP payloads. */
async function capture(ns: Netns, ifname: string, packets: number, traffic: () => Promise<void>): Promise<Uint8Array[]> {
  const td = ns.spawn('tcpdump', ['-i', ifname, '-U', '-n', '-s', '2048', '-c', String(packets), '-w', '-', `udp and dst port ${PORT}`]);
  const chunks: Buffer[] = [];
  let err = '';
  let done = false;
  td.stdout?.on('data', (d: Buffer) => chunks.push(d));
  td.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  td.on('exit', () => { done = true; });
  try {
    await waitFor(() => err.includes('listening on'), 10_000, 20, `tcpdump listening (${err.trim()})`);
    await traffic();
    await waitFor(() => done, 15_000, 50, 'tcpdump to capture its packets').catch(() => td.kill('SIGINT'));
    await waitFor(() => done, 3000, 50, 'tcpdump exit').catch(() => td.kill('SIGKILL'));
  } finally {
    if (!done) td.kill('SIGKILL');
  }
  return udpPayloads(new Uint8Array(Buffer.concat(chunks)));
}

/** Runs the attacker in `ns` with `spec`; its JSON result. Bounded by the spec's limit plus a margin. */
async function runAttacker(ns: Netns, dir: string, spec: AttackSpec): Promise<AttackResult> {
  const file = join(dir, `attack-${spec.mode}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const child = ns.spawn(process.execPath, [attackerScript, file]);
  return jsonChild<AttackResult>(child, 'the attacker').result((spec.seconds + 30) * 1000);
}

/** Counter deltas b - a of the keys that moved. */
function moved(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v !== (a[k] ?? 0)) out[k] = v - (a[k] ?? 0);
  return out;
}

/** The status file is rewritten every second: wait until a snapshot taken after now is there. */
const settleStatus = (): Promise<void> => sleep(1300);

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-fuzz-'));
  const nsT = new Netns('ft');
  const nsP = new Netns('fp');
  const nsX = new Netns('fx');
  let target: Target | null = null;
  let peer: Daemon | null = null;
  let iperf: IperfStream | null = null;
  try {
    nsT.link(nsP, { ifname: 'vtp', addrs: [`${T_LINK.p}/24`] }, { ifname: 'vpt', addrs: ['10.93.1.2/24'] });
    nsT.link(nsX, { ifname: 'vtx', addrs: [`${T_LINK.x}/24`] }, { ifname: 'vxt', addrs: ['10.93.2.2/24'] });
    const kt = genkey(), kp = genkey();
    target = await startTarget(o.target, nsT, dir, kt, kp.pub);
    peer = await startDaemon('wireguard-go', nsP, uniqueIfname('fp'), { LOG_LEVEL: 'error' });
    wg(peer, ['set', peer.ifname, 'private-key', secretFile(kp.priv), 'listen-port', '51821', 'peer', kt.pub, 'allowed-ips', `${TUN_T}/32`, 'endpoint', `${T_LINK.p}:${PORT}`]);
    nsP.exec('ip', ['addr', 'add', `${TUN_P}/24`, 'dev', peer.ifname]);
    nsP.exec('ip', ['link', 'set', peer.ifname, 'mtu', '1420', 'up']);

    // The on-path view: P's initiation and a few thousand of its data messages.
    const payloads = await capture(nsP, 'vpt', 3000, async () => {
      if (!ping(nsP, TUN_T, { count: 3, deadline: 10 })) throw new Error('the legitimate peer cannot reach the target');
      iperf = await iperfStream(nsT, nsP, TUN_T, 600);
    });
    const initiation = payloads.find((p) => p[0] === 1 && p.length === 148) ?? null;
    const data = payloads.filter((p) => p[0] === 4 && p.length > 32).slice(0, 2000);
    const live = [...new Set(data.map((p) => readU32(p, 4)))];
    o.log(`  captured on the peer's link: ${data.length} valid data messages, ${live.length} live receiver index(es), initiation ${initiation ? 'yes' : 'no'}`);
    if (data.length === 0) throw new Error('no data messages captured');
    const stream = iperf as IperfStream | null;
    if (stream === null) throw new Error('iperf3 did not start');

    await sleep(3000);
    const tBefore = Date.now();
    const memBefore = memoryKiB(target.pid);
    if (memBefore === null) throw new Error('target process gone before the attack');
    await settleStatus();
    const drops0 = target.drops() ?? {};
    const rx0 = target.received();
    const snmp0 = udpCounters(target.pid);
    const base: Omit<AttackSpec, 'mode' | 'count' | 'rounds' | 'rate' | 'seconds'> = {
      host: T_LINK.x, port: PORT, seed: o.seed, targetPublicKey: Buffer.from(keyFromBase64(kt.pub) ?? new Uint8Array(32)).toString('base64'),
      liveIndices: live, captured: data.map((d) => Buffer.from(d).toString('base64')), initiation: initiation ? Buffer.from(initiation).toString('base64') : null,
    };
    const t0 = Date.now();
    const cpu0 = cpuSeconds(target.pid);
    const flood = await runAttacker(nsX, dir, { ...base, mode: 'flood', count: o.count, rounds: 0, rate: 0, seconds: o.floodSeconds });
    const t1 = Date.now();
    const targetCpu = (cpuSeconds(target.pid) - cpu0) / ((t1 - t0) / 1000);
    o.log(`  flood: ${flood.sent} datagrams in ${(flood.elapsedMs / 1000).toFixed(1)} s (${Math.round(flood.sent / (flood.elapsedMs / 1000))}/s)`);
    await settleStatus();
    const snmp1 = udpCounters(target.pid);
    const drops1 = target.drops() ?? {};
    const rx1 = target.received();
    const memAfterFlood = memoryKiB(target.pid);

    // Accounted replays: paced so that T's socket buffer never overflows.
    const replay = await runAttacker(nsX, dir, { ...base, mode: 'replay', count: 0, rounds: o.replayRounds, rate: 20_000, seconds: 120 });
    await settleStatus();
    const snmp2 = udpCounters(target.pid);
    const drops2 = target.drops() ?? {};
    await sleep(3000);
    const t2 = Date.now();
    const memAfter = memoryKiB(target.pid) ?? memAfterFlood;
    const alive = target.alive() && memAfter !== null;
    const pingAfter = ping(nsP, TUN_T, { count: 3, deadline: 5 });
    stream.stop();
    iperf = null;

    const kernelFlood = (snmp1.RcvbufErrors ?? 0) - (snmp0.RcvbufErrors ?? 0);
    const kernelReplay = (snmp2.RcvbufErrors ?? 0) - (snmp1.RcvbufErrors ?? 0);
    let replays: FuzzReport['replays'] = null;
    if (o.target === 'wgts') {
      const d = moved(drops1, drops2);
      const rejected = (d.replay ?? 0) + (d['unknown-index'] ?? 0) + (d['keypair-expired'] ?? 0);
      replays = { rejected, accepted: Math.max(0, replay.sent - kernelReplay - rejected) };
    }
    const report: FuzzReport = {
      target: o.target,
      flood,
      replay,
      captured: { dataMessages: data.length, liveIndices: live.length, initiation: initiation !== null },
      received: rx0 !== null && rx1 !== null ? rx1 - rx0 : null,
      kernelDrops: { flood: kernelFlood, replay: kernelReplay },
      drops: o.target === 'wgts' ? moved(drops0, drops1) : null,
      replays,
      memory: { beforeKiB: memBefore.rss, afterKiB: memAfter?.rss ?? NaN, peakKiB: memAfter?.peak ?? NaN },
      targetCpu,
      throughput: throughputAround(stream, tBefore, t0, t1, t2),
      alive,
      pingAfter,
    };
    return report;
  } finally {
    (iperf as IperfStream | null)?.stop();
    await target?.stop().catch(() => undefined);
    await peer?.stop().catch(() => undefined);
    nsX.delete();
    nsP.delete();
    nsT.delete();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Throughput medians around the flood; the phases are wall-clock ms (Date.now()). */
function throughputAround(stream: IperfStream, beforeAt: number, floodFrom: number, floodTo: number, end: number): FuzzReport['throughput'] {
  const at = (t: number): number => t - stream.startedAt;
  const before = stream.between(at(beforeAt) - 3000, at(beforeAt));
  const during = stream.between(at(floodFrom) + 500, at(floodTo) + 500);
  const after = stream.between(at(end) - 3000, at(end));
  return {
    before: median(before),
    duringMin: during.length ? Math.min(...during) : NaN,
    duringMedian: median(during),
    duringMean: during.length ? during.reduce((a, b) => a + b, 0) / during.length : NaN,
    after: median(after),
    samplesDuring: during.length,
  };
}

/** The report as printed by `npm run fuzz`. */
export function formatReport(r: FuzzReport): string[] {
  const rate = (n: number, ms: number): string => `${Math.round(n / (ms / 1000)).toLocaleString('en')}/s`;
  const lines = [
    `${r.target}: flood of ${r.flood.sent.toLocaleString('en')} datagrams in ${(r.flood.elapsedMs / 1000).toFixed(1)} s (${rate(r.flood.sent, r.flood.elapsedMs)})` +
      `${r.flood.timedOut ? ' [time limit reached]' : ''}; ${r.flood.received} replies came back to the attacker`,
    `  by category: ${Object.entries(r.flood.byCategory).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `  target received ${r.received === null ? '(not reported)' : r.received.toLocaleString('en')}; the kernel dropped ${r.kernelDrops.flood.toLocaleString('en')} (receive buffer full); ` +
      `the target used ${r.targetCpu.toFixed(2)} cores during the flood`,
  ];
  if (r.drops) lines.push(`  drops by reason: ${Object.entries(r.drops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  replays of ${r.captured.dataMessages} captured valid data messages: sent ${r.replay.sent.toLocaleString('en')} (kernel dropped ${r.kernelDrops.replay})` +
    (r.replays ? `, rejected ${r.replays.rejected.toLocaleString('en')}, accepted ${r.replays.accepted}` : ', rejections not reported by this implementation'));
  lines.push(`  memory (RSS): ${mib(r.memory.beforeKiB)} before, ${mib(r.memory.afterKiB)} after (peak ${mib(r.memory.peakKiB)})`);
  const t = r.throughput;
  lines.push(`  legitimate iperf3: ${t.before.toFixed(0)} Mbit/s before, during the flood min ${t.duringMin.toFixed(0)} / median ${t.duringMedian.toFixed(0)} / mean ${t.duringMean.toFixed(0)} Mbit/s (${t.samplesDuring} s), ${t.after.toFixed(0)} Mbit/s after`);
  lines.push(`  alive afterwards: ${r.alive ? 'yes' : 'NO'}; ping from the legitimate peer: ${r.pingAfter ? 'yes' : 'NO'}`);
  return lines;
}
