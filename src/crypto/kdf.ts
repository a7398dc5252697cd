// WireGuard's KDF (HKDF over HMAC-BLAKE2s, whitepaper §5.4): KDF1, KDF2 and KDF3 returning fresh
// arrays, on top of the backend's allocation-free kdfInto (which the handshake uses directly).

import type { CryptoBackend } from './types.js';

/** Number of 32-byte outputs: KDF1, KDF2 or KDF3. */
export type KdfCount = 1 | 2 | 3;

/**
 * KDFn(key, input): prk = HMAC(key, input); t1 = HMAC(prk, 0x1); t(i) = HMAC(prk, t(i-1) || i).
 * `key` is the chaining key (the HMAC key), `input` the keying material. Returns n 32-byte outputs.
 */
export function kdf(backend: CryptoBackend, n: KdfCount, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const out = [new Uint8Array(32)];
  for (let i = 1; i < n; i++) out.push(new Uint8Array(32));
  backend.kdfInto(key, input, out[0]!, out[1], out[2]);
  return out;
}
