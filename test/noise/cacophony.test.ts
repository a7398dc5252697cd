// The generic Noise_IKpsk2 core of handshake.ts (prologue and payloads as parameters) against the
// cacophony known-answer transcript: both handshake messages, the handshake hash and the four
// transport messages, on both crypto backends.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readMessage1, readMessage2, transportKeys, writeMessage1, writeMessage2 } from '../../src/noise/handshake.js';
import { arr, BACKENDS, hex, loadVectors, str, toHex } from './helpers.js';

const V = loadVectors('noise-ikpsk2-cacophony.json');
const v = (k: string): Uint8Array => hex(str(V, `vector.${k}`));
const msgs = arr(V, 'vector.messages');

function nonce(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, BigInt(counter), true);
  return n;
}

for (const crypto of BACKENDS) {
  test(`cacophony Noise_IKpsk2 transcript [${crypto.name}]`, () => {
    assert.is(str(V, 'vector.protocol_name'), 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
    const prologue = v('init_prologue');
    const psk = hex(String(arr(V, 'vector.init_psks')[0]));
    const iS = { privateKey: v('init_static'), publicKey: crypto.x25519Public(v('init_static')) };
    const rS = { privateKey: v('resp_static'), publicKey: crypto.x25519Public(v('resp_static')) };
    assert.is(toHex(rS.publicKey), toHex(v('init_remote_static')));

    const m1 = writeMessage1(crypto, prologue, iS, rS.publicKey, null, v('init_ephemeral'), hex(str(msgs[0], 'payload')));
    assert.ok(m1);
    assert.is(toHex(m1.ephemeralPublic) + toHex(m1.encryptedStatic) + toHex(m1.encryptedPayload), str(msgs[0], 'ciphertext'));

    const r1 = readMessage1(crypto, prologue, rS, m1.ephemeralPublic, m1.encryptedStatic, m1.encryptedPayload,
      (rs) => crypto.x25519(rS.privateKey, rs));
    assert.ok(typeof r1 !== 'number');
    assert.is(toHex(r1.payload), str(msgs[0], 'payload'));
    assert.is(toHex(r1.remoteStatic), toHex(iS.publicKey));

    const m2 = writeMessage2(crypto, r1, r1.remoteEphemeral, r1.remoteStatic, psk, v('resp_ephemeral'), hex(str(msgs[1], 'payload')));
    assert.ok(m2);
    assert.is(toHex(m2.ephemeralPublic) + toHex(m2.encryptedPayload), str(msgs[1], 'ciphertext'));
    assert.is(toHex(m2.h), str(V, 'vector.handshake_hash'));

    const r2 = readMessage2(crypto, m1, iS, v('init_ephemeral'), psk, m2.ephemeralPublic, m2.encryptedPayload);
    assert.ok(typeof r2 !== 'number');
    assert.is(toHex(r2.payload), str(msgs[1], 'payload'));
    assert.is(toHex(r2.h), str(V, 'vector.handshake_hash'));
    assert.is(toHex(r2.ck), toHex(m2.ck));

    const [k1, k2] = transportKeys(crypto, r2.ck);
    const counters = [0, 0];
    for (let i = 2; i < msgs.length; i++) {
      const dir = i % 2 === 0 ? 0 : 1; // even: initiator -> responder with k1
      const key = dir === 0 ? k1 : k2;
      const pt = hex(str(msgs[i], 'payload'));
      const ct = new Uint8Array(pt.length + 16);
      crypto.aeadSeal(key, nonce(counters[dir]!), pt, null, ct, 0);
      assert.is(toHex(ct), str(msgs[i], 'ciphertext'), `transport message ${i}`);
      const back = new Uint8Array(pt.length);
      assert.is(crypto.aeadOpen(key, nonce(counters[dir]!), ct, null, back, 0), pt.length);
      counters[dir]!++;
    }
  });
}

test.run();
