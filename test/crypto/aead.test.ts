// ChaCha20-Poly1305 and XChaCha20-Poly1305 known-answer tests, run against both backends,
// into a separate buffer and in place inside a larger slab (the data-path layout).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backends } from '../../src/crypto/index.js';
import { bool, hex, list, loadVectors, num, str, toHex } from '../helpers/vectors.js';

const file = loadVectors('chacha20poly1305-vectors.json');
const encVectors = list(file, 'chacha20poly1305_enc_vectors');
const decVectors = list(file, 'chacha20poly1305_dec_vectors');
const xencVectors = list(file, 'xchacha20poly1305_enc_vectors');
const xdecVectors = list(file, 'xchacha20poly1305_dec_vectors');

/** The 96-bit RFC 8439 nonce of a vector: 8-byte WireGuard counters come with a `nonce96` field. */
function nonce96(v: unknown): Uint8Array {
  const n = hex(str(v, 'nonce'));
  if (n.length === 12) return n;
  assert.is(n.length, 8, 'nonce is 8 or 12 bytes');
  const wide = hex(str(v, 'nonce96'));
  assert.is(toHex(wide), '00000000' + toHex(n), 'nonce96 = 4 zero bytes || nonce');
  return wide;
}

function aadOf(v: unknown): Uint8Array | null {
  const a = str(v, 'aad');
  return a === '' ? null : hex(a);
}

const HEAD = 16; // room in front of the packet, as in the data path
const TAIL = 32;

test_counts();

function test_counts(): void {
  const t = suite('vector file shape');
  t('has the documented numbers of vectors', () => {
    assert.is(encVectors.length, 118);
    assert.is(decVectors.length, 13);
    assert.is(decVectors.filter((v) => bool(v, 'expect_failure')).length, 1);
    assert.is(xencVectors.length, 1);
    assert.is(xdecVectors.length, 1);
  });
  t.run();
}

for (const backend of Object.values(backends)) {
  const t = suite(`chacha20poly1305 ${backend.name}`);

  t('every encryption vector, separate output buffer', () => {
    for (const v of encVectors) {
      const input = hex(str(v, 'input'));
      const out = new Uint8Array(input.length + 16);
      const written = backend.aeadSeal(hex(str(v, 'key')), nonce96(v), input, aadOf(v), out, 0);
      assert.is(written, input.length + 16, `length, vector ${num(v, 'index')}`);
      assert.is(toHex(out), str(v, 'output'), `vector ${num(v, 'index')}`);
    }
  });

  t('every encryption vector, in place at an offset in a slab', () => {
    for (const v of encVectors) {
      const input = hex(str(v, 'input'));
      const slab = new Uint8Array(HEAD + input.length + TAIL).fill(0xee);
      slab.set(input, HEAD);
      const src = slab.subarray(HEAD, HEAD + input.length);
      const written = backend.aeadSeal(hex(str(v, 'key')), nonce96(v), src, aadOf(v), slab, HEAD);
      assert.is(written, input.length + 16);
      assert.is(toHex(slab.subarray(HEAD, HEAD + written)), str(v, 'output'), `vector ${num(v, 'index')}`);
      assert.ok(slab.subarray(0, HEAD).every((b) => b === 0xee), 'header room untouched');
      assert.ok(slab.subarray(HEAD + written).every((b) => b === 0xee), 'tail untouched');
    }
  });

  t('every decryption vector (the forged one returns -1 and leaves dst alone)', () => {
    for (const v of decVectors) {
      const input = hex(str(v, 'input'));
      const out = new Uint8Array(input.length - 16).fill(0xaa);
      const r = backend.aeadOpen(hex(str(v, 'key')), nonce96(v), input, aadOf(v), out, 0);
      if (bool(v, 'expect_failure')) {
        assert.is(r, -1, `vector ${num(v, 'index')} must fail`);
        assert.ok(out.every((b) => b === 0xaa), 'dst untouched on failure');
      } else {
        assert.is(r, input.length - 16, `vector ${num(v, 'index')}`);
        assert.is(toHex(out), str(v, 'output'), `vector ${num(v, 'index')}`);
      }
    }
  });

  t('every decryption vector, in place at an offset in a slab', () => {
    for (const v of decVectors) {
      const input = hex(str(v, 'input'));
      const slab = new Uint8Array(HEAD + input.length);
      slab.set(input, HEAD);
      const r = backend.aeadOpen(hex(str(v, 'key')), nonce96(v), slab.subarray(HEAD), aadOf(v), slab, HEAD);
      if (bool(v, 'expect_failure')) {
        assert.is(r, -1);
        assert.is(toHex(slab.subarray(HEAD)), toHex(input), 'ciphertext left intact on failure');
      } else {
        assert.is(toHex(slab.subarray(HEAD, HEAD + r)), str(v, 'output'), `vector ${num(v, 'index')}`);
      }
    }
  });

  t('open of something shorter than a tag is -1', () => {
    const key = new Uint8Array(32);
    const nonce = new Uint8Array(12);
    for (let len = 0; len < 16; len++) {
      assert.is(backend.aeadOpen(key, nonce, new Uint8Array(len), null, new Uint8Array(16), 0), -1);
    }
  });

  t('wrong key or nonce sizes are caller errors that throw, for seal and open', () => {
    const buf = new Uint8Array(64);
    const src = new Uint8Array(32);
    for (const [key, nonce] of [[new Uint8Array(31), new Uint8Array(12)], [new Uint8Array(32), new Uint8Array(8)]] as const) {
      assert.throws(() => backend.aeadSeal(key, nonce, src, null, buf, 0));
      assert.throws(() => backend.aeadOpen(key, nonce, src, null, buf, 0));
    }
  });

  t('empty plaintext seals to a bare tag that opens to length 0', () => {
    const key = hex(str(encVectors[0], 'key'));
    const nonce = new Uint8Array(12);
    const sealed = new Uint8Array(16);
    assert.is(backend.aeadSeal(key, nonce, new Uint8Array(0), null, sealed, 0), 16);
    assert.is(backend.aeadOpen(key, nonce, sealed, null, new Uint8Array(0), 0), 0);
    sealed[3]! ^= 0x40;
    assert.is(backend.aeadOpen(key, nonce, sealed, null, new Uint8Array(0), 0), -1);
  });

  t('xchacha20poly1305 vectors', () => {
    for (const v of xencVectors) {
      const sealed = backend.xaeadSeal(hex(str(v, 'key')), hex(str(v, 'nonce')), hex(str(v, 'input')), aadOf(v));
      assert.is(toHex(sealed), str(v, 'output'));
    }
    for (const v of xdecVectors) {
      const key = hex(str(v, 'key'));
      const nonce = hex(str(v, 'nonce'));
      const input = hex(str(v, 'input'));
      const opened = backend.xaeadOpen(key, nonce, input, aadOf(v));
      assert.ok(opened !== null);
      assert.is(toHex(opened), str(v, 'output'));
      input[input.length - 1]! ^= 1;
      assert.is(backend.xaeadOpen(key, nonce, input, aadOf(v)), null, 'tampered tag');
      assert.is(backend.xaeadOpen(key, nonce, input.subarray(0, 15), aadOf(v)), null, 'too short');
    }
  });

  t.run();
}
