// The handshake-flood run (`npm run bench -- flood`, and test/scripts/flood/run.test.ts with fewer
// rounds): a target T (`wgts up`) in its own namespace with two peers, an established one P
// (wireguard-go) that pings T and pushes iperf3 through the tunnel the whole time, and a
// legitimate newcomer L; and an attacker X on its own link of T sending initiations with a valid
// mac1 from 64 source ports (attacker.ts). First a drain phase: the flood alone, measuring how
// many datagrams T takes per second and per CPU-second and how many the kernel drops for it
// (socket buffer full, /proc/PID/net/snmp RcvbufErrors); then backlog drains: T under load is
// stopped (SIGSTOP) while the attacker fills its socket, resumed, and timed until its receive
// queue (/proc/PID/net/udp6) is empty - the drain rate of one thread with the socket never empty,
// which sharing two cores with the attacker hides. Then `rounds` rounds, each: the flood
// starts, after FLOOD_LEAD_MS a fresh L daemon (wireguard-go or wgts-go, alternating through
// `peers`) is configured and pings T, and the time until its first handshake completes (`wg show
// latest-handshakes` seen non-zero, polled every 100 ms, at most HANDSHAKE_LIMIT_MS) is
// measured; the flood lasts at least ROUND_MIN_MS; P's pings answered and P's throughput during
// the round are measured too. Every namespace and process is removed at the end, also on failure.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStatus } from '../../src/gateway/status.js';
import { Netns, sleep, waitFor } from '../../src/io/netns.js';
import { cpuSeconds, type IperfStream, iperfStream, jsonChild, median, udpCounters } from '../../test/helpers/measure.js';
import { startUp, type UpProc } from '../../test/helpers/up.js';
import { type Daemon, genkey, type Impl, ping, repoRoot, secretFile, startDaemon, uniqueIfname, wg } from '../../test/helpers/wg.js';
import type { AttackStats, FloodSpec } from './attacker.js';

export interface FloodOptions {
  /** Rounds with a fresh legitimate peer each. */
  rounds: number;
  /** The legitimate newcomer's implementation, cycled through per round. */
  peers: Impl[];
  /** Seconds of the flood-only drain phase (0: none). */
  drainSeconds: number;
  /** Attacker datagrams per second (0: as fast as it can). */
  rate: number;
  /** Initiations queued in T's socket for each backlog drain, and how many drains (absent: none). */
  backlog?: { count: number; runs: number };
  /** The established peer's iperf3 bitrate (-b), or full speed. */
  bitrate?: string;
  log: (line: string) => void;
}

/** Counters of T over a phase. */
export interface TargetDelta {
  /** Datagrams T's socket received per second / dropped by the kernel (receive buffer full). */
  received: number;
  kernelDrops: number;
  /** CPU T used, in cores; datagrams received per CPU-second. */
  cores: number;
  /** Share of the time T's main thread was runnable but waited for a CPU (other processes had it). */
  waiting: number;
  perCoreSecond: number;
  /** Gate and handshake-queue counters that moved (status file `handshakes`). */
  handshakes: Record<string, number>;
}

export interface FloodRound {
  peer: Impl;
  /** ms from L's first packet to its completed handshake; null when none within HANDSHAKE_LIMIT_MS. */
  handshakeMs: number | null;
  attack: AttackStats;
  target: TargetDelta;
  /** P's pings to T during the round. */
  pings: { sent: number; answered: number };
  /** P's iperf3 during the round (Mbit/s per second): median and lowest. */
  throughput: { median: number; min: number; samples: number };
}

/** The backlog drain: T stopped while the attacker fills its socket, then timed emptying it (the median of the runs). */
export interface BacklogDrain {
  /** Datagrams waiting in T's socket when it was resumed (sent minus kernel drops). */
  backlog: number;
  kernelDrops: number;
  /** ms from SIGCONT until the socket's receive queue was empty; datagrams per second of that. */
  ms: number;
  perSecond: number;
  /** CPU T's main thread used meanwhile, in cores (schedstat): near 1 when nothing else took the CPU. */
  cores: number;
}

export interface FloodReport {
  drain: { attack: AttackStats; target: TargetDelta } | null;
  backlog: BacklogDrain | null;
  rounds: FloodRound[];
  /** P's iperf3 before any flood (median Mbit/s). */
  throughputBefore: number;
  alive: boolean;
}

/** The requirement: a legitimate newcomer completes on its first retry after the cookie reply. */
export const HANDSHAKE_GOAL_MS = 6000;
const HANDSHAKE_LIMIT_MS = 16_000;
const FLOOD_LEAD_MS = 2000;
const ROUND_MIN_MS = 9000;
const ATTACK_PORTS = 64;
const ATTACKER_NICE = 10;
const T_LINK = { p: '10.95.1.1', l: '10.95.2.1', x: '10.95.3.1' };
const TUN = { t: '10.96.0.1', p: '10.96.0.2', l: '10.96.0.3' };
const PORT = 51820;
const attackerScript = join(repoRoot, 'dist', 'scripts', 'flood', 'attacker.js');

/** A running attacker: stop() ends it (SIGTERM), done() waits for it to end by itself; both resolve with its figures. */
interface Attack { stop(): Promise<AttackStats>; done(): Promise<AttackStats> }

function startAttack(ns: Netns, dir: string, spec: FloodSpec): Attack {
  const file = join(dir, 'flood.json');
  writeFileSync(file, JSON.stringify(spec));
  // At nice 10: on this one host the attacker's CPU would otherwise be taken from the target (and
  // the peers), which an attacker elsewhere cannot do; it still floods at full speed whenever a
  // core is free, and the rate it reached is printed.
  const child = ns.spawn('nice', ['-n', String(ATTACKER_NICE), process.execPath, attackerScript, file]);
  const done = jsonChild<AttackStats>(child, 'the attacker');
  return {
    stop: async () => {
      child.kill('SIGTERM');
      return done.result(10_000);
    },
    done: () => done.result((spec.seconds + 10) * 1000),
  };
}

/** Bytes waiting in the receive queue of T's UDP socket on `port` (/proc/PID/net/udp6: its namespace's view). */
function receiveQueue(pid: number, port: number): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync(`/proc/${pid}/net/udp6`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(hexPort) === true) return parseInt((f[4] ?? '0:0').split(':')[1] ?? '0', 16);
  }
  return NaN;
}

/**
 * The drain rate on one core, without the noise of sharing the CPU with the attacker: a flood
 * puts T under load, then T is stopped (SIGSTOP) while the attacker queues `count` more
 * initiations in T's socket, and resumed; the time until the queue is empty gives the rate.
 */
async function backlogDrain(nsX: Netns, dir: string, spec: FloodSpec, pid: number, count: number): Promise<BacklogDrain> {
  await startAttack(nsX, dir, { ...spec, seconds: 1.5 }).stop().catch(() => undefined);
  const warm = startAttack(nsX, dir, { ...spec, seconds: 1.5 });
  await sleep(1000);
  const drops0 = udpCounters(pid).RcvbufErrors ?? 0;
  process.kill(pid, 'SIGSTOP');
  let resumed = false;
  try {
    await warm.stop();
    const fill = await startAttack(nsX, dir, { ...spec, seconds: 20, count }).done();
    const kernelDrops = (udpCounters(pid).RcvbufErrors ?? 0) - drops0;
    const cpu0 = schedstat(pid).run;
    const t0 = performance.now();
    process.kill(pid, 'SIGCONT');
    resumed = true;
    while (receiveQueue(pid, PORT) > 0 && performance.now() - t0 < 10_000) await sleep(1);
    const ms = performance.now() - t0;
    const backlog = fill.sent - kernelDrops;
    return { backlog, kernelDrops, ms, perSecond: backlog / (ms / 1000), cores: (schedstat(pid).run - cpu0) / (ms / 1000) };
  } finally {
    if (!resumed) process.kill(pid, 'SIGCONT');
  }
}

/** T's counters at one moment (status file: rewritten every second). */
interface Snapshot { at: number; rx: number; kernelDrops: number; cpu: number; waitS: number; handshakes: Record<string, number> }

/** Seconds the main thread of `pid` has spent on a CPU, and runnable but waiting for one (/proc/PID/schedstat, ns). */
function schedstat(pid: number): { run: number; wait: number } {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ');
    return { run: Number(run) / 1e9, wait: Number(wait) / 1e9 };
  } catch {
    return { run: NaN, wait: NaN };
  }
}

function snapshot(ifname: string, pid: number): Snapshot {
  const s = readStatus(ifname);
  return {
    at: s?.updated ?? Date.now(),
    rx: s?.udp?.rxDatagrams ?? NaN,
    kernelDrops: udpCounters(pid).RcvbufErrors ?? NaN,
    cpu: cpuSeconds(pid),
    waitS: schedstat(pid).wait,
    handshakes: { ...(s?.handshakes ?? {}) },
  };
}

/** The status file is rewritten every second: wait for one written after now. */
async function freshSnapshot(ifname: string, pid: number): Promise<Snapshot> {
  const t = Date.now();
  await waitFor(() => (readStatus(ifname)?.updated ?? 0) > t, 3000, 50, 'a fresh status file');
  return snapshot(ifname, pid);
}

function delta(a: Snapshot, b: Snapshot): TargetDelta {
  const seconds = (b.at - a.at) / 1000;
  const cpu = b.cpu - a.cpu;
  const handshakes: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.handshakes)) {
    if (k === 'underLoad') continue;
    if (v !== (a.handshakes[k] ?? 0)) handshakes[k] = Math.round((v - (a.handshakes[k] ?? 0)) * 10) / 10;
  }
  return {
    received: (b.rx - a.rx) / seconds,
    kernelDrops: b.kernelDrops - a.kernelDrops,
    cores: cpu / seconds,
    waiting: (b.waitS - a.waitS) / seconds,
    perCoreSecond: (b.rx - a.rx) / cpu,
    handshakes,
  };
}

/** `ping` from `ns` every 100 ms for `seconds`; resolves with what was sent and answered. */
function pingFor(ns: Netns, addr: string, seconds: number): Promise<{ sent: number; answered: number }> {
  return new Promise((resolve) => {
    const p = ns.spawn('ping', ['-4', '-i', '0.1', '-W', '1', '-w', String(seconds), addr]);
    let out = '';
    p.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', () => {
      const m = out.match(/(\d+) packets transmitted, (\d+) received/);
      resolve({ sent: Number(m?.[1] ?? 0), answered: Number(m?.[2] ?? 0) });
    });
  });
}

/** Starts a fresh legitimate peer L of `impl` and measures its first handshake with T under the flood. */
async function newcomer(impl: Impl, ns: Netns, key: { priv: string }, tPub: string): Promise<{ ms: number | null; daemon: Daemon }> {
  const d = await startDaemon(impl, ns, uniqueIfname('fl'), { LOG_LEVEL: 'error' });
  wg(d, ['set', d.ifname, 'private-key', secretFile(key.priv), 'peer', tPub, 'allowed-ips', `${TUN.t}/32`, 'endpoint', `${T_LINK.l}:${PORT}`]);
  ns.exec('ip', ['addr', 'add', `${TUN.l}/24`, 'dev', d.ifname]);
  ns.exec('ip', ['link', 'set', d.ifname, 'mtu', '1420', 'up']);
  const t0 = performance.now();
  const pinger = ns.spawn('ping', ['-4', '-i', '0.5', '-W', '1', '-w', String(HANDSHAKE_LIMIT_MS / 1000 + 1), TUN.t]);
  try {
    while (performance.now() - t0 < HANDSHAKE_LIMIT_MS) {
      const hs = Number(wg(d, ['show', d.ifname, 'latest-handshakes']).trim().split('\t')[1] ?? 0);
      if (hs > 0) return { ms: performance.now() - t0, daemon: d };
      await sleep(100);
    }
    return { ms: null, daemon: d };
  } finally {
    pinger.kill('SIGKILL');
  }
}

export async function runFlood(o: FloodOptions): Promise<FloodReport> {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-flood-'));
  const nsT = new Netns('lt');
  const nsP = new Netns('lp');
  const nsL = new Netns('ll');
  const nsX = new Netns('lx');
  const procs: UpProc[] = [];
  let peer: Daemon | null = null;
  let iperf: IperfStream | null = null;
  let attack: Attack | null = null;
  try {
    nsT.link(nsP, { ifname: 'vtp', addrs: [`${T_LINK.p}/24`] }, { ifname: 'vpt', addrs: ['10.95.1.2/24'] });
    nsT.link(nsL, { ifname: 'vtl', addrs: [`${T_LINK.l}/24`] }, { ifname: 'vlt', addrs: ['10.95.2.2/24'] });
    nsT.link(nsX, { ifname: 'vtx', addrs: [`${T_LINK.x}/24`] }, { ifname: 'vxt', addrs: ['10.95.3.2/24'] });
    const kt = genkey(), kp = genkey(), kl = genkey();
    const ifname = uniqueIfname('lt');
    const file = join(dir, `${ifname}.conf`);
    writeFileSync(file, `[Interface]\nPrivateKey = ${kt.priv}\nAddress = ${TUN.t}/24\nListenPort = ${PORT}\n\n` +
      `[Peer]\nPublicKey = ${kp.pub}\nAllowedIPs = ${TUN.p}/32\n\n[Peer]\nPublicKey = ${kl.pub}\nAllowedIPs = ${TUN.l}/32\n`, { mode: 0o600 });
    const up = await startUp(nsT, file, ifname, procs);
    const pid = readStatus(ifname)?.pid;
    if (pid === undefined) throw new Error('wgts up wrote no status file');

    peer = await startDaemon('wireguard-go', nsP, uniqueIfname('lp'), { LOG_LEVEL: 'error' });
    wg(peer, ['set', peer.ifname, 'private-key', secretFile(kp.priv), 'peer', kt.pub, 'allowed-ips', `${TUN.t}/32`, 'endpoint', `${T_LINK.p}:${PORT}`, 'persistent-keepalive', '25']);
    nsP.exec('ip', ['addr', 'add', `${TUN.p}/24`, 'dev', peer.ifname]);
    nsP.exec('ip', ['link', 'set', peer.ifname, 'mtu', '1420', 'up']);
    if (!ping(nsP, TUN.t, { count: 3, deadline: 10 })) throw new Error('the established peer cannot reach the target');
    const spec = (seconds: number): FloodSpec => ({
      host: T_LINK.x, port: PORT, targetPublicKey: Buffer.from(kt.pub, 'base64').toString('base64'), ports: ATTACK_PORTS, rate: o.rate, seconds,
    });

    let drain: FloodReport['drain'] = null;
    if (o.drainSeconds > 0) {
      await sleep(1200);
      attack = startAttack(nsX, dir, spec(o.drainSeconds + 10));
      await sleep(1000); // past the first second: the state the flood settles in
      const a = await freshSnapshot(ifname, pid);
      await sleep(o.drainSeconds * 1000);
      const b = await freshSnapshot(ifname, pid);
      const stats = await attack.stop();
      attack = null;
      drain = { attack: stats, target: delta(a, b) };
      o.log(`  drain: attacker ${rate(stats.sent, stats.elapsedMs)}; ${formatTarget(drain.target)}`);
      await sleep(2000);
    }
    let backlog: BacklogDrain | null = null;
    if (o.backlog !== undefined && o.backlog.runs > 0) {
      const runs: BacklogDrain[] = [];
      for (let i = 0; i < o.backlog.runs; i++) {
        const b = await backlogDrain(nsX, dir, spec(5), pid, o.backlog.count);
        o.log(`  ${formatBacklog(b)}`);
        runs.push(b);
      }
      backlog = runs.sort((x, y) => x.perSecond - y.perSecond)[runs.length >> 1] ?? null;
      await sleep(2000);
    }

    iperf = await iperfStream(nsT, nsP, TUN.t, 3600, 5201, o.bitrate);
    await sleep(4000);
    const stream = iperf;
    const before = median(stream.between(Date.now() - stream.startedAt - 3000, Date.now() - stream.startedAt));
    const rounds: FloodRound[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const impl = o.peers[r % o.peers.length] as Impl;
      const a = await freshSnapshot(ifname, pid);
      const from = Date.now() - stream.startedAt;
      attack = startAttack(nsX, dir, spec(ROUND_MIN_MS / 1000 + HANDSHAKE_LIMIT_MS / 1000 + 10));
      const pings = pingFor(nsP, TUN.t, ROUND_MIN_MS / 1000);
      await sleep(FLOOD_LEAD_MS);
      const t0 = performance.now();
      const l = await newcomer(impl, nsL, kl, kt.pub);
      const left = ROUND_MIN_MS - FLOOD_LEAD_MS - (performance.now() - t0);
      if (left > 0) await sleep(left);
      const b = snapshot(ifname, pid);
      const stats = await attack.stop();
      attack = null;
      const to = Date.now() - stream.startedAt;
      await l.daemon.stop();
      const during = stream.between(from + 1000, to);
      const round: FloodRound = {
        peer: impl, handshakeMs: l.ms, attack: stats, target: delta(a, b), pings: await pings,
        throughput: { median: median(during), min: during.length ? Math.min(...during) : NaN, samples: during.length },
      };
      rounds.push(round);
      o.log(`  ${formatRound(r + 1, round)}`);
      await sleep(2500); // the load state ends 1 s after the flood
    }
    return { drain, backlog, rounds, throughputBefore: before, alive: up.exit() === null };
  } finally {
    await attack?.stop().catch(() => undefined);
    (iperf as IperfStream | null)?.stop();
    for (const p of procs) p.kill('SIGTERM');
    await waitFor(() => procs.every((p) => p.exit() !== null), 10_000, 50, 'wgts up exit').catch(() => procs.forEach((p) => p.kill('SIGKILL')));
    await peer?.stop().catch(() => undefined);
    nsX.delete();
    nsL.delete();
    nsP.delete();
    nsT.delete();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rate = (n: number, ms: number): string => `${Math.round(n / (ms / 1000)).toLocaleString('en')}/s`;

function formatTarget(t: TargetDelta): string {
  const hs = Object.entries(t.handshakes).map(([k, v]) => `${k} ${v.toLocaleString('en')}`).join(', ');
  return `target received ${Math.round(t.received).toLocaleString('en')}/s, kernel dropped ${t.kernelDrops.toLocaleString('en')} (receive buffer full), ` +
    `${t.cores.toFixed(2)} cores (waited for a CPU ${(100 * t.waiting).toFixed(0)} % of the time), ${Math.round(t.perCoreSecond).toLocaleString('en')} datagrams per CPU-second; ${hs}`;
}

export function formatBacklog(b: BacklogDrain): string {
  return `backlog drain: ${b.backlog.toLocaleString('en')} valid-mac1 initiations waiting in the socket (kernel dropped ${b.kernelDrops.toLocaleString('en')}) ` +
    `drained in ${b.ms.toFixed(0)} ms: ${Math.round(b.perSecond).toLocaleString('en')}/s (${b.cores.toFixed(2)} cores: ${Math.round(b.perSecond / b.cores).toLocaleString('en')} per CPU-second)`;
}

export function formatRound(n: number, r: FloodRound): string {
  const hs = r.handshakeMs === null ? `NO handshake within ${HANDSHAKE_LIMIT_MS / 1000} s` : `handshake in ${(r.handshakeMs / 1000).toFixed(2)} s`;
  return `round ${n} (${r.peer}): ${hs}; flood ${rate(r.attack.sent, r.attack.elapsedMs)} (${r.attack.replies.toLocaleString('en')} cookie replies reached the attacker); ` +
    `established peer: ${r.pings.answered}/${r.pings.sent} pings answered, iperf3 median ${r.throughput.median.toFixed(0)} (lowest ${r.throughput.min.toFixed(0)}) Mbit/s; ` +
    formatTarget(r.target);
}

/** The verdict lines: problems with the report (empty when the requirement holds). */
export function floodProblems(r: FloodReport): string[] {
  const out: string[] = [];
  if (!r.alive) out.push('wgts up exited');
  r.rounds.forEach((x, i) => {
    if (x.handshakeMs === null || x.handshakeMs >= HANDSHAKE_GOAL_MS) out.push(`round ${i + 1} (${x.peer}): handshake ${x.handshakeMs === null ? 'never' : `after ${(x.handshakeMs / 1000).toFixed(2)} s`} (goal < ${HANDSHAKE_GOAL_MS / 1000} s)`);
    if (x.pings.answered === 0) out.push(`round ${i + 1}: no ping of the established peer answered during the flood`);
    if (!(x.throughput.min > 0)) out.push(`round ${i + 1}: a second without the established peer's traffic during the flood`);
  });
  return out;
}
