// The pure backend's own ChaCha20-Poly1305 (src/crypto/chacha20poly1305.ts): the data-AEAD contract
// suite with the native backend as the reference, and a differential run against the addon over
// every length class up to 65535 bytes (data messages, AAD-free) with random keys and counters.
// Every shared vector through aeadSeal / aeadOpen is in aead.test.ts (run for both backends).

import { randomBytes, randomInt } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { probeAddonAead } from '../../src/crypto/addon.js';
import { dataOpen, dataSeal } from '../../src/crypto/chacha20poly1305.js';
import { backends } from '../../src/crypto/index.js';
import { toHex } from '../helpers/vectors.js';
import { dataAeadSuite } from './data-aead-suite.js';

const probe = probeAddonAead();
if (!probe.ok) throw new Error(`the addon's AEAD must be usable on this machine: ${probe.reason}`);
const addon = probe.aead;

test('the pure backend uses these functions for data messages', () => {
  assert.is(backends.pure.dataSeal, dataSeal);
  assert.is(backends.pure.dataOpen, dataOpen);
});

test('differential against the addon: lengths 0..65535 (all of 0..300, then random), random keys and counters, aligned and not', () => {
  const lengths = [...Array(301).keys(), 1420, 1500, 4096, 65535 - 16, 65535];
  for (let i = 0; i < 200; i++) lengths.push(randomInt(0, 65536));
  for (const [i, n] of lengths.entries()) {
    const key = randomBytes(32);
    const lo = randomInt(0, 2 ** 32);
    const hi = i % 3 === 0 ? 0 : randomInt(0, 2 ** 32);
    const at = i % 4; // the data's alignment in its buffer
    const a = new Uint8Array(at + n + 16);
    a.set(randomBytes(n), at);
    const b = a.slice();
    assert.is(dataSeal(key, lo, hi, a, at, n, at), n + 16);
    assert.is(addon.dataSeal(key, lo, hi, b, at, n, at), n + 16);
    if (toHex(a) !== toHex(b)) assert.unreachable(`seal differs at length ${n}`);
    assert.is(addon.dataOpen(key, lo, hi, a, at, n + 16, at), n, `the addon opens the pure seal, length ${n}`);
    assert.is(dataOpen(key, lo, hi, b, at, n + 16, at), n, `the pure open opens the addon seal, length ${n}`);
    if (toHex(a.subarray(at, at + n)) !== toHex(b.subarray(at, at + n))) assert.unreachable(`open differs at length ${n}`);
  }
});

test('a tag forged in its last bit of the last block fails (Poly1305 carries across limbs)', () => {
  for (const n of [0, 15, 16, 17, 63, 64, 65, 1420]) {
    const key = randomBytes(32);
    const buf = new Uint8Array(n + 16);
    buf.set(randomBytes(n));
    dataSeal(key, 5, 0, buf, 0, n, 0);
    buf[n + 15]! ^= 0x80;
    const before = toHex(buf);
    assert.is(dataOpen(key, 5, 0, buf, 0, n + 16, 0), -1);
    assert.is(toHex(buf), before);
  }
});

test.run();

dataAeadSuite('pure TypeScript (src/crypto/chacha20poly1305.ts)', dataSeal, dataOpen, backends.native);
