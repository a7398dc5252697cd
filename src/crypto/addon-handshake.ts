// The addon's handshake primitives (native/hs_crypto.cc): X25519 on raw bytes, BLAKE2s-256,
// keyed BLAKE2s-128, WireGuard's KDF, ChaCha20-Poly1305 with associated data and OpenSSL's
// private DRBG, all writing into
// caller-owned Uint8Arrays. The native backend uses them when the addon is built and they pass a
// known-answer self-test here, else it stays on node:crypto (src/crypto/native.ts).

import { loadAddonModule } from './addon.js';
import { AEAD_KAT, BLAKE2S_EMPTY, fromHex, KDF1_EMPTY, MAC_KAT, toHex, X25519_KAT } from './kat.js';

type Bytes = Uint8Array;

/** The functions as the addon exports them (return codes: see native/hs_crypto.cc). */
export interface HandshakeNative {
  /** Which X25519 implementation the addon chose: 'ossl_x25519' or 'EVP_PKEY'. */
  readonly x25519Impl: string;
  readonly blake2sHash: (out: Bytes, a: Bytes, b?: Bytes) => number;
  readonly blake2sMac: (key: Bytes, buf: Bytes, off: number, len: number, out: Bytes, outOff: number) => number;
  readonly wgKdf: (ck: Bytes, input: Bytes, t1: Bytes, t2?: Bytes, t3?: Bytes) => number;
  readonly x25519: (out: Bytes, priv: Bytes, pub: Bytes) => number;
  readonly x25519Base: (out: Bytes, priv: Bytes) => number;
  readonly aeadSeal: (key: Bytes, nonce: Bytes, src: Bytes, aad: Bytes | null, dst: Bytes, dstOff: number) => number;
  readonly aeadOpen: (key: Bytes, nonce: Bytes, src: Bytes, aad: Bytes | null, dst: Bytes, dstOff: number) => number;
  readonly randomFill: (buf: Bytes) => number;
}

export type HandshakeNativeProbe = { readonly ok: true; readonly fns: HandshakeNative } | { readonly ok: false; readonly reason: string };

const FUNCTIONS = ['blake2sHash', 'blake2sMac', 'wgKdf', 'x25519', 'x25519Base', 'aeadSeal', 'aeadOpen', 'randomFill'] as const;

function selfTest(n: HandshakeNative): string | null {
  const out = new Uint8Array(32);
  if (n.x25519Base(out, fromHex(X25519_KAT.alicePrivate)) !== 0 || toHex(out) !== X25519_KAT.alicePublic) return 'x25519Base gave a wrong answer';
  if (n.x25519(out, fromHex(X25519_KAT.alicePrivate), fromHex(X25519_KAT.bobPublic)) !== 1 || toHex(out) !== X25519_KAT.shared) return 'x25519 gave a wrong answer';
  if (n.x25519(out, fromHex(X25519_KAT.alicePrivate), new Uint8Array(32)) !== 0 || out.some((b) => b !== 0)) return 'x25519 accepted a low-order point';
  if (n.blake2sHash(out, new Uint8Array(0)) !== 0 || toHex(out) !== BLAKE2S_EMPTY) return 'blake2sHash gave a wrong answer';
  if (n.wgKdf(new Uint8Array(32), new Uint8Array(0), out) !== 0 || toHex(out) !== KDF1_EMPTY) return 'wgKdf gave a wrong answer';
  const input = fromHex(MAC_KAT.input);
  if (n.blake2sMac(fromHex(MAC_KAT.key), input, 0, input.length, out, 16) !== 0 || toHex(out.subarray(16)) !== MAC_KAT.mac) return 'blake2sMac gave a wrong answer';
  const key = fromHex(AEAD_KAT.key);
  const nonce = fromHex(AEAD_KAT.nonce);
  const aad = fromHex(AEAD_KAT.aad);
  const plain = fromHex(AEAD_KAT.plain);
  const sealed = new Uint8Array(plain.length + 16);
  if (n.aeadSeal(key, nonce, plain, aad, sealed, 0) !== sealed.length || toHex(sealed) !== AEAD_KAT.sealed) return 'aeadSeal gave a wrong answer';
  const opened = new Uint8Array(plain.length);
  if (n.aeadOpen(key, nonce, sealed, aad, opened, 0) !== plain.length || toHex(opened) !== AEAD_KAT.plain) return 'aeadOpen gave a wrong answer';
  sealed[5]! ^= 1;
  opened.fill(0);
  if (n.aeadOpen(key, nonce, sealed, aad, opened, 0) !== -1 || opened.some((b) => b !== 0)) return 'aeadOpen accepted a forged message';
  const r1 = new Uint8Array(32);
  const r2 = new Uint8Array(32);
  if (n.randomFill(r1) !== 0 || n.randomFill(r2) !== 0 || r1.every((b, i) => b === r2[i])) return 'randomFill gave no fresh bytes';
  return null;
}

/** Loads the addon (if built) and self-tests its handshake primitives; never throws. */
export function probeAddonHandshake(): HandshakeNativeProbe {
  const m = loadAddonModule();
  if (!m.ok) return m;
  const e = m.exports;
  const missing = FUNCTIONS.filter((f) => typeof e[f] !== 'function');
  if (missing.length > 0 || typeof e.x25519Impl !== 'string') {
    return { ok: false, reason: `native addon at ${m.path} lacks ${missing.join(', ') || 'x25519Impl'} (stale build, or no working X25519: ${String(e.x25519Impl)})` };
  }
  const fns = e as unknown as HandshakeNative;
  try {
    const failure = selfTest(fns);
    return failure === null ? { ok: true, fns } : { ok: false, reason: `self-test: ${failure}` };
  } catch (err: unknown) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
