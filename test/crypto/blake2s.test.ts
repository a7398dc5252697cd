// BLAKE2s known-answer tests: the official KAT (unkeyed through each backend's hash, keyed through
// the keyed BLAKE2s helper), the kernel's variable-length vectors (helper, and each backend's
// 16-byte mac where they apply), and HMAC-BLAKE2s through each backend's hmac.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { blake2s } from '../../src/crypto/blake2s.js';
import { backends } from '../../src/crypto/index.js';
import { hex, list, loadVectors, num, obj, str, toHex } from '../helpers/vectors.js';

const kat = list(loadVectors('blake2s-kat.json'), 'vectors');
const unkeyed = kat.filter((v) => str(v, 'key') === '');
const keyed = kat.filter((v) => str(v, 'key') !== '');
const hmacFile = loadVectors('hmac-blake2s.json');
const hmacVectors = list(hmacFile, 'vectors');
const variable = list(obj(hmacFile, 'blake2s_variable_length_vectors'), 'vectors');

const helper = suite('blake2s helper');

helper('KAT shape: 256 unkeyed + 256 keyed with the 32-byte key 00..1f', () => {
  assert.is(unkeyed.length, 256);
  assert.is(keyed.length, 256);
  for (const v of keyed) assert.is(str(v, 'key'), toHex(Uint8Array.from({ length: 32 }, (_, i) => i)));
});

helper('every keyed KAT vector (32-byte key, 32-byte output)', () => {
  for (const v of keyed) {
    assert.is(toHex(blake2s(hex(str(v, 'in')), { key: hex(str(v, 'key')), outLen: 32 })), str(v, 'out'));
  }
});

helper('every unkeyed KAT vector', () => {
  for (const v of unkeyed) assert.is(toHex(blake2s(hex(str(v, 'in')), { outLen: 32 })), str(v, 'out'));
});

helper('every variable-length vector, whole and split in two chunks', () => {
  assert.is(variable.length, 256);
  for (const v of variable) {
    const i = num(v, 'i');
    const input = hex(str(v, 'input'));
    const opts = { key: hex(str(v, 'key')), outLen: num(v, 'outlen') };
    assert.is(opts.key.length, num(v, 'keylen'));
    assert.is(toHex(blake2s(input, opts)), str(v, 'out'), `i=${i}`);
    const split = (i + 37) % (i + 1);
    assert.is(toHex(blake2s([input.subarray(0, split), input.subarray(split)], opts)), str(v, 'out'), `i=${i} split`);
  }
});

helper('rejects out-of-range output lengths and keys', () => {
  assert.throws(() => blake2s(new Uint8Array(1), { outLen: 0 }), RangeError);
  assert.throws(() => blake2s(new Uint8Array(1), { outLen: 33 }), RangeError);
  assert.throws(() => blake2s(new Uint8Array(1), { key: new Uint8Array(33), outLen: 16 }), RangeError);
});

helper.run();

for (const backend of Object.values(backends)) {
  const t = suite(`blake2s ${backend.name}`);

  t('hash: every unkeyed KAT vector, whole and in three parts', () => {
    for (const v of unkeyed) {
      const input = hex(str(v, 'in'));
      assert.is(toHex(backend.hash(input)), str(v, 'out'));
      const a = input.length >> 2;
      const b = input.length >> 1;
      assert.is(toHex(backend.hash(input.subarray(0, a), input.subarray(a, b), input.subarray(b))), str(v, 'out'));
    }
  });

  t('hash of no parts is the hash of the empty string', () => {
    assert.is(toHex(backend.hash()), str(unkeyed[0], 'out'));
  });

  t('mac: every 16-byte-output keyed variable-length vector', () => {
    const cases = variable.filter((v) => num(v, 'outlen') === 16 && num(v, 'keylen') > 0);
    assert.ok(cases.length >= 7, `found ${cases.length} cases`);
    for (const v of cases) {
      const input = hex(str(v, 'input'));
      const h = input.length >> 1;
      assert.is(toHex(backend.mac(hex(str(v, 'key')), input)), str(v, 'out'), `i=${num(v, 'i')}`);
      assert.is(toHex(backend.mac(hex(str(v, 'key')), input.subarray(0, h), input.subarray(h))), str(v, 'out'));
    }
  });

  t('mac with 16- and 32-byte keys is keyed BLAKE2s-128 (cross-checked with the helper)', () => {
    const msg = Uint8Array.from({ length: 148 }, (_, i) => (i * 31) & 0xff);
    for (const keyLen of [16, 32]) {
      const key = Uint8Array.from({ length: keyLen }, (_, i) => 255 - i);
      const m = backend.mac(key, msg);
      assert.is(m.length, 16);
      assert.is(toHex(m), toHex(blake2s(msg, { key, outLen: 16 })));
    }
  });

  t('hashInto: every unkeyed KAT vector in two parts, into a buffer that is also an input', () => {
    const out = new Uint8Array(32);
    for (const v of unkeyed) {
      const input = hex(str(v, 'in'));
      const half = input.length >> 1;
      backend.hashInto(out, input.subarray(0, half), input.subarray(half));
      assert.is(toHex(out), str(v, 'out'));
    }
    const h = Uint8Array.from({ length: 32 }, (_, i) => i);
    const expect = toHex(backend.hash(h, h));
    backend.hashInto(h, h, h);
    assert.is(toHex(h), expect, 'out aliasing both inputs');
    assert.throws(() => backend.hashInto(new Uint8Array(31), h), RangeError);
  });

  t('macInto: every 16-byte-output keyed variable-length vector, at offsets, and over its own output', () => {
    const cases = variable.filter((v) => num(v, 'outlen') === 16 && num(v, 'keylen') > 0);
    for (const v of cases) {
      const input = hex(str(v, 'input'));
      const buf = new Uint8Array(3 + input.length + 16 + 5);
      buf.set(input, 3);
      backend.macInto(hex(str(v, 'key')), buf, 3, input.length, buf, 3 + input.length);
      assert.is(toHex(buf.subarray(3 + input.length, 3 + input.length + 16)), str(v, 'out'), `i=${num(v, 'i')}`);
      assert.ok(buf.subarray(0, 3).every((x) => x === 0) && buf.subarray(buf.length - 5).every((x) => x === 0), 'nothing else written');
    }
    assert.throws(() => backend.macInto(new Uint8Array(33), new Uint8Array(4), 0, 4, new Uint8Array(16), 0), RangeError);
    assert.throws(() => backend.macInto(new Uint8Array(16), new Uint8Array(4), 2, 4, new Uint8Array(16), 0), RangeError);
    assert.throws(() => backend.macInto(new Uint8Array(16), new Uint8Array(4), 0, 4, new Uint8Array(16), 1), RangeError);
  });

  t('hmac: every HMAC-BLAKE2s vector, whole and split', () => {
    assert.is(hmacVectors.length, 2);
    for (const v of hmacVectors) {
      const msg = hex(str(v, 'msg'));
      assert.is(toHex(backend.hmac(hex(str(v, 'key')), msg)), str(v, 'mac'), str(v, 'name'));
      assert.is(toHex(backend.hmac(hex(str(v, 'key')), msg.subarray(0, 7), msg.subarray(7))), str(v, 'mac'));
    }
  });

  t.run();
}
