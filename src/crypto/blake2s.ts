// Keyed / variable-length BLAKE2s (RFC 7693) on @noble/hashes. node:crypto's 'blake2s256' takes
// neither a key nor an output length, so both backends use this module for WireGuard's MAC
// (keyed BLAKE2s-128: mac1, mac2, cookie) and tests use it for the variable-length vectors.

import { blake2s as nobleBlake2s } from '@noble/hashes/blake2.js';

/** Options for {@link blake2s}: `key` 0..32 bytes (empty or absent = unkeyed), `outLen` 1..32. */
export interface Blake2sOptions {
  readonly key?: Uint8Array;
  readonly outLen: number;
}

/**
 * BLAKE2s of the concatenation of `parts` with an optional key and an output length of 1..32 bytes.
 * Throws RangeError for a key longer than 32 bytes or an output length outside 1..32 (caller bugs,
 * never data-dependent in WireGuard).
 */
export function blake2s(parts: Uint8Array | readonly Uint8Array[], opts: Blake2sOptions): Uint8Array {
  if (!Number.isInteger(opts.outLen) || opts.outLen < 1 || opts.outLen > 32) {
    throw new RangeError(`BLAKE2s output length must be 1..32, got ${opts.outLen}`);
  }
  const key = opts.key;
  if (key !== undefined && key.length > 32) throw new RangeError(`BLAKE2s key must be at most 32 bytes, got ${key.length}`);
  const h = key !== undefined && key.length > 0
    ? nobleBlake2s.create({ key, dkLen: opts.outLen })
    : nobleBlake2s.create({ dkLen: opts.outLen });
  if (parts instanceof Uint8Array) h.update(parts);
  else for (const p of parts) h.update(p);
  return h.digest();
}

/** WireGuard's MAC: keyed BLAKE2s with a 16-byte output over the concatenation of `parts`. */
export function blake2sMac16(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = nobleBlake2s.create({ key, dkLen: 16 });
  for (const p of parts) h.update(p);
  return h.digest();
}
