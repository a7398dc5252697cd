// XChaCha20-Poly1305 (24-byte nonce) on @noble/ciphers, shared by both backends: node:crypto has
// no XChaCha, and WireGuard only needs it for the rare cookie reply, so speed does not matter here.

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { requireLength } from './bytes.js';

/** XChaCha20-Poly1305 seal: returns ciphertext || 16-byte tag. */
export function xaeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | null): Uint8Array {
  return xchacha20poly1305(key, nonce, aad ?? undefined).encrypt(plaintext);
}

/**
 * XChaCha20-Poly1305 open: returns the plaintext, or null when `ciphertext` is too short or the tag
 * is wrong. A key or nonce of the wrong size is a caller bug and throws RangeError.
 */
export function xaeadOpen(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array | null): Uint8Array | null {
  requireLength(key, 32, 'XChaCha20-Poly1305 key');
  requireLength(nonce, 24, 'XChaCha20-Poly1305 nonce');
  if (ciphertext.length < 16) return null;
  try {
    return xchacha20poly1305(key, nonce, aad ?? undefined).decrypt(ciphertext);
  } catch {
    return null;
  }
}
