// The native addon's in-place data-message ChaCha20-Poly1305 (dataSeal / dataOpen, native/aead.cc):
// how the native backend picks it up (WGTS_AEAD), dataForget, and the data-AEAD contract suite
// (test/crypto/data-aead-suite.ts) with the pure backend's ChaCha20-Poly1305 as the reference.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AEAD_ENV, probeAddonAead, selectDataAead, type AddonAeadProbe, type DataAead } from '../../src/crypto/addon.js';
import { backends } from '../../src/crypto/index.js';
import { dataAeadSuite, decVectors, encVectors } from './data-aead-suite.js';

const probe = probeAddonAead();
if (!probe.ok) throw new Error(`the addon's AEAD must be usable on this machine: ${probe.reason}`);
const { dataSeal, dataOpen, dataForget }: DataAead = probe.aead;
const node = backends.native;

test('the vector files hold the expected expressible cases', () => {
  // enc 2, 5, 7, 8 and dec 2, 5, 7, 8 (0, 1, 256 and 512 plaintext bytes); the one must-fail
  // vector has a 63-byte AAD, so forgeries are made by bit flips instead.
  assert.equal(encVectors.map((v) => v.input.length), [0, 1, 256, 512]);
  assert.equal(decVectors.map((v) => v.output.length), [0, 1, 256, 512]);
});

test('the native backend carries dataSeal / dataOpen unless WGTS_AEAD=node', () => {
  const forcedNode = process.env[AEAD_ENV]?.trim() === 'node';
  assert.is(node.dataSeal, forcedNode ? undefined : dataSeal);
  assert.is(node.dataOpen, forcedNode ? undefined : dataOpen);
  assert.is(node.forgetKeys, forcedNode ? undefined : dataForget);
  assert.is(typeof backends.pure.dataSeal, 'function', 'the pure backend has its own in-place data AEAD');
  assert.not.equal(backends.pure.dataSeal, dataSeal);
});

test('WGTS_AEAD selection', () => {
  const broken = (): AddonAeadProbe => ({ ok: false, reason: 'not built' });
  const good = (): AddonAeadProbe => probe;
  assert.is(selectDataAead(undefined, good), probe.aead);
  assert.is(selectDataAead('', good), probe.aead);
  assert.is(selectDataAead('auto', good), probe.aead);
  assert.is(selectDataAead(' addon\n', good), probe.aead);
  assert.is(selectDataAead('node', good), undefined);
  assert.is(selectDataAead(undefined, broken), undefined);
  assert.is(selectDataAead('node', () => { throw new Error('node must not probe'); }), undefined);
  assert.throws(() => selectDataAead('addon', broken), /WGTS_AEAD=addon .*not built/);
  assert.throws(() => selectDataAead('openssl', good), /WGTS_AEAD must be 'addon', 'node' or 'auto'.*'openssl'/);
});

test('dataForget leaves the functions working (each call keys the contexts afresh)', () => {
  const key = new Uint8Array(32).fill(3);
  const buf = new Uint8Array(100 + 16);
  buf.fill(7, 0, 100);
  assert.is(dataSeal(key, 1, 2, buf, 0, 100, 0), 116);
  dataForget();
  assert.is(dataOpen(key, 1, 2, buf, 0, 116, 0), 100);
  assert.ok(buf.subarray(0, 100).every((b) => b === 7));
  dataForget();
  dataForget();
});

test.run();

dataAeadSuite('addon (native/aead.cc)', dataSeal, dataOpen, backends.pure);
