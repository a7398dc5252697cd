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
