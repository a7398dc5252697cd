// WireGuard KDF1/KDF2/KDF3 known answers (from wireguard-go's kdf_test) on both backends.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backends } from '../../src/crypto/index.js';
import { kdf } from '../../src/crypto/kdf.js';
import { hex, list, loadVectors, str, toHex } from '../helpers/vectors.js';

const vectors = list(loadVectors('wg-kdf.json'), 'vectors');

for (const backend of Object.values(backends)) {
  const t = suite(`kdf ${backend.name}`);

  t('KDF1, KDF2 and KDF3 of every vector', () => {
    assert.is(vectors.length, 3);
    for (const v of vectors) {
      const key = hex(str(v, 'key'));
      const input = hex(str(v, 'input'));
      const want = [str(v, 't0'), str(v, 't1'), str(v, 't2')];
      assert.equal(kdf(backend, 1, key, input).map(toHex), want.slice(0, 1));
      assert.equal(kdf(backend, 2, key, input).map(toHex), want.slice(0, 2));
      assert.equal(kdf(backend, 3, key, input).map(toHex), want);
    }
  });

  t('leaves key and input unchanged', () => {
    const v = vectors[0];
    const key = hex(str(v, 'key'));
    const input = hex(str(v, 'input'));
    kdf(backend, 3, key, input);
    assert.is(toHex(key), str(v, 'key'));
    assert.is(toHex(input), str(v, 'input'));
  });

  t('kdfInto: outputs may be the chaining key and the input themselves', () => {
    for (const v of vectors) {
      const want = [str(v, 't0'), str(v, 't1'), str(v, 't2')];
      const ck = new Uint8Array(32);
      const key = hex(str(v, 'key'));
      // WireGuard's chaining keys are 32 bytes: pad the vector's key the way HMAC does (zeros).
      ck.set(key);
      const expect = kdf(backend, 3, ck, hex(str(v, 'input'))).map(toHex);
      const input = new Uint8Array(32);
      input.set(hex(str(v, 'input')).subarray(0, 32));
      const inputLen = hex(str(v, 'input')).length;
      const inp = input.subarray(0, inputLen);
      const t2 = new Uint8Array(32);
      backend.kdfInto(ck, inp, ck, input, t2); // T1 over the key, T2 over the input
      assert.equal([toHex(ck), toHex(input), toHex(t2)], expect);
      assert.equal(expect, want, 'a key zero-padded to 32 bytes is the same HMAC key');
    }
    assert.throws(() => backend.kdfInto(new Uint8Array(65), new Uint8Array(0), new Uint8Array(32)), RangeError);
  });

  t.run();
}
