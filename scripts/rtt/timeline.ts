// Where an idle ping's round trip goes (`npm run bench -- rtt`): reads the text of `perf script`
// for a system-wide recording of the raw_syscalls and sched tracepoints made while `ping` sent
// echo requests through two WireGuard daemons (A on the pinging side, B on the other), and cuts
// each ping at the daemons' syscalls:
//
//   ping sends ─▶ A sends the datagram ─▶ B writes the request to its TUN ─▶ B sends the reply
//     ─▶ A writes the reply to its TUN ─▶ ping has the reply
//
// Syscall numbers are x86-64's (raw_syscalls report numbers only).
export const SYS = Object.freeze({ write: 1, writev: 20, sendto: 44, sendmsg: 46, recvmsg: 47, sendmmsg: 307 });

/** A UDP send by a daemon (one datagram, or a train). */
const UDP_SEND = new Set<number>([SYS.sendto, SYS.sendmsg, SYS.sendmmsg]);
/** A write to the TUN (wgts: writev with its virtio header; wireguard-go: write). */
const TUN_WRITE = new Set<number>([SYS.write, SYS.writev]);

export interface SyscallEvent {
  comm: string;
  tid: number;
  /** Microseconds (perf's clock). */
  us: number;
  enter: boolean;
  nr: number;
  /** The return value of an exit; NaN for an enter. */
  ret: number;
}

/** The syscall enters and exits in `perf script`'s default output; other events are skipped. */
export function parsePerfScript(text: string): SyscallEvent[] {
  const out: SyscallEvent[] = [];
  // perf prints seconds with six decimals: whole microseconds, read without a rounding error.
  const line = /^\s*(.+?)\s+(\d+)\s+\[\d+\]\s+(\d+)\.(\d{6}):\s+raw_syscalls:sys_(enter|exit):\s+NR (\d+)(?: = (-?\d+))?/;
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (m === null) continue;
    const enter = m[5] === 'enter';
    out.push({ comm: m[1] as string, tid: Number(m[2]), us: Number(m[3]) * 1e6 + Number(m[4]), enter, nr: Number(m[6]), ret: enter ? NaN : Number(m[7]) });
  }
  return out;
}

export const SEGMENTS = [
  'ping sends -> A sends the datagram',
  'A sends -> B writes the request to its TUN',
  'B writes -> B sends the reply',
  'B sends -> A writes the reply to its TUN',
  'A writes -> ping has the reply',
  'whole round trip',
] as const;

/** One ping, cut at the daemons' syscalls: microseconds per segment of SEGMENTS. */
export type PingCut = number[];

/**
 * Every ping of `events` whose whole path was recorded, cut into SEGMENTS; `a` and `b` are the
 * thread ids of the two daemons. A ping is a `sendto` by a process named `ping`; its end is the
 * first `recvmsg` of `ping` that returns data after A wrote the reply.
 */
export function cutPings(events: readonly SyscallEvent[], a: ReadonlySet<number>, b: ReadonlySet<number>): PingCut[] {
  const from = (i: number, ok: (e: SyscallEvent) => boolean): number => {
    for (let k = i; k >= 0 && k < events.length; k++) if (ok(events[k] as SyscallEvent)) return k;
    return -1;
  };
  const pingSends = (x: SyscallEvent): boolean => x.comm === 'ping' && x.enter && x.nr === SYS.sendto;
  const cuts: PingCut[] = [];
  events.forEach((e, i0) => {
    if (!pingSends(e)) return;
    const i1 = from(i0, (x) => a.has(x.tid) && x.enter && UDP_SEND.has(x.nr));
    const i2 = from(i1, (x) => b.has(x.tid) && x.enter && TUN_WRITE.has(x.nr));
    const i3 = from(i2, (x) => b.has(x.tid) && x.enter && UDP_SEND.has(x.nr));
    const i4 = from(i3, (x) => a.has(x.tid) && x.enter && TUN_WRITE.has(x.nr));
    const i5 = from(i4, (x) => x.comm === 'ping' && !x.enter && x.nr === SYS.recvmsg && x.ret > 0);
    if (i5 < 0) return;
    // A later ping must not have started on the way: this one's path was not recorded whole.
    const next = from(i0 + 1, pingSends);
    if (next >= 0 && next < i5) return;
    const t = [i0, i1, i2, i3, i4, i5].map((k) => (events[k] as SyscallEvent).us);
    const cut: PingCut = [];
    for (let s = 0; s < 5; s++) cut.push((t[s + 1] as number) - (t[s] as number));
    cut.push((t[5] as number) - (t[0] as number));
    cuts.push(cut);
  });
  return cuts;
}

/** The median of each segment over `cuts` (NaN when there are none). */
export function medians(cuts: readonly PingCut[]): number[] {
  return SEGMENTS.map((_, s) => {
    const v = cuts.map((c) => c[s] as number).sort((x, y) => x - y);
    return v.length === 0 ? NaN : (v[Math.floor(v.length / 2)] as number);
  });
}
