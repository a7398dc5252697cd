// Differential test: native and pure backends must agree byte for byte on random inputs of random
// lengths (0..1500) for every primitive, in place as well as out of place, and must both reject
// any single-bit change to ciphertext, tag or associated data. The inputs come from a seeded PRNG;
// the seed is printed with every failure and can be replayed with WGTS_TEST_SEED=<n>.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backends } from '../../src/crypto/index.js';
import { kdf } from '../../src/crypto/kdf.js';
import { toHex } from '../helpers/vectors.js';

const { native, pure } = backends;
const SEED = Number(process.env.WGTS_TEST_SEED ?? Date.now() % 0x7fffffff) >>> 0;
const ROUNDS = 300;
const MAX_LEN = 1500;

/** xorshift32: small, deterministic, good enough to spread test inputs. */
let state = SEED || 1;
function next(): number {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state;
}
function int(maxExclusive: number): number {
  return next() % maxExclusive;
}
function bytes(len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = next() & 0xff;
  return b;
}
const at = (round: number): string => `seed ${SEED}, round ${round}`;

test('aeadSeal / aeadOpen agree, work in place, and reject every tampering', () => {
  for (let r = 0; r < ROUNDS; r++) {
    const key = bytes(32);
    const nonce = bytes(12);
    const aad = int(4) === 0 ? null : bytes(int(65));
    const plain = bytes(int(MAX_LEN + 1));
    const n = plain.length;

    const sealedN = new Uint8Array(n + 16);
    const sealedP = new Uint8Array(n + 16);
    assert.is(native.aeadSeal(key, nonce, plain, aad, sealedN, 0), n + 16, at(r));
    assert.is(pure.aeadSeal(key, nonce, plain, aad, sealedP, 0), n + 16, at(r));
    assert.is(toHex(sealedN), toHex(sealedP), `seal differs, ${at(r)}`);

    for (const b of [native, pure]) {
      // in place: the plaintext sits at `head` inside a slab and is sealed over itself
      const head = int(33);
      const slab = new Uint8Array(head + n + 16);
      slab.set(plain, head);
      b.aeadSeal(key, nonce, slab.subarray(head, head + n), aad, slab, head);
      assert.is(toHex(slab.subarray(head)), toHex(sealedP), `${b.name} in-place seal, ${at(r)}`);
      assert.is(b.aeadOpen(key, nonce, slab.subarray(head), aad, slab, head), n, `${b.name} in-place open, ${at(r)}`);
      assert.is(toHex(slab.subarray(head, head + n)), toHex(plain), `${b.name} in-place open result, ${at(r)}`);

      const out = new Uint8Array(n);
      assert.is(b.aeadOpen(key, nonce, sealedN, aad, out, 0), n, `${b.name} open, ${at(r)}`);
      assert.is(toHex(out), toHex(plain), `${b.name} open result, ${at(r)}`);

      const flipCt = sealedP.slice();
      const pos = int(n + 16); // anywhere in ciphertext or tag
      flipCt[pos]! ^= 1 << int(8);
      assert.is(b.aeadOpen(key, nonce, flipCt, aad, out, 0), -1, `${b.name} flipped byte ${pos} of ${n + 16}, ${at(r)}`);
      const tag = sealedP.slice();
      tag[n + int(16)]! ^= 0x80;
      assert.is(b.aeadOpen(key, nonce, tag, aad, out, 0), -1, `${b.name} flipped tag, ${at(r)}`);
      if (aad !== null && aad.length > 0) {
        const badAad = aad.slice();
        badAad[int(aad.length)]! ^= 1 << int(8);
        assert.is(b.aeadOpen(key, nonce, sealedP, badAad, out, 0), -1, `${b.name} flipped aad, ${at(r)}`);
      }
      const badNonce = nonce.slice();
      badNonce[int(12)]! ^= 1;
      assert.is(b.aeadOpen(key, badNonce, sealedP, aad, out, 0), -1, `${b.name} wrong nonce, ${at(r)}`);
    }
  }
});

test('xaeadSeal / xaeadOpen agree and reject tampering', () => {
  for (let r = 0; r < ROUNDS; r++) {
    const key = bytes(32);
    const nonce = bytes(24);
    const aad = int(4) === 0 ? null : bytes(int(65));
    const plain = bytes(int(MAX_LEN + 1));
    const sealed = native.xaeadSeal(key, nonce, plain, aad);
    assert.is(toHex(sealed), toHex(pure.xaeadSeal(key, nonce, plain, aad)), at(r));
    for (const b of [native, pure]) {
      const opened = b.xaeadOpen(key, nonce, sealed, aad);
      assert.ok(opened !== null, at(r));
      assert.is(toHex(opened), toHex(plain), at(r));
      const bad = sealed.slice();
      bad[int(bad.length)]! ^= 1 << int(8);
      assert.is(b.xaeadOpen(key, nonce, bad, aad), null, at(r));
    }
  }
});

test('x25519 and x25519Public agree; both sides of an exchange meet', () => {
  for (let r = 0; r < ROUNDS; r++) {
    const a = bytes(32);
    const b = bytes(32);
    const pubA = native.x25519Public(a);
    const pubB = native.x25519Public(b);
    assert.is(toHex(pure.x25519Public(a)), toHex(pubA), at(r));
    const sNative = native.x25519(a, pubB);
    const sPure = pure.x25519(b, pubA);
    assert.ok(sNative !== null && sPure !== null, at(r));
    assert.is(toHex(sNative), toHex(sPure), at(r));
    const u = bytes(32); // arbitrary u-coordinate, including non-canonical and high-bit-set values
    const nu = native.x25519(a, u);
    const pu = pure.x25519(a, u);
    assert.is(nu === null ? null : toHex(nu), pu === null ? null : toHex(pu), at(r));
  }
});

test('hash, hmac, mac and kdf agree', () => {
  for (let r = 0; r < ROUNDS; r++) {
    const data = bytes(int(MAX_LEN + 1));
    const cut = int(data.length + 1);
    const parts = [data.subarray(0, cut), data.subarray(cut)];
    assert.is(toHex(native.hash(...parts)), toHex(pure.hash(data)), `hash, ${at(r)}`);
    const hkey = bytes(int(130)); // includes keys longer than the 64-byte block
    assert.is(toHex(native.hmac(hkey, ...parts)), toHex(pure.hmac(hkey, data)), `hmac, ${at(r)}`);
    const mkey = bytes(int(2) === 0 ? 16 : 32);
    const m = native.mac(mkey, ...parts);
    assert.is(m.length, 16);
    assert.is(toHex(m), toHex(pure.mac(mkey, data)), `mac, ${at(r)}`);
    const ck = bytes(32);
    assert.equal(kdf(native, 3, ck, data).map(toHex), kdf(pure, 3, ck, data).map(toHex), `kdf, ${at(r)}`);
  }
});

test('every byte result is a plain Uint8Array on both backends (same slice() semantics)', () => {
  const k = bytes(32);
  for (const b of [native, pure]) {
    const results: Uint8Array[] = [
      b.hash(k),
      b.hmac(k, k),
      b.mac(k, k),
      b.x25519Public(k),
      b.x25519(k, b.x25519Public(bytes(32))) ?? new Uint8Array(0),
      b.xaeadSeal(k, bytes(24), k, null),
      b.randomBytes(8),
    ];
    for (const r of results) assert.is(Object.getPrototypeOf(r), Uint8Array.prototype, b.name);
  }
});

test('randomBytes returns the requested length and fresh bytes', () => {
  for (const b of [native, pure]) {
    for (const n of [0, 1, 16, 32, 1500]) assert.is(b.randomBytes(n).length, n);
    assert.is.not(toHex(b.randomBytes(32)), toHex(b.randomBytes(32)));
  }
});

test.run();
