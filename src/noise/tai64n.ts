// TAI64N timestamps (12 bytes: big-endian 2^62 + 10 + unix seconds, big-endian nanoseconds), the
// initiation payload a responder uses to reject replayed initiations.

import { TAI64N_SIZE, TAI64N_WHITENER_MASK, TAI64_BASE } from './constants.js';

/**
 * TAI64N label of a wall-clock time in ns since the Unix epoch. Like wireguard-go, the low 24 bits
 * of the nanoseconds are cleared so the timestamp does not leak a precise clock reading.
 */
export function tai64n(unixNs: bigint): Uint8Array {
  const out = new Uint8Array(TAI64N_SIZE);
  const ns = unixNs < 0n ? 0n : unixNs;
  const seconds = TAI64_BASE + ns / 1_000_000_000n;
  const nanos = Number(ns % 1_000_000_000n) & ~TAI64N_WHITENER_MASK;
  const view = new DataView(out.buffer);
  view.setBigUint64(0, seconds, false);
  view.setUint32(8, nanos >>> 0, false);
  return out;
}

/** True when timestamp `a` is strictly later than `b` (both 12 bytes; big-endian compare). */
export function tai64nAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < TAI64N_SIZE; i++) {
    if (a[i] !== b[i]) return a[i]! > b[i]!;
  }
  return false;
}
