// The pure-JavaScript backend: the project's own ChaCha20-Poly1305 (chacha20poly1305.ts, in
// place, also the data-message fast path) and BLAKE2s / HMAC / KDF (blake2s.ts), tweetnacl for
// X25519 and @noble/ciphers for XChaCha20-Poly1305. Used where node:crypto lacks a primitive, as
// WGTS_CRYPTO=pure, and as the reference the native backend is differentially tested against.

import nacl from 'tweetnacl';
import { aeadOpen, aeadSeal, dataOpen, dataSeal } from './chacha20poly1305.js';
import { blake2s, blake2sMac16, hashInto, hmac, kdfInto, macInto } from './blake2s.js';
import { isAllZero, requireLength } from './bytes.js';
import type { CryptoBackend } from './types.js';
import { xaeadOpen, xaeadSeal } from './xchacha.js';

const webCrypto = globalThis.crypto;
/** getRandomValues fills at most 65536 bytes per call. */
function randomFill(buf: Uint8Array): void {
  for (let off = 0; off < buf.length; off += 65536) webCrypto.getRandomValues(buf.subarray(off, Math.min(buf.length, off + 65536)));
}

function x25519Into(out: Uint8Array, privateKey: Uint8Array, publicKey: Uint8Array): boolean {
  requireLength(out, 32, 'X25519 output');
  requireLength(privateKey, 32, 'X25519 private key');
  requireLength(publicKey, 32, 'X25519 public key');
  const shared = nacl.scalarMult(privateKey, publicKey); // clamps the scalar, masks the top u bit
  out.set(shared);
  shared.fill(0);
  if (isAllZero(out)) return false;
  return true;
}

function x25519PublicInto(out: Uint8Array, privateKey: Uint8Array): void {
  requireLength(out, 32, 'X25519 output');
  requireLength(privateKey, 32, 'X25519 private key');
  out.set(nacl.scalarMult.base(privateKey));
}

/** CryptoBackend in pure JavaScript, available on every Node build. */
export const pureBackend: CryptoBackend = Object.freeze({
  name: 'pure',
  aeadSeal,
  aeadOpen,
  dataSeal,
  dataOpen,
  xaeadSeal,
  xaeadOpen,
  x25519: (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null => {
    const out = new Uint8Array(32);
    return x25519Into(out, privateKey, publicKey) ? out : null;
  },
  x25519Public: (privateKey: Uint8Array): Uint8Array => {
    const out = new Uint8Array(32);
    x25519PublicInto(out, privateKey);
    return out;
  },
  hash: (...parts: Uint8Array[]): Uint8Array => blake2s(parts, { outLen: 32 }),
  hmac,
  mac: blake2sMac16,
  randomBytes: (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    randomFill(out);
    return out;
  },
  hashInto,
  kdfInto,
  macInto,
  x25519Into,
  x25519PublicInto,
  randomFill,
});
