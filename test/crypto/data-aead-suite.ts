// The data-message AEAD contract (CryptoBackend.dataSeal / dataOpen), as one suite run against
// each implementation: the addon's (native/aead.cc, test/crypto/aead-addon.test.ts) and the pure
// TypeScript one (src/crypto/chacha20poly1305.ts, test/crypto/chacha20poly1305.test.ts). The
// shared vectors they can express (empty AAD, nonce 4 zero bytes || 64-bit counter), WireGuard's
// own data messages byte-exactly, forgeries and bad arguments leaving the buffer untouched, every
// kind of range overlap, and a differential run against `reference` (another backend's aeadSeal).

import { randomBytes, randomInt } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { DataAeadFn } from '../../src/crypto/addon.js';
import type { CryptoBackend } from '../../src/crypto/types.js';
import { bool, hex, list, loadVectors, num, obj, str, toHex } from '../helpers/vectors.js';

const file = loadVectors('chacha20poly1305-vectors.json');

interface Vector { readonly key: Uint8Array; readonly lo: number; readonly hi: number; readonly input: Uint8Array; readonly output: Uint8Array }

/** Vectors with an empty AAD whose 96-bit nonce is 4 zero bytes || 8 counter bytes (little-endian). */
function expressible(name: string): Vector[] {
  const out: Vector[] = [];
  for (const v of list(file, name)) {
    const nonce = hex(str(v, 'nonce96'));
    if (str(v, 'aad') !== '' || nonce.length !== 12 || nonce[0]! | nonce[1]! | nonce[2]! | nonce[3]!) continue;
    assert.not.ok(bool(v, 'expect_failure'), 'no must-fail vector has an empty AAD');
    const dv = new DataView(nonce.buffer, nonce.byteOffset, 12);
    out.push({ key: hex(str(v, 'key')), lo: dv.getUint32(4, true), hi: dv.getUint32(8, true), input: hex(str(v, 'input')), output: hex(str(v, 'output')) });
  }
  return out;
}

export const encVectors = expressible('chacha20poly1305_enc_vectors');
export const decVectors = expressible('chacha20poly1305_dec_vectors');


function nonceOf(lo: number, hi: number): Uint8Array {
  const n = new Uint8Array(12);
  const dv = new DataView(n.buffer);
  dv.setUint32(4, lo, true);
  dv.setUint32(8, hi, true);
  return n;
}

/** Registers and runs the contract tests for one implementation. */
export function dataAeadSuite(name: string, dataSeal: DataAeadFn, dataOpen: DataAeadFn, reference: CryptoBackend): void {
  const test = suite(`data AEAD: ${name}`);
  const node = reference;

  test('seal vectors: in place, out of place, and back', () => {
    for (const v of encVectors) {
      const n = v.input.length;
      const buf = new Uint8Array(8 + n + 16 + n + 16 + 8);
      buf.set(v.input, 8);
      const dst = 8 + n + 16;
      assert.is(dataSeal(v.key, v.lo, v.hi, buf, 8, n, dst), n + 16);
      assert.is(toHex(buf.subarray(dst, dst + n + 16)), toHex(v.output), `out of place, ${n} bytes`);
      assert.is(toHex(buf.subarray(8, 8 + n)), toHex(v.input), 'source untouched out of place');
      assert.is(dataSeal(v.key, v.lo, v.hi, buf, 8, n, 8), n + 16);
      assert.is(toHex(buf.subarray(8, 8 + n + 16)), toHex(v.output), `in place, ${n} bytes`);
      assert.is(dataOpen(v.key, v.lo, v.hi, buf, 8, n + 16, 8), n);
      assert.is(toHex(buf.subarray(8, 8 + n)), toHex(v.input), 'opened in place');
      assert.ok(buf.subarray(0, 8).every((b) => b === 0) && buf.subarray(buf.length - 8).every((b) => b === 0), 'margins untouched');
    }
  });

  test('open vectors: in place and out of place', () => {
    for (const v of decVectors) {
      const n = v.output.length;
      const a = new Uint8Array(4 + n + 16 + 4 + n);
      a.set(v.input, 4);
      assert.is(dataOpen(v.key, v.lo, v.hi, a, 4, n + 16, 4 + n + 16 + 4), n);
      assert.is(toHex(a.subarray(4 + n + 16 + 4)), toHex(v.output), 'out of place');
      assert.is(dataOpen(v.key, v.lo, v.hi, a, 4, n + 16, 4), n);
      assert.is(toHex(a.subarray(4, 4 + n)), toHex(v.output), 'in place');
    }
  });

  test('forgeries: every tag bit and sampled ciphertext bits flipped give -1 and leave buf untouched', () => {
    for (const v of decVectors) {
      const n = v.output.length;
      const buf = new Uint8Array(n + 16 + 3);
      buf.set(v.input, 3);
      const positions = [...Array(16).keys()].map((i) => n + i);
      for (let i = 0; i < Math.min(n, 24); i++) positions.push(Math.floor((i * n) / Math.min(n, 24)));
      for (const pos of positions) {
        for (let bit = 0; bit < 8; bit++) {
          buf[3 + pos]! ^= 1 << bit;
          const before = buf.slice();
          assert.is(dataOpen(v.key, v.lo, v.hi, buf, 3, n + 16, 3), -1, `flip byte ${pos} bit ${bit}`);
          assert.is(toHex(buf), toHex(before), 'forged in place: nothing written');
          assert.is(dataOpen(v.key, v.lo, v.hi, buf, 3, n + 16, 0), -1);
          assert.is(toHex(buf), toHex(before), 'forged to an overlapping range: nothing written');
          buf[3 + pos]! ^= 1 << bit;
        }
      }
      // Wrong counter (either half) or wrong key: also a forgery.
      const before = buf.slice();
      assert.is(dataOpen(v.key, v.lo ^ 1, v.hi, buf, 3, n + 16, 3), -1);
      assert.is(dataOpen(v.key, v.lo, (v.hi ^ 0x80000000) >>> 0, buf, 3, n + 16, 3), -1);
      const key = v.key.slice();
      key[31]! ^= 1;
      assert.is(dataOpen(key, v.lo, v.hi, buf, 3, n + 16, 3), -1);
      assert.is(toHex(buf), toHex(before));
      assert.is(dataOpen(v.key, v.lo, v.hi, buf, 3, n + 16, 3), n, 'the unmodified message still opens');
    }
  });

  test("WireGuard's data messages decrypt and re-encrypt byte-exactly", () => {
    const messages = loadVectors('wireguard-messages.json');
    let checked = 0;
    for (const c of list(messages, 'cases')) {
      const keys = obj(c, 'transport_keys');
      for (const d of list(c, 'data')) {
        const key = hex(str(keys, str(d, 'key')));
        const counter = num(d, 'counter');
        const bytes = hex(str(d, 'bytes'));
        const padded = hex(str(d, 'padded_plaintext'));
        const buf = bytes.slice();
        const lo = counter >>> 0;
        const hi = Math.floor(counter / 2 ** 32);
        assert.is(dataOpen(key, lo, hi, buf, 16, bytes.length - 16, 16), padded.length);
        assert.is(toHex(buf.subarray(16, 16 + padded.length)), toHex(padded));
        assert.is(dataSeal(key, lo, hi, buf, 16, padded.length, 16), bytes.length - 16);
        assert.is(toHex(buf), toHex(bytes));
        checked++;
      }
    }
    assert.is(checked, 6, 'three data messages (echo, keepalive, reply) in each of two cases');
  });

  test('bad arguments give -1 and touch nothing', () => {
    const key = new Uint8Array(32).fill(9);
    const buf = randomBytes(100);
    const view = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    const before = toHex(view);
    const bad: [string, unknown[]][] = [
      ['seal source past the end', [key, 0, 0, view, 90, 11, 0]],
      ['seal tag past the end', [key, 0, 0, view, 0, 10, 75]],
      ['seal destination past the end', [key, 0, 0, view, 0, 10, 101]],
      ['open source past the end', [key, 0, 0, view, 80, 21, 0]],
      ['open destination past the end', [key, 0, 0, view, 0, 40, 80]],
      ['open shorter than a tag', [key, 0, 0, view, 0, 15, 0]],
      ['short key', [key.subarray(1), 0, 0, view, 0, 16, 0]],
      ['long key', [new Uint8Array(33), 0, 0, view, 0, 16, 0]],
      ['key not a Uint8Array', [new Uint16Array(16), 0, 0, view, 0, 16, 0]],
      ['key an ArrayBuffer', [key.buffer, 0, 0, view, 0, 16, 0]],
      ['buf not a Uint8Array', [key, 0, 0, new Float64Array(20), 0, 16, 0]],
      ['buf a string', [key, 0, 0, 'x'.repeat(100), 0, 16, 0]],
      ['negative offset', [key, 0, 0, view, -1, 16, 0]],
      ['fractional length', [key, 0, 0, view, 0, 16.5, 0]],
      ['NaN offset', [key, 0, 0, view, 0, 16, NaN]],
      ['huge offset', [key, 0, 0, view, 2 ** 32, 16, 0]],
      ['offset wrapping to 0 as uint32', [key, 0, 0, view, 2 ** 32, 16, 2 ** 32]],
      ['length near 2^32', [key, 0, 0, view, 0, 2 ** 32 - 1, 0]],
      ['negative counter', [key, -1, 0, view, 0, 16, 0]],
      ['counter over 32 bits', [key, 0, 2 ** 32, view, 0, 16, 0]],
      ['counter a string', [key, '1', 0, view, 0, 16, 0]],
      ['too few arguments', [key, 0, 0, view, 0, 16]],
    ];
    const seal = dataSeal as (...args: unknown[]) => number;
    const open = dataOpen as (...args: unknown[]) => number;
    for (const [what, args] of bad) {
      if (!what.startsWith('open')) assert.is(seal(...args), -1, `seal: ${what}`);
      if (!what.startsWith('seal')) assert.is(open(...args), -1, `open: ${what}`);
      assert.is(toHex(view), before, `buffer untouched: ${what}`);
    }
    // The exact edges are accepted.
    assert.is(dataSeal(key, 0, 0, view, 0, 84, 0), 100);
    assert.is(dataOpen(key, 0, 0, view, 0, 100, 16), 84);
  });

  test('offsets count from the start of a view, and nothing outside the view is touched', () => {
    const key = randomBytes(32);
    const parent = randomBytes(300);
    const before = toHex(parent);
    const view = parent.subarray(50, 250);
    assert.is(dataSeal(key, 7, 9, view, 190, 10, 190), -1, 'the tag would end past the view');
    assert.is(dataOpen(key, 7, 9, view, 180, 21, 180), -1);
    assert.is(toHex(parent), before);
    const plain = new Uint8Array(view.subarray(0, 100)); // a copy (Buffer#slice would be a view)
    assert.is(dataSeal(key, 7, 9, view, 0, 100, 84), 116);
    const sealed = new Uint8Array(116);
    node.aeadSeal(key, nonceOf(7, 9), plain, null, sealed, 0);
    assert.is(toHex(view.subarray(84, 200)), toHex(sealed));
    assert.is(toHex(parent.subarray(0, 50)) + toHex(parent.subarray(250)), before.slice(0, 100) + before.slice(500));
  });

  const COUNTERS: readonly [number, number][] = [[0, 0], [1, 0], [0xffffffff, 0], [0, 1], [0xffffffff, 0xffffffff], [0x12345678, 0x9abcdef0]];

  test(`differential against ${reference.name}'s aeadSeal / aeadOpen: random sizes 0..1500, counters with hi > 0, any overlap`, () => {
    for (let round = 0; round < 400; round++) {
      const n = round < 20 ? round : randomInt(0, 1501);
      const [lo, hi] = round < COUNTERS.length * 10 ? COUNTERS[round % COUNTERS.length]! : [randomInt(0, 2 ** 32), randomInt(0, 2 ** 32)];
      const key = randomBytes(32);
      const plain = randomBytes(n);
      const expected = new Uint8Array(n + 16);
      assert.is(node.aeadSeal(key, nonceOf(lo, hi), plain, null, expected, 0), n + 16);
      // Source at 40, destination anywhere from 0 to 80: before, overlapping either way, in place, after.
      const shift = round % 5 === 0 ? 0 : randomInt(-40, 41);
      const buf = new Uint8Array(40 + n + 16 + 40);
      buf.set(plain, 40);
      assert.is(dataSeal(key, lo, hi, buf, 40, n, 40 + shift), n + 16);
      assert.is(toHex(buf.subarray(40 + shift, 40 + shift + n + 16)), toHex(expected), `seal n=${n} shift=${shift}`);
      // And back to yet another overlapping position.
      const back = randomInt(0, 81);
      assert.is(dataOpen(key, lo, hi, buf, 40 + shift, n + 16, back), n);
      assert.is(toHex(buf.subarray(back, back + n)), toHex(plain), `open n=${n} to ${back}`);
      // The reference opens what dataSeal made, and dataOpen opens what the reference made.
      const viaNode = new Uint8Array(n);
      assert.is(node.aeadOpen(key, nonceOf(lo, hi), expected, null, viaNode, 0), n);
      assert.is(toHex(viaNode), toHex(plain));
    }
  });

  test.run();
}
