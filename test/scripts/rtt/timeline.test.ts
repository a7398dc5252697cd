// The idle round-trip benchmark's timeline (scripts/rtt/timeline.ts) on `perf script` text written
// here: lines as perf prints them, other processes' syscalls and scheduler events in between.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SEGMENTS, SYS, cutPings, medians, parsePerfScript } from '../../../scripts/rtt/timeline.js';

const PING = 500, A = 100, A2 = 101, B = 200;

/** One `perf script` line: `comm tid [cpu] seconds: event: ...` at `us` microseconds. */
function enter(comm: string, tid: number, us: number, nr: number): string {
  return `${comm.padStart(16)} ${String(tid).padStart(6)} [000] ${(us / 1e6).toFixed(6)}: raw_syscalls:sys_enter: NR ${nr} (3, 7ffd, 40, 0, 0, 10)`;
}
function exit(comm: string, tid: number, us: number, nr: number, ret: number): string {
  return `${comm.padStart(16)} ${String(tid).padStart(6)} [000] ${(us / 1e6).toFixed(6)}:  raw_syscalls:sys_exit: NR ${nr} = ${ret}`;
}
const sched = (us: number): string => `            ping ${PING} [000] ${(us / 1e6).toFixed(6)}:     sched:sched_switch: prev_comm=ping prev_pid=${PING} ==> next_comm=node next_pid=${A}`;

/** A ping at `t0`: the daemons' hops `d` µs apart (A's send from thread A2, as a Go thread might). */
function ping(t0: number, d: number[]): string[] {
  const [d1, d2, d3, d4, d5] = d as [number, number, number, number, number];
  let t = t0;
  return [
    enter('ping', PING, t, SYS.sendto),
    sched(t + 1),
    exit('ping', PING, t + 2, SYS.recvmsg, -11), // nothing yet: not the end
    enter('wireguard-go', A, t + 3, SYS.writev), // a TUN write by A before its send: not a hop
    enter('other', 999, t + 4, SYS.sendmmsg), // another process: never a hop
    enter('wireguard-go', A2, (t += d1), SYS.sendmmsg),
    exit('wireguard-go', A2, t + 1, SYS.sendmmsg, 1),
    enter('node', B, (t += d2), SYS.writev),
    enter('node', B, (t += d3), SYS.sendmmsg),
    enter('wireguard-go', A, (t += d4), SYS.write),
    exit('ping', PING, (t += d5), SYS.recvmsg, 84),
  ];
}

test('parsePerfScript reads syscall enters and exits with their numbers and results, and skips the rest', () => {
  const ev = parsePerfScript([sched(5), enter('wireguard-go-0.', 7, 1_000_010, SYS.sendmmsg), exit('ping', PING, 1_000_020, SYS.recvmsg, -11)].join('\n'));
  assert.equal(ev, [
    { comm: 'wireguard-go-0.', tid: 7, us: 1_000_010, enter: true, nr: SYS.sendmmsg, ret: NaN },
    { comm: 'ping', tid: PING, us: 1_000_020, enter: false, nr: SYS.recvmsg, ret: -11 },
  ]);
});

test('cutPings cuts each ping at the daemons hops; medians per segment', () => {
  const text = [...ping(1_000_000, [150, 160, 50, 80, 60]), ...ping(1_050_000, [170, 180, 48, 90, 70]), ...ping(1_100_000, [160, 170, 52, 85, 65])].join('\n');
  const cuts = cutPings(parsePerfScript(text), new Set([A, A2]), new Set([B]));
  assert.equal(cuts, [[150, 160, 50, 80, 60, 500], [170, 180, 48, 90, 70, 558], [160, 170, 52, 85, 65, 532]]);
  assert.equal(medians(cuts), [160, 170, 50, 85, 65, 532]);
  assert.is(SEGMENTS.length, 6);
});

test('a ping whose path was not recorded whole is left out, and no pings give NaN', () => {
  // The first ping's reply never reaches A's TUN before the next ping starts (lost, or the trace
  // began halfway): only the second one counts, and the first does not borrow its hops.
  const cut = ping(1_000_000, [150, 160, 50, 80, 60]).slice(0, 7);
  const text = [...cut, ...ping(1_050_000, [170, 180, 48, 90, 70])].join('\n');
  assert.equal(cutPings(parsePerfScript(text), new Set([A, A2]), new Set([B])), [[170, 180, 48, 90, 70, 558]]);
  // Wrong daemons: nothing is cut.
  assert.equal(cutPings(parsePerfScript(text), new Set([B]), new Set([A])), []);
  assert.ok(medians([]).every((x) => Number.isNaN(x)));
});

test.run();
