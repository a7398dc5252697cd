// The pure-JavaScript backend: tweetnacl (X25519) and @noble/ciphers + @noble/hashes (everything
// else). Used where node:crypto lacks a primitive, and as the reference the native backend is
// differentially tested against.

import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { blake2s as nobleBlake2s } from '@noble/hashes/blake2.js';
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import { randomBytes } from '@noble/hashes/utils.js';
import nacl from 'tweetnacl';
import { blake2sMac16 } from './blake2s.js';
import { isAllZero, requireLength } from './bytes.js';
import type { CryptoBackend } from './types.js';
import { xaeadOpen, xaeadSeal } from './xchacha.js';

const TAG_LEN = 16;

function aeadSeal(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, aad: Uint8Array | null, dst: Uint8Array, dstOffset: number): number {
  const len = src.length + TAG_LEN;
  // noble copies src into the output first and then encrypts in place, so exact aliasing is safe.
  chacha20poly1305(key, nonce, aad ?? undefined).encrypt(src, dst.subarray(dstOffset, dstOffset + len));
  return len;
}

function aeadOpen(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, aad: Uint8Array | null, dst: Uint8Array, dstOffset: number): number {
  // Size errors are caller bugs and must throw like node:crypto does, not read as a forgery.
  requireLength(key, 32, 'ChaCha20-Poly1305 key');
  requireLength(nonce, 12, 'ChaCha20-Poly1305 nonce');
  const n = src.length - TAG_LEN;
  if (n < 0) return -1;
  const cipher = chacha20poly1305(key, nonce, aad ?? undefined);
  try {
    // noble checks the tag before it writes anything to the output.
    cipher.decrypt(src, dst.subarray(dstOffset, dstOffset + n));
  } catch {
    return -1;
  }
  return n;
}

function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  requireLength(privateKey, 32, 'X25519 private key');
  requireLength(publicKey, 32, 'X25519 public key');
  const shared = nacl.scalarMult(privateKey, publicKey); // clamps the scalar, masks the top u bit
  return isAllZero(shared) ? null : shared;
}

function x25519Public(privateKey: Uint8Array): Uint8Array {
  requireLength(privateKey, 32, 'X25519 private key');
  return nacl.scalarMult.base(privateKey);
}

function hash(...parts: Uint8Array[]): Uint8Array {
  const h = nobleBlake2s.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = nobleHmac.create(nobleBlake2s, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** CryptoBackend in pure JavaScript (tweetnacl + @noble), available on every Node build. */
export const pureBackend: CryptoBackend = Object.freeze({
  name: 'pure',
  aeadSeal,
  aeadOpen,
  xaeadSeal,
  xaeadOpen,
  x25519,
  x25519Public,
  hash,
  hmac,
  mac: blake2sMac16,
  randomBytes: (n: number): Uint8Array => randomBytes(n),
});
