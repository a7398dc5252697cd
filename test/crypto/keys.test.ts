// Key generation and the base64 / hex key encodings.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backends } from '../../src/crypto/index.js';
import {
  clampPrivateKey,
  generatePresharedKey,
  generatePrivateKey,
  keyFromBase64,
  keyFromHex,
  keyToBase64,
  keyToHex,
  publicKey,
} from '../../src/crypto/keys.js';
import { hex, loadVectors, obj, str, toHex } from '../helpers/vectors.js';

const rfc = obj(loadVectors('x25519-vectors.json'), 'rfc7748_section_6_1');
const alicePriv = hex(str(rfc, 'alice_private'));
const alicePub = str(rfc, 'alice_public');

test('base64 round trip of the RFC 7748 keys, as wg prints them', () => {
  const b64 = keyToBase64(alicePriv);
  assert.is(b64, Buffer.from(alicePriv).toString('base64'));
  assert.is(b64.length, 44);
  const back = keyFromBase64(b64);
  assert.ok(back !== null);
  assert.is(toHex(back), toHex(alicePriv));
});

test('keyFromBase64 rejects everything key_from_base64 rejects', () => {
  const good = keyToBase64(alicePriv);
  assert.ok(keyFromBase64(good) !== null);
  const std = keyToBase64(new Uint8Array(32).fill(0xfb)); // '+/v7...': uses both special characters
  assert.ok(keyFromBase64(std) !== null);
  const urlSafe = std.replace(/\+/g, '-').replace(/\//g, '_');
  assert.is.not(urlSafe, std);
  const bad = [
    '',
    good.slice(0, 43), // no pad
    good + '=', // too long
    good.slice(0, 42) + '==', // 31-byte style padding
    ' ' + good.slice(1), // whitespace
    good.slice(0, 43) + '\n',
    urlSafe, // URL-safe alphabet
    good.slice(0, 42) + 'B=', // non-canonical: low bits of the last data char set
    good.slice(0, 42) + 'z=',
    'A'.repeat(44),
    '!' + good.slice(1),
  ];
  for (const s of bad) assert.is(keyFromBase64(s), null, JSON.stringify(s));
});

test('every canonical final character is accepted', () => {
  const stem = keyToBase64(new Uint8Array(32)).slice(0, 42);
  for (const c of 'AEIMQUYcgkosw048') {
    const k = keyFromBase64(stem + c + '=');
    assert.ok(k !== null, c);
    assert.is(keyToBase64(k), stem + c + '=');
  }
});

test('hex: lowercase out, either case in, exact length', () => {
  const h = keyToHex(alicePriv);
  assert.is(h, str(rfc, 'alice_private'));
  assert.is(toHex(keyFromHex(h.toUpperCase()) ?? new Uint8Array(0)), h);
  assert.is(keyFromHex(h.slice(2)), null);
  assert.is(keyFromHex(h + '00'), null);
  assert.is(keyFromHex(h.slice(1) + 'g'), null);
  assert.is(keyFromHex(' ' + h.slice(1)), null);
});

test('decoders: the same bytes as Buffer decoding for random keys, each in a buffer of its own (not the Buffer pool)', () => {
  for (let i = 0; i < 500; i++) {
    const key = backends.native.randomBytes(32);
    const b64 = Buffer.from(key).toString('base64');
    const fromB64 = keyFromBase64(b64);
    const fromHex = keyFromHex(i % 2 === 0 ? Buffer.from(key).toString('hex') : Buffer.from(key).toString('hex').toUpperCase());
    assert.ok(fromB64 !== null && fromHex !== null);
    assert.is(toHex(fromB64), toHex(key));
    assert.is(toHex(fromHex), toHex(key));
    for (const k of [fromB64, fromHex]) {
      assert.is(k.byteOffset, 0);
      assert.is(k.buffer.byteLength, 32, 'its own 32-byte ArrayBuffer, so zeroing it erases the only copy');
    }
  }
  // Every character class in every position of a hex key is checked.
  const h = keyToHex(alicePriv);
  for (let i = 0; i < 64; i++) assert.is(keyFromHex(h.slice(0, i) + 'x' + h.slice(i + 1)), null, `x at ${i}`);
});

test('encoders reject wrong key sizes', () => {
  assert.throws(() => keyToBase64(new Uint8Array(31)), RangeError);
  assert.throws(() => keyToHex(new Uint8Array(33)), RangeError);
});

test('clampPrivateKey clears bits 0-2 and 255, sets bit 254', () => {
  const k = clampPrivateKey(new Uint8Array(32).fill(0xff));
  assert.is(k[0], 0xf8);
  assert.is(k[31], 0x7f);
  const z = clampPrivateKey(new Uint8Array(32));
  assert.is(z[31], 0x40);
  assert.is(z[0], 0);
});

for (const backend of Object.values(backends)) {
  test(`generatePrivateKey is clamped and random (${backend.name})`, () => {
    const seen = new Set<string>();
    for (let i = 0; i < 64; i++) {
      const k = generatePrivateKey(backend);
      assert.is(k.length, 32);
      assert.is(k[0]! & 7, 0);
      assert.is(k[31]! & 0xc0, 0x40);
      seen.add(toHex(k));
    }
    assert.is(seen.size, 64);
  });

  test(`publicKey matches RFC 7748 (${backend.name})`, () => {
    assert.is(toHex(publicKey(alicePriv, backend)), alicePub);
  });

  test(`generatePresharedKey is 32 fresh bytes (${backend.name})`, () => {
    const a = generatePresharedKey(backend);
    assert.is(a.length, 32);
    assert.is.not(toHex(a), toHex(generatePresharedKey(backend)));
  });
}

test('defaults use the selected backend', () => {
  assert.is(toHex(publicKey(alicePriv)), alicePub);
  assert.is(generatePrivateKey().length, 32);
});

test.run();
