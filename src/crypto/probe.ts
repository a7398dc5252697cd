// Start-up probe: can node:crypto serve as the native backend on this Node/OpenSSL build?
// It checks the algorithm lists, then runs each node:crypto primitive of the native backend once
// against published known answers (cheap: about a millisecond, no pure-JS code is warmed up).

import { getCiphers, getHashes } from 'node:crypto';
import { nativeBackend } from './native.js';
import type { NativeProbe } from './select.js';

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const hx = (b: Uint8Array | null): string => (b === null ? 'null' : Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex'));

/** RFC 8439 section 2.8.2 ("Ladies and Gentlemen..."): ciphertext || tag. */
const AEAD_KAT = {
  key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
  nonce: '070000004041424344454647',
  aad: '50515253c0c1c2c3c4c5c6c7',
  plain:
    '4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73637265656e20776f756c642062652069742e',
  sealed:
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691',
} as const;

/** RFC 7748 section 6.1. */
const X25519_KAT = {
  alicePrivate: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
} as const;

/** BLAKE2s-256 of the empty string (BLAKE2 reference KAT). */
const BLAKE2S_EMPTY = '69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9';
/** KDF1 with empty key and input, i.e. HMAC(HMAC('', ''), 0x01) (wireguard-go kdf_test). */
const KDF1_EMPTY = '8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0';

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
