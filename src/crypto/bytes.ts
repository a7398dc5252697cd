// Small byte helpers shared by the crypto backends.

/** True when every byte of `b` is zero, in time independent of the byte values. */
export function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

/** Throws RangeError unless `b` is exactly `len` bytes (argument-shape check, not a data check). */
export function requireLength(b: Uint8Array, len: number, what: string): void {
  if (b.length !== len) throw new RangeError(`${what} must be ${len} bytes, got ${b.length}`);
}

/**
 * A zeroed buffer for secret or hot bytes, with its own off-heap ArrayBuffer. V8 keeps typed
 * arrays of up to 64 bytes inside the JS heap and moves them out (copying, and leaving the old
 * bytes behind as garbage) the first time native code or `.buffer` needs their memory; a buffer
 * made here never moves, so zeroing it erases the only copy. Not from Buffer's shared pool either.
 */
export function secretBytes(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}
