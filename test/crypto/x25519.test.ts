// X25519 known-answer tests (RFC 7748 and Wycheproof edge cases) against both backends.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backends } from '../../src/crypto/index.js';
import { bool, hex, list, loadVectors, num, obj, str, toHex } from '../helpers/vectors.js';

const file = loadVectors('x25519-vectors.json');
const vectors = list(file, 'vectors');
const rfc61 = obj(file, 'rfc7748_section_6_1');
const iterated = obj(file, 'rfc7748_iterated');

for (const backend of Object.values(backends)) {
  const t = suite(`x25519 ${backend.name}`);

  t('file holds 81 cases, 16 of them with an all-zero result', () => {
    assert.is(vectors.length, 81);
    assert.is(vectors.filter((v) => !bool(v, 'valid')).length, 16);
  });

  t('every vector: shared secret, or null for an all-zero result', () => {
    for (const v of vectors) {
      const r = backend.x25519(hex(str(v, 'private')), hex(str(v, 'public')));
      if (bool(v, 'valid')) {
        assert.ok(r !== null, `vector ${num(v, 'index')} must succeed`);
        assert.is(toHex(r), str(v, 'shared'), `vector ${num(v, 'index')}`);
      } else {
        assert.is(str(v, 'shared'), '00'.repeat(32));
        assert.is(r, null, `vector ${num(v, 'index')} must be rejected`);
      }
    }
  });

  t('RFC 7748 6.1: public keys and both sides of the exchange', () => {
    const alice = hex(str(rfc61, 'alice_private'));
    const bob = hex(str(rfc61, 'bob_private'));
    assert.is(toHex(backend.x25519Public(alice)), str(rfc61, 'alice_public'));
    assert.is(toHex(backend.x25519Public(bob)), str(rfc61, 'bob_public'));
    const ab = backend.x25519(alice, hex(str(rfc61, 'bob_public')));
    const ba = backend.x25519(bob, hex(str(rfc61, 'alice_public')));
    assert.ok(ab !== null && ba !== null);
    assert.is(toHex(ab), str(rfc61, 'shared'));
    assert.is(toHex(ba), str(rfc61, 'shared'));
  });

  t('RFC 7748 5.2 iterated: after 1 and 1000 rounds', () => {
    let k: Uint8Array = new Uint8Array(32);
    k[0] = 9;
    let u: Uint8Array = k.slice();
    for (let i = 1; i <= 1000; i++) {
      const r = backend.x25519(k, u);
      assert.ok(r !== null);
      u = k;
      k = r;
      if (i === 1) assert.is(toHex(k), str(iterated, 'after_1'));
    }
    assert.is(toHex(k), str(iterated, 'after_1000'));
  });

  t('does not modify its inputs (clamping is internal)', () => {
    const v = vectors[0];
    const priv = hex(str(v, 'private'));
    const pub = hex(str(v, 'public'));
    backend.x25519(priv, pub);
    backend.x25519Public(priv);
    assert.is(toHex(priv), str(v, 'private'));
    assert.is(toHex(pub), str(v, 'public'));
  });

  t('wrong key sizes are caller errors (RangeError)', () => {
    assert.throws(() => backend.x25519(new Uint8Array(31), new Uint8Array(32)), RangeError);
    assert.throws(() => backend.x25519(new Uint8Array(32), new Uint8Array(33)), RangeError);
    assert.throws(() => backend.x25519Public(new Uint8Array(16)), RangeError);
  });

  t.run();
}
