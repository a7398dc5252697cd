// WireGuard's KDF (HKDF over HMAC-BLAKE2s, whitepaper §5.4): KDF1, KDF2 and KDF3.

import type { CryptoBackend } from './types.js';

/** Number of 32-byte outputs: KDF1, KDF2 or KDF3. */
export type KdfCount = 1 | 2 | 3;

const COUNTER = [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)] as const;

/**
 * KDFn(key, input): prk = HMAC(key, input); t1 = HMAC(prk, 0x1); t(i) = HMAC(prk, t(i-1) || i).
 * `key` is the chaining key (the HMAC key), `input` the keying material. Returns n 32-byte outputs.
 */
export function kdf(backend: CryptoBackend, n: KdfCount, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const prk = backend.hmac(key, input);
  const out: Uint8Array[] = [];
  let prev: Uint8Array | null = null;
  for (let i = 0; i < n; i++) {
    const t: Uint8Array = prev === null ? backend.hmac(prk, COUNTER[i]!) : backend.hmac(prk, prev, COUNTER[i]!);
    out.push(t);
    prev = t;
  }
  prk.fill(0);
  return out;
}
