// The native backend: OpenSSL, through the project's addon where it can and node:crypto where it
// must. With the addon built (the normal case) every handshake primitive works on raw bytes in
// caller-owned buffers (src/crypto/addon-handshake.ts: X25519 without key objects, BLAKE2s, KDF,
// ChaCha20-Poly1305 with AAD) and data messages are sealed in place (src/crypto/addon.ts). Without
// it, node:crypto does ChaCha20-Poly1305 (a cipher object and fresh Buffers per call), X25519
// (keys imported through JWK) and BLAKE2s-256 / HMAC, and the project's TypeScript BLAKE2s the
// KDF and keyed MAC. @noble does XChaCha20-Poly1305 (cookie replies) in both cases.
// WGTS_AEAD=node keeps all ChaCha20-Poly1305 on node:crypto (data and handshake messages).

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomBytes,
  randomFillSync,
  type KeyObject,
} from 'node:crypto';
import { AEAD_ENV, probeAddonAead, selectDataAead } from './addon.js';
import { probeAddonHandshake, type HandshakeNative } from './addon-handshake.js';
import { blake2sMac16, hashInto as tsHashInto, kdfInto as tsKdfInto, macInto as tsMacInto } from './blake2s.js';
import { isAllZero, requireLength } from './bytes.js';
import type { CryptoBackend } from './types.js';
import { xaeadOpen, xaeadSeal } from './xchacha.js';

const TAG_LEN = 16;
const AEAD = 'chacha20-poly1305';
/** Reused options object: no per-packet allocation for it. */
const AEAD_OPTIONS = { authTagLength: TAG_LEN } as const;

/**
 * Buffer results are returned as plain Uint8Array views (no copy): Buffer#slice makes a view where
 * Uint8Array#slice copies, and callers must see the same semantics from both backends.
 */
const asUint8Array = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

// ---- node:crypto fallbacks ------------------------------------------------------------------------

/**
 * Without the addon, raw 32-byte X25519 keys enter OpenSSL through JWK (RFC 8037), which Node
 * imports with EVP_PKEY_new_raw_*_key: about 10x cheaper than DER through OpenSSL 3's decoder
 * framework. The key then exists for a moment as a base64url string; the addon path has none.
 */
const b64url = (raw: Uint8Array): string => Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('base64url');

function privateKeyObject(raw: Uint8Array): KeyObject {
  requireLength(raw, 32, 'X25519 private key');
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(raw), x: '' }, format: 'jwk' });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  requireLength(raw, 32, 'X25519 public key');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(raw) }, format: 'jwk' });
}

function nodeAeadSeal(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, aad: Uint8Array | null, dst: Uint8Array, dstOffset: number): number {
  const cipher = createCipheriv(AEAD, key, nonce, AEAD_OPTIONS);
  const n = src.length;
  if (aad !== null && aad.length > 0) cipher.setAAD(aad, { plaintextLength: n });
  // update() returns a fresh buffer, so writing it into dst afterwards is safe when src aliases dst.
  if (n > 0) dst.set(cipher.update(src), dstOffset);
  cipher.final();
  dst.set(cipher.getAuthTag(), dstOffset + n);
  return n + TAG_LEN;
}

function nodeAeadOpen(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, aad: Uint8Array | null, dst: Uint8Array, dstOffset: number): number {
  const n = src.length - TAG_LEN;
  if (n < 0) return -1;
  const decipher = createDecipheriv(AEAD, key, nonce, AEAD_OPTIONS);
  decipher.setAuthTag(src.subarray(n));
  if (aad !== null && aad.length > 0) decipher.setAAD(aad, { plaintextLength: n });
  const plain = n > 0 ? decipher.update(src.subarray(0, n)) : null;
  try {
    decipher.final();
  } catch {
    plain?.fill(0);
    return -1; // authentication failed; dst untouched
  }
  if (plain !== null) {
    dst.set(plain, dstOffset);
    plain.fill(0);
  }
  return n;
}

function nodeX25519Into(out: Uint8Array, privateKey: Uint8Array, publicKey: Uint8Array): boolean {
  requireLength(out, 32, 'X25519 output');
  const priv = privateKeyObject(privateKey);
  const pub = publicKeyObject(publicKey);
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: priv, publicKey: pub });
  } catch {
    out.fill(0);
    return false; // OpenSSL refuses an all-zero shared secret (low-order point)
  }
  out.set(shared);
  shared.fill(0);
  return !isAllZero(out);
}

function nodeX25519PublicInto(out: Uint8Array, privateKey: Uint8Array): void {
  requireLength(out, 32, 'X25519 output');
  const jwk = createPublicKey(privateKeyObject(privateKey)).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('node:crypto exported an X25519 public key without x');
  const pub = Buffer.from(jwk.x, 'base64url'); // public: the shared pool is fine
  out.set(pub);
}

/** node:crypto's ChaCha20-Poly1305 as the generic AEAD (the WGTS_AEAD=node path; benchmarks compare it). */
export const nodeCryptoAead: Pick<CryptoBackend, 'aeadSeal' | 'aeadOpen'> = Object.freeze({ aeadSeal: nodeAeadSeal, aeadOpen: nodeAeadOpen });

// ---- the addon ------------------------------------------------------------------------------------

/** The addon's handshake primitives wrapped to the CryptoBackend contract (sizes throw). */
function addonPrimitives(n: HandshakeNative): Pick<CryptoBackend, 'hashInto' | 'kdfInto' | 'macInto' | 'x25519Into' | 'x25519PublicInto' | 'randomFill'> {
  return {
    randomFill: (buf) => {
      if (n.randomFill(buf) < 0) throw new Error('OpenSSL RAND_priv_bytes failed');
    },
    hashInto: (out, a, b) => {
      if (n.blake2sHash(out, a, b) < 0) throw new RangeError('BLAKE2s: the output must hold 32 bytes and the inputs be Uint8Arrays');
    },
    kdfInto: (ck, input, t1, t2, t3) => {
      if (n.wgKdf(ck, input, t1, t2, t3) < 0) throw new RangeError('KDF: the chaining key must be at most 64 bytes and each output hold 32');
    },
    macInto: (key, buf, off, len, out, outOff) => {
      if (n.blake2sMac(key, buf, off, len, out, outOff) < 0) throw new RangeError('BLAKE2s MAC: key must be 1..32 bytes and the ranges in bounds');
    },
    x25519Into: (out, privateKey, publicKey) => {
      const r = n.x25519(out, privateKey, publicKey);
      if (r < 0) throw new RangeError('X25519: output, private and public key must be 32 bytes each');
      return r === 1;
    },
    x25519PublicInto: (out, privateKey) => {
      if (n.x25519Base(out, privateKey) < 0) throw new RangeError('X25519: output and private key must be 32 bytes each');
    },
  };
}

function addonAead(n: HandshakeNative): Pick<CryptoBackend, 'aeadSeal' | 'aeadOpen'> {
  return {
    aeadSeal: (key, nonce, src, aad, dst, dstOffset) => {
      requireLength(key, 32, 'ChaCha20-Poly1305 key');
      requireLength(nonce, 12, 'ChaCha20-Poly1305 nonce');
      const r = n.aeadSeal(key, nonce, src, aad, dst, dstOffset);
      if (r < 0) throw new RangeError('ChaCha20-Poly1305 output does not fit');
      return r;
    },
    aeadOpen: (key, nonce, src, aad, dst, dstOffset) => {
      requireLength(key, 32, 'ChaCha20-Poly1305 key');
      requireLength(nonce, 12, 'ChaCha20-Poly1305 nonce');
      if (src.length < TAG_LEN) return -1;
      if (dstOffset < 0 || dstOffset + src.length - TAG_LEN > dst.length) throw new RangeError('ChaCha20-Poly1305 output does not fit');
      return n.aeadOpen(key, nonce, src, aad, dst, dstOffset);
    },
  };
}

/** The addon's data-message AEAD, decided once at load (throws on an invalid WGTS_AEAD). */
const dataAead = selectDataAead(process.env[AEAD_ENV], probeAddonAead);
const handshakeProbe = probeAddonHandshake();
/** The addon's handshake primitives, or why node:crypto is used instead. */
export const nativeHandshake: { readonly inUse: boolean; readonly detail: string } = handshakeProbe.ok
  ? { inUse: true, detail: `addon, X25519 via ${handshakeProbe.fns.x25519Impl}` }
  : { inUse: false, detail: handshakeProbe.reason };

const primitives = handshakeProbe.ok
  ? addonPrimitives(handshakeProbe.fns)
  : {
    hashInto: tsHashInto, kdfInto: tsKdfInto, macInto: tsMacInto, x25519Into: nodeX25519Into, x25519PublicInto: nodeX25519PublicInto,
    randomFill: (buf: Uint8Array): void => void randomFillSync(buf),
  };
// All ChaCha20-Poly1305 through the addon, or all through node:crypto (WGTS_AEAD=node).
const aead = handshakeProbe.ok && dataAead !== undefined ? addonAead(handshakeProbe.fns) : nodeCryptoAead;

/**
 * CryptoBackend on OpenSSL; see the module comment for which primitive comes from where.
 * dataSeal / dataOpen, their batch forms and forgetKeys are present only when the addon's
 * ChaCha20-Poly1305 is in use.
 */
export const nativeBackend: CryptoBackend = Object.freeze({
  name: 'native',
  ...(dataAead === undefined ? {} : {
    dataSeal: dataAead.dataSeal, dataOpen: dataAead.dataOpen, dataSealBatch: dataAead.dataSealBatch, dataOpenBatch: dataAead.dataOpenBatch,
    forgetKeys: dataAead.dataForget,
  }),
  ...aead,
  ...primitives,
  xaeadSeal,
  xaeadOpen,
  x25519: (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null => {
    const out = new Uint8Array(32);
    return primitives.x25519Into(out, privateKey, publicKey) ? out : null;
  },
  x25519Public: (privateKey: Uint8Array): Uint8Array => {
    const out = new Uint8Array(32);
    primitives.x25519PublicInto(out, privateKey);
    return out;
  },
  hash: (...parts: Uint8Array[]): Uint8Array => {
    const h = createHash('blake2s256');
    for (const p of parts) h.update(p);
    return asUint8Array(h.digest());
  },
  hmac: (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
    const h = createHmac('blake2s256', key);
    for (const p of parts) h.update(p);
    return asUint8Array(h.digest());
  },
  mac: blake2sMac16,
  randomBytes: (n: number): Uint8Array => asUint8Array(randomBytes(n)),
});
