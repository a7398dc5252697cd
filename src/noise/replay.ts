// Receive-side anti-replay window (RFC 6479 bitmap): 128 blocks of 64 bits in a ring, one block of
// slack, so counters up to REPLAY_WINDOW_SIZE = 8128 behind the highest seen are still accepted
// once each. Counters are 64-bit and handled as two uint32 halves (lo, hi): exact up to 2^64 with
// no bigint and no allocation on the per-packet path. A 64-bit block is two adjacent uint32 words.

import {
  REJECT_AFTER_MESSAGES,
  REPLAY_RING_BLOCKS,
  REPLAY_WINDOW_SIZE,
} from './constants.js';

const RING_MASK = REPLAY_RING_BLOCKS - 1;
const TWO_POW_26 = 0x4000000; // 2^32 / 64: block-index weight of the high half
const TWO_POW_32 = 0x100000000;

/** Sliding window of received counters for one keypair. */
export class ReplayWindow {
  private readonly words = new Uint32Array(REPLAY_RING_BLOCKS * 2);
  private lastLo = 0;
  private lastHi = 0;
  private readonly limitLo: number;
  private readonly limitHi: number;

  /** `limit`: counters >= limit are always rejected (default REJECT_AFTER_MESSAGES). */
  constructor(limit: bigint = REJECT_AFTER_MESSAGES) {
    this.limitLo = Number(limit & 0xffffffffn);
    this.limitHi = Number((limit >> 32n) & 0xffffffffn);
  }

  /** Forget everything (a fresh window). */
  reset(): void {
    this.words.fill(0);
    this.lastLo = 0;
    this.lastHi = 0;
  }

  /**
   * Accept counter (hi * 2^32 + lo) once: true if it is new, below the limit and not older than the
   * window; records it. Call only after the message authenticated.
   */
  check(lo: number, hi: number): boolean {
    if (hi > this.limitHi || (hi === this.limitHi && lo >= this.limitLo)) return false;
    const lastLo = this.lastLo;
    const lastHi = this.lastHi;
    const words = this.words;
    if (hi > lastHi || (hi === lastHi && lo > lastLo)) {
      // Moving forward: clear the blocks between the old and the new head (at most the whole ring).
      // Beyond 2^53 the product is inexact, but then it is far above the ring size anyway.
      let diff = (hi - lastHi) * TWO_POW_26 + ((lo >>> 6) - (lastLo >>> 6));
      if (diff > REPLAY_RING_BLOCKS) diff = REPLAY_RING_BLOCKS;
      const current = lastLo >>> 6;
      for (let i = 1; i <= diff; i++) {
        const w = ((current + i) & RING_MASK) << 1;
        words[w] = 0;
        words[w + 1] = 0;
      }
      this.lastLo = lo;
      this.lastHi = hi;
    } else if ((lastHi - hi) * TWO_POW_32 + (lastLo - lo) > REPLAY_WINDOW_SIZE) {
      return false; // too old
    }
    const bit = lo & 63;
    const w = (((lo >>> 6) & RING_MASK) << 1) | (bit >>> 5);
    const mask = (1 << (bit & 31)) >>> 0;
    const old = words[w]!;
    if ((old & mask) !== 0) return false;
    words[w] = old | mask;
    return true;
  }

  /** check() for a bigint counter (tests and cold paths). */
  checkBig(counter: bigint): boolean {
    if (counter < 0n || counter >= 1n << 64n) return false;
    return this.check(Number(counter & 0xffffffffn), Number(counter >> 32n));
  }
}
