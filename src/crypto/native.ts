// The native backend: node:crypto (OpenSSL) for ChaCha20-Poly1305, X25519, BLAKE2s-256 and
// HMAC-BLAKE2s; @noble for keyed BLAKE2s-128 and XChaCha20-Poly1305, which OpenSSL does not expose.
// node:crypto AEAD objects are single-use (one nonce each) and update()/getAuthTag() return fresh
// Buffers, so one cipher object and its output buffers per packet are the floor of this API; the
// per-packet code adds nothing on top (shared options object, no copies besides writing into dst).
// For WireGuard data messages the backend also carries dataSeal / dataOpen from the project's
// addon (src/crypto/addon.ts: OpenSSL's EVP on the caller's buffer, nothing allocated) when the
// addon is built and passes its self-test; WGTS_AEAD=addon|node forces either path.

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { AEAD_ENV, probeAddonAead, selectDataAead } from './addon.js';
import { blake2sMac16 } from './blake2s.js';
import { isAllZero, requireLength } from './bytes.js';
import type { CryptoBackend } from './types.js';
import { xaeadOpen, xaeadSeal } from './xchacha.js';

const TAG_LEN = 16;
const AEAD = 'chacha20-poly1305';
/** Reused options object: no per-packet allocation for it. */
const AEAD_OPTIONS = { authTagLength: TAG_LEN } as const;

/**
 * Raw 32-byte X25519 keys enter OpenSSL through JWK (RFC 8037), which Node imports with
 * EVP_PKEY_new_raw_*_key: about 10x cheaper than DER (PKCS#8 / SPKI) through OpenSSL 3's decoder
 * framework (measured here: 40 us vs 400 us for a private key). For a private key Node requires
 * the `x` member to be a string but derives the public key from `d` itself; the probe's
 * known-answer test would catch a Node that behaved otherwise.
 */
/**
 * Buffer results are returned as plain Uint8Array views (no copy): Buffer#slice makes a view where
 * Uint8Array#slice copies, and callers must see the same semantics from both backends.
 */
const asUint8Array = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

const b64url = (raw: Uint8Array): string => Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('base64url');

function privateKeyObject(raw: Uint8Array): KeyObject {
  requireLength(raw, 32, 'X25519 private key');
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(raw), x: '' }, format: 'jwk' });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  requireLength(raw, 32, 'X25519 public key');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(raw) }, format: 'jwk' });
}

function aeadSeal(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, aad: Uint8Array | null, dst: Uint8Array, dstOffset: number): number {
  const cipher = createCipheriv(AEAD, key, nonce, AEAD_OPTIONS);
  const n = src.length;
  if (aad !== null && aad.length > 0) cipher.setAAD(aad, { plaintextLength: n });
  // update() returns a fresh buffer, so writing it into dst afterwards is safe when src aliases dst.
  if (n > 0) dst.set(cipher.update(src), dstOffset);
  cipher.final();
  dst.set(cipher.getAuthTag(), dstOffset + n);
  return n + TAG_LEN;
}

function aeadOpen(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, aad: Uint8Array | null, dst: Uint8Array, dstOffset: number): number {
  const n = src.length - TAG_LEN;
  if (n < 0) return -1;
  const decipher = createDecipheriv(AEAD, key, nonce, AEAD_OPTIONS);
  decipher.setAuthTag(src.subarray(n));
  if (aad !== null && aad.length > 0) decipher.setAAD(aad, { plaintextLength: n });
  const plain = n > 0 ? decipher.update(src.subarray(0, n)) : null;
  try {
    decipher.final();
  } catch {
    return -1; // authentication failed; dst untouched
  }
  if (plain !== null) dst.set(plain, dstOffset);
  return n;
}

function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  const priv = privateKeyObject(privateKey);
  const pub = publicKeyObject(publicKey);
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: priv, publicKey: pub });
  } catch {
    return null; // OpenSSL refuses an all-zero shared secret (low-order point)
  }
  return isAllZero(shared) ? null : asUint8Array(shared);
}

function x25519Public(privateKey: Uint8Array): Uint8Array {
  const jwk = createPublicKey(privateKeyObject(privateKey)).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('node:crypto exported an X25519 public key without x');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url')); // copy: small Buffer.from results live in the shared pool
}

function hash(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  return asUint8Array(h.digest());
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  return asUint8Array(h.digest());
}

/** The addon's data-message AEAD, decided once at load (throws on an invalid WGTS_AEAD). */
const dataAead = selectDataAead(process.env[AEAD_ENV], probeAddonAead);

/**
 * CryptoBackend on node:crypto; see the module comment for which primitive comes from where.
 * dataSeal / dataOpen are present only when the addon's ChaCha20-Poly1305 is in use.
 */
export const nativeBackend: CryptoBackend = Object.freeze({
  name: 'native',
  ...(dataAead === undefined ? {} : {
    dataSeal: dataAead.dataSeal, dataOpen: dataAead.dataOpen, dataSealBatch: dataAead.dataSealBatch, dataOpenBatch: dataAead.dataOpenBatch,
  }),
  aeadSeal,
  aeadOpen,
  xaeadSeal,
  xaeadOpen,
  x25519,
  x25519Public,
  hash,
  hmac,
  mac: blake2sMac16,
  randomBytes: (n: number): Uint8Array => asUint8Array(randomBytes(n)),
});
