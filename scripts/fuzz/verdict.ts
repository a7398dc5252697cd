// What a fuzz run must show (`npm run fuzz` exits 1 otherwise; the test asserts the same list is
// empty). wgts: alive and reachable, memory bounded, some legitimate traffic during the flood and
// at least half of it back afterwards, no replayed valid data message accepted. Debian's wireguard-go, run for
// comparison: alive and reachable (its memory and throughput are printed, not judged: it keeps
// Go buffer pools that grow under a flood by design).
import type { FuzzReport } from './run.js';

/** Resident memory of wgts may grow by at most this much over the run (KiB). */
export const MEMORY_GROWTH_LIMIT_KIB = 64 * 1024;

/** After the flood the legitimate traffic must be back to at least this fraction of before. */
export const RECOVERY_FRACTION = 0.5;

/** The properties a run broke, as sentences; empty when it passed. */
export function fuzzProblems(r: FuzzReport): string[] {
  const out: string[] = [];
  if (!r.alive) out.push('the target is not running any more');
  if (!r.pingAfter) out.push('the legitimate peer cannot reach the target after the attack');
  if (r.target !== 'wgts') return out;
  const growth = r.memory.afterKiB - r.memory.beforeKiB;
  if (!(growth <= MEMORY_GROWTH_LIMIT_KIB)) out.push(`resident memory grew by ${(growth / 1024).toFixed(1)} MiB (limit ${MEMORY_GROWTH_LIMIT_KIB / 1024} MiB)`);
  if (!(r.throughput.duringMean > 0)) out.push('no legitimate traffic at all during the flood');
  if (!(r.throughput.after >= RECOVERY_FRACTION * r.throughput.before)) {
    out.push(`the legitimate traffic did not recover after the flood (${r.throughput.after.toFixed(0)} Mbit/s, before ${r.throughput.before.toFixed(0)})`);
  }
  if (r.replays === null) out.push('no replay accounting (status file without drop counters)');
  else if (r.replays.accepted > 0) out.push(`${r.replays.accepted} replayed valid data message(s) not rejected`);
  return out;
}
