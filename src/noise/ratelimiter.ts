// Per-source token bucket for handshake messages processed while under load (whitepaper §5.3,
// 20 per second, burst 5). Keys: an IPv4 address, or the /64 prefix of an IPv6 address (the Linux
// kernel's choice; wireguard-go keys the full IPv6 address, which lets one host with a /64 rotate
// through 2^64 buckets). Time is the caller's monotonic clock in ms; tokens are ms of credit.

import {
  RATELIMIT_GC_AFTER_MS,
  RATELIMIT_MAX_ENTRIES,
  RATELIMIT_MAX_TOKENS_MS,
  RATELIMIT_PACKET_COST_MS,
} from './constants.js';

interface Bucket {
  tokens: number;
  last: number;
}

/** Bucket key: the IPv4 address as a number, or the IPv6 /64 as a hex string. */
function sourceKey(source: Uint8Array): number | string | null {
  if (source.length === 4 || source.length === 6) {
    return ((source[0]! << 24) | (source[1]! << 16) | (source[2]! << 8) | source[3]!) >>> 0;
  }
  if (source.length === 16 || source.length === 18) {
    return Buffer.from(source.buffer, source.byteOffset, 8).toString('hex');
  }
  return null;
}

/** Token-bucket rate limiter keyed by source address. */
export class RateLimiter {
  private readonly buckets = new Map<number | string, Bucket>();
  private lastGc = -Infinity;

  /** Number of tracked sources (for tests and diagnostics). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * May one more handshake message from `source` (4/16 address bytes, optionally + 2 port bytes,
   * which are ignored) be processed at `now`? Unknown address lengths are refused.
   */
  allow(source: Uint8Array, now: number): boolean {
    const key = sourceKey(source);
    if (key === null) return false;
    this.collect(now);
    const b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= RATELIMIT_MAX_ENTRIES) return false;
      this.buckets.set(key, { tokens: RATELIMIT_MAX_TOKENS_MS - RATELIMIT_PACKET_COST_MS, last: now });
      return true;
    }
    let tokens = b.tokens + (now - b.last);
    if (tokens > RATELIMIT_MAX_TOKENS_MS) tokens = RATELIMIT_MAX_TOKENS_MS;
    b.last = now;
    if (tokens >= RATELIMIT_PACKET_COST_MS) {
      b.tokens = tokens - RATELIMIT_PACKET_COST_MS;
      return true;
    }
    b.tokens = tokens;
    return false;
  }

  /** Forget sources idle for longer than RATELIMIT_GC_AFTER_MS (their buckets would be full). */
  collect(now: number): void {
    if (now - this.lastGc < RATELIMIT_GC_AFTER_MS) return;
    this.lastGc = now;
    for (const [key, b] of this.buckets) {
      if (now - b.last > RATELIMIT_GC_AFTER_MS) this.buckets.delete(key);
    }
  }
}
