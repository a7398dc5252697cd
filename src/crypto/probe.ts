// Start-up probe: can node:crypto serve as the native backend on this Node/OpenSSL build?
// It checks the algorithm lists, then runs each node:crypto primitive of the native backend once
// against published known answers (cheap: about a millisecond, no pure-JS code is warmed up).

import { getCiphers, getHashes } from 'node:crypto';
import { nativeBackend } from './native.js';
import { AEAD_KAT, BLAKE2S_EMPTY, fromHex, KDF1_EMPTY, toHex, X25519_KAT } from './kat.js';
import type { NativeProbe } from './select.js';

const h = fromHex;
const hx = toHex;

function selfTest(): string | null {
  const key = h(AEAD_KAT.key);
  const nonce = h(AEAD_KAT.nonce);
  const aad = h(AEAD_KAT.aad);
  const plain = h(AEAD_KAT.plain);
  const sealed = new Uint8Array(plain.length + 16);
  nativeBackend.aeadSeal(key, nonce, plain, aad, sealed, 0);
  if (hx(sealed) !== AEAD_KAT.sealed) return 'chacha20-poly1305 seal gave a wrong answer';
  const opened = new Uint8Array(plain.length);
  if (nativeBackend.aeadOpen(key, nonce, sealed, aad, opened, 0) !== plain.length || hx(opened) !== AEAD_KAT.plain) {
    return 'chacha20-poly1305 open gave a wrong answer';
  }
  sealed[0]! ^= 1;
  if (nativeBackend.aeadOpen(key, nonce, sealed, aad, opened, 0) !== -1) return 'chacha20-poly1305 accepted a forged message';
  const alice = h(X25519_KAT.alicePrivate);
  if (hx(nativeBackend.x25519Public(alice)) !== X25519_KAT.alicePublic) return 'x25519 public key gave a wrong answer';
  if (hx(nativeBackend.x25519(alice, h(X25519_KAT.bobPublic))) !== X25519_KAT.shared) return 'x25519 gave a wrong answer';
  if (hx(nativeBackend.hash()) !== BLAKE2S_EMPTY) return 'blake2s256 gave a wrong answer';
  const empty = new Uint8Array(0);
  if (hx(nativeBackend.hmac(nativeBackend.hmac(empty, empty), Uint8Array.of(1))) !== KDF1_EMPTY) return 'hmac-blake2s256 gave a wrong answer';
  return null;
}

/** Probe node:crypto once; never throws. */
export function probeNative(): NativeProbe {
  try {
    if (!getCiphers().includes('chacha20-poly1305')) return { ok: false, reason: 'no chacha20-poly1305 cipher' };
    if (!getHashes().includes('blake2s256')) return { ok: false, reason: 'no blake2s256 hash' };
    const failure = selfTest();
    return failure === null ? { ok: true } : { ok: false, reason: `self-test: ${failure}` };
  } catch (err: unknown) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
