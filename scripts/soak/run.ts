// Long runs (`npm run soak`, and test/scripts/soak/run.test.ts for about two minutes): full-speed
// iperf3 through a wgts interface (wgts-go, configured by `wg`) for a given time, against Debian's
// wireguard-go and against another wgts, each pair in its own two namespaces joined by a veth.
// Sampled every second: the throughput (iperf3's interval reports), the latest handshake on both
// ends (a change after the first is a rekey: REKEY_AFTER_TIME is 120 s), the resident memory of
// every wgts process. Reported per minute; judged by soakProblems(). Bounded in time; everything
// is removed at the end, also on failure.
import { Netns, sleep } from '../../src/io/netns.js';
import { type IperfStream, iperfStream, median, memoryKiB } from '../../test/helpers/measure.js';
import { type Daemon, type Impl, genkey, ping, secretFile, startDaemon, uniqueIfname, wg } from '../../test/helpers/wg.js';

export interface SoakOptions {
  seconds: number;
  /** Implementations of the far end; each pair is wgts <-> that. */
  peers: Impl[];
  /** Run the pairs at the same time (sharing the CPU) rather than one after another. */
  parallel: boolean;
  log: (line: string) => void;
}

/** One minute (the last one may be shorter) of one pair. */
export interface SoakMinute {
  minute: number;
  /** Mean of the per-second iperf3 reports in that minute (Mbit/s). */
  mbit: number;
  /** Lowest per-second report in that minute (Mbit/s). */
  minMbit: number;
  /** Rekeys (new handshakes after the first) seen in that minute, on either end. */
  rekeys: number;
  /**
   * Resident memory of each wgts process at the end of the minute (KiB), by label: the median of
   * its once-a-second samples over the minute's last 15 s (one sample swings with each GC).
   */
  rssKiB: Record<string, number>;
}

export interface SoakResult {
  pair: string;
  seconds: number;
  minutes: SoakMinute[];
  rekeys: number;
  /** Seconds after the start at which each rekey was seen. */
  rekeyTimes: number[];
  /** iperf3 problems, processes that exited, error lines the daemons logged. */
  errors: string[];
}

interface Side { label: string; daemon: Daemon; pub: string }

/** wgts `a` <-> `implB` `b` in two fresh namespaces; pair `i` gets its own addresses and port. */
async function pairUp(i: number, implB: Impl): Promise<{ nsA: Netns; nsB: Netns; a: Side; b: Side; tunB: string }> {
  const nsA = new Netns(`sa${i}`);
  const nsB = new Netns(`sb${i}`);
  nsA.link(nsB, { ifname: 'va', addrs: [`10.95.${i}.1/24`] }, { ifname: 'vb', addrs: [`10.95.${i}.2/24`] });
  const a = await startDaemon('wgts', nsA, uniqueIfname('sa'), { LOG_LEVEL: 'error' });
  const b = await startDaemon(implB, nsB, uniqueIfname('sb'), { LOG_LEVEL: 'error' });
  const ka = genkey(), kb = genkey();
  const tunA = `10.96.${i}.1`, tunB = `10.96.${i}.2`;
  wg(a, ['set', a.ifname, 'private-key', secretFile(ka.priv), 'listen-port', '51820', 'peer', kb.pub, 'allowed-ips', `${tunB}/32`, 'endpoint', `10.95.${i}.2:51821`]);
  wg(b, ['set', b.ifname, 'private-key', secretFile(kb.priv), 'listen-port', '51821', 'peer', ka.pub, 'allowed-ips', `${tunA}/32`, 'endpoint', `10.95.${i}.1:51820`]);
  nsA.exec('ip', ['addr', 'add', `${tunA}/24`, 'dev', a.ifname]);
  nsB.exec('ip', ['addr', 'add', `${tunB}/24`, 'dev', b.ifname]);
  nsA.exec('ip', ['link', 'set', a.ifname, 'mtu', '1420', 'up']);
  nsB.exec('ip', ['link', 'set', b.ifname, 'mtu', '1420', 'up']);
  return { nsA, nsB, a: { label: 'wgts', daemon: a, pub: kb.pub }, b: { label: implB === 'wgts' ? 'wgts (far end)' : implB, daemon: b, pub: ka.pub }, tunB };
}

/** Latest handshake (unix s) `side` has with its one peer; 0 = none, -1 = unreadable. */
function latestHandshake(side: Side): number {
  const r = side.daemon.ns.tryExec('wg', ['show', side.daemon.ifname, 'latest-handshakes'], { timeoutMs: 5000 });
  const m = r.stdout.match(/\t(\d+)\s*$/m);
  return r.status === 0 && m ? Number(m[1]) : -1;
}

const alive = (d: Daemon): boolean => d.proc.exitCode === null && d.proc.signalCode === null;
/** What a daemon logged at LOG_LEVEL=error, minus wireguard-go's "use the kernel module" banner box. */
const errorLines = (d: Daemon): string[] => d.log().split('\n').filter((l) => l.trim() !== '' && !/^[┌│└]/.test(l));

async function soakPair(i: number, implB: Impl, seconds: number, log: (l: string) => void): Promise<SoakResult> {
  const pair = `wgts <-> ${implB}`;
  const p = await pairUp(i, implB);
  let iperf: IperfStream | null = null;
  try {
    if (!ping(p.nsA, p.tunB, { count: 3, deadline: 10 })) throw new Error(`${pair}: no handshake`);
    const sides = [p.a, p.b];
    const wgtsSides = sides.filter((s) => s.daemon.impl === 'wgts');
    const lastSeen = sides.map((s) => latestHandshake(s));
    iperf = await iperfStream(p.nsB, p.nsA, p.tunB, seconds + 5, 5301 + i);
    const start = Date.now();
    const rekeyTimes: number[] = [];
    const errors: string[] = [];
    const minutes: SoakMinute[] = [];
    let minuteRekeys = 0;
    const rssSamples = new Map<string, { at: number; kib: number }[]>(wgtsSides.map((s) => [s.label, []]));
    let nextMinute = start + 60_000;
    const stream: IperfStream = iperf;
    const rel = (t: number): number => t - stream.startedAt;
    const closeMinute = (at: number): void => {
      // An interval is reported as it ends: each sample belongs to the minute it ended in.
      const samples = stream.between(rel(start + minutes.length * 60_000) + 500, rel(at) + 500);
      const rssKiB: Record<string, number> = {};
      for (const [label, list] of rssSamples) rssKiB[label] = median(list.filter((x) => x.at >= at - 15_000).map((x) => x.kib));
      const m: SoakMinute = { minute: minutes.length + 1, mbit: samples.length ? samples.reduce((x, y) => x + y, 0) / samples.length : NaN, minMbit: samples.length ? Math.min(...samples) : NaN, rekeys: minuteRekeys, rssKiB };
      minutes.push(m);
      minuteRekeys = 0;
      log(`  ${pair}: minute ${m.minute}: ${m.mbit.toFixed(0)} Mbit/s (lowest second ${m.minMbit.toFixed(0)}), rekeys ${m.rekeys}, RSS ${Object.entries(rssKiB).map(([k, v]) => `${k} ${(v / 1024).toFixed(1)} MiB`).join(', ')}`);
    };
    while (Date.now() - start < seconds * 1000) {
      await sleep(1000);
      sides.forEach((s, k) => {
        const t = latestHandshake(s);
        if (t > 0 && lastSeen[k] !== undefined && t !== lastSeen[k] && (lastSeen[k] as number) > 0) {
          // Both ends see one rekey: count it on the wgts end (A) only.
          if (k === 0) { rekeyTimes.push(Math.round((Date.now() - start) / 1000)); minuteRekeys++; }
        }
        if (t > 0) lastSeen[k] = t;
      });
      for (const s of wgtsSides) rssSamples.get(s.label)?.push({ at: Date.now(), kib: memoryKiB(s.daemon.proc.pid as number)?.rss ?? NaN });
      for (const s of sides) if (!alive(s.daemon)) errors.push(`${s.label} exited`);
      if (errors.length > 0) break;
      if (Date.now() >= nextMinute) { closeMinute(Date.now()); nextMinute += 60_000; }
    }
    if (minutes.length * 60 < seconds && errors.length === 0) closeMinute(Date.now());
    errors.push(...stream.problems.map((l) => `iperf3: ${l}`));
    for (const s of sides) errors.push(...errorLines(s.daemon).map((l) => `${s.label} logged: ${l}`));
    return { pair, seconds, minutes, rekeys: rekeyTimes.length, rekeyTimes, errors };
  } finally {
    (iperf as IperfStream | null)?.stop();
    await p.a.daemon.stop();
    await p.b.daemon.stop();
    p.nsA.delete();
    p.nsB.delete();
  }
}

/** Runs every pair (at once or one after another) for `seconds`. */
export async function runSoak(o: SoakOptions): Promise<SoakResult[]> {
  if (o.parallel) return Promise.all(o.peers.map((impl, i) => soakPair(i, impl, o.seconds, o.log)));
  const out: SoakResult[] = [];
  for (const [i, impl] of o.peers.entries()) out.push(await soakPair(i, impl, o.seconds, o.log));
  return out;
}

/** RSS at the end of the first minute may grow by at most this fraction until the end. */
export const RSS_GROWTH_LIMIT = 0.05;
/** A minute below this fraction of the pair's median minute is a throughput collapse. */
export const COLLAPSE_FRACTION = 0.5;

/** The properties a soak run broke, as sentences; empty when it passed. */
export function soakProblems(r: SoakResult): string[] {
  const out = r.errors.map((e) => `${r.pair}: ${e}`);
  const full = r.minutes.filter((_m, i) => i < r.minutes.length - 1 || r.seconds - 60 * (r.minutes.length - 1) >= 30);
  const med = median(full.map((m) => m.mbit));
  for (const m of full) {
    if (!(m.mbit >= COLLAPSE_FRACTION * med)) out.push(`${r.pair}: minute ${m.minute} at ${m.mbit.toFixed(0)} Mbit/s, under ${COLLAPSE_FRACTION * 100} % of the median ${med.toFixed(0)}`);
    if (!(m.minMbit > 0)) out.push(`${r.pair}: a second without traffic in minute ${m.minute}`);
  }
  const first = r.minutes[0];
  const last = r.minutes.at(-1);
  if (first && last && r.minutes.length >= 2) {
    for (const [label, base] of Object.entries(first.rssKiB)) {
      const end = last.rssKiB[label] ?? NaN;
      if (!(end <= base * (1 + RSS_GROWTH_LIMIT))) out.push(`${r.pair}: ${label} RSS grew from ${(base / 1024).toFixed(1)} to ${(end / 1024).toFixed(1)} MiB after the first minute (limit ${RSS_GROWTH_LIMIT * 100} %)`);
    }
  }
  const expected = Math.floor((r.seconds - 5) / 125);
  if (r.rekeys < expected) out.push(`${r.pair}: ${r.rekeys} rekeys in ${r.seconds} s, expected at least ${expected} (REKEY_AFTER_TIME 120 s)`);
  return out;
}

/** The report lines of one pair. */
export function formatSoak(r: SoakResult): string[] {
  const lines = [`${r.pair}, ${(r.seconds / 60).toFixed(1)} min: ${r.rekeys} rekeys (at ${r.rekeyTimes.map((t) => `${t} s`).join(', ') || '-'})`];
  lines.push('  | minute | Mbit/s (mean) | lowest second | rekeys | RSS |');
  lines.push('  |---|---|---|---|---|');
  for (const m of r.minutes) {
    lines.push(`  | ${m.minute} | ${m.mbit.toFixed(0)} | ${m.minMbit.toFixed(0)} | ${m.rekeys} | ${Object.entries(m.rssKiB).map(([k, v]) => `${k} ${(v / 1024).toFixed(1)} MiB`).join(', ')} |`);
  }
  return lines;
}
