// Handshake edge cases: all-zero DH results are rejected on every side, TAI64N encoding and
// ordering, unique random sender indices, wrong keys, and a peer with a low-order public key.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DROP_HANDSHAKE_INVALID,
  DROP_UNKNOWN_PEER_KEY,
  ENCAP_QUEUED,
  WgEngine,
} from '../../src/noise/engine.js';
import { consumeInitiation, createInitiation, readMessage2, writeMessage2 } from '../../src/noise/handshake.js';
import { readU32 } from '../../src/noise/messages.js';
import { tai64n, tai64nAfter } from '../../src/noise/tai64n.js';
import { BACKENDS, hex, ipv4Packet, loadVectors, ScriptedRandom, str, toHex } from './helpers.js';

const V = loadVectors('wireguard-messages.json');
const iS = { privateKey: hex(str(V, 'inputs.initiator_static_private')), publicKey: hex(str(V, 'inputs.initiator_static_public')) };
const rS = { privateKey: hex(str(V, 'inputs.responder_static_private')), publicKey: hex(str(V, 'inputs.responder_static_public')) };
const iEph = hex(str(V, 'inputs.initiator_ephemeral_private'));
const ZERO = new Uint8Array(32);
const ONE = new Uint8Array(32);
ONE[0] = 1; // another low-order point

test('TAI64N: encoding, whitening and strict ordering', () => {
  assert.is(toHex(tai64n(1_700_000_000_838_860_800n)), str(V, 'inputs.timestamp_tai64n'));
  assert.is(toHex(tai64n(1_700_000_000_838_860_800n + 16_000_000n)), toHex(tai64n(1_700_000_000_838_860_800n)), 'below the 2^24 ns grain');
  assert.is(toHex(tai64n(0n)), '400000000000000a00000000');
  const a = tai64n(1_700_000_000_000_000_000n);
  const b = tai64n(1_700_000_000_100_000_000n);
  const c = tai64n(1_700_000_001_000_000_000n);
  assert.ok(tai64nAfter(b, a) && tai64nAfter(c, b) && !tai64nAfter(a, b) && !tai64nAfter(a, a));
});

for (const crypto of BACKENDS) {
  const T = (name: string, fn: () => void): void => test(`${name} [${crypto.name}]`, fn);

  T('all-zero DH results are rejected on every side', () => {
    for (const bad of [ZERO, ONE]) {
      assert.is(createInitiation(crypto, iS, bad, null, iEph, 1, tai64n(1n)), null, 'initiation to a low-order static key');
      const good = createInitiation(crypto, iS, rS.publicKey, null, iEph, 1, tai64n(1n))!;
      const m = good.message.slice();
      m.set(bad, 8); // low-order ephemeral
      assert.is(consumeInitiation(crypto, rS, m, () => crypto.x25519(rS.privateKey, iS.publicKey)), DROP_HANDSHAKE_INVALID);
      assert.is(writeMessage2(crypto, good, bad, iS.publicKey, ZERO, iEph, new Uint8Array(0)), null, 'response to a low-order ephemeral');
      assert.is(readMessage2(crypto, good, iS, iEph, ZERO, bad, new Uint8Array(16)), DROP_HANDSHAKE_INVALID, 'low-order responder ephemeral');
    }
  });

  T('an initiation for another key, or from an unknown key, is refused', () => {
    const msg = createInitiation(crypto, iS, rS.publicKey, null, iEph, 1, tai64n(1n))!.message;
    const other = { privateKey: iEph, publicKey: crypto.x25519Public(iEph) };
    assert.is(consumeInitiation(crypto, other, msg, () => null), DROP_HANDSHAKE_INVALID, 'static does not decrypt');
    assert.is(consumeInitiation(crypto, rS, msg, () => null), DROP_UNKNOWN_PEER_KEY, 'no such peer');
    const tampered = msg.slice();
    tampered[100]! ^= 1;
    assert.is(consumeInitiation(crypto, rS, tampered, () => crypto.x25519(rS.privateKey, iS.publicKey)), DROP_HANDSHAKE_INVALID, 'timestamp tampered');
  });

  T('a peer with a low-order public key never gets an initiation', () => {
    const e = new WgEngine({ crypto });
    e.setPrivateKey(rS.privateKey);
    const id = e.addPeer(ZERO);
    const out = new Uint8Array(256);
    assert.is(e.encapsulate(id, ipv4Packet(60, 1), 0, 60, 1000, out, 0), ENCAP_QUEUED);
    e.initiateHandshake(id, 10_000);
    assert.is(e.takeOutbox().length, 0);
  });

  T('sender indices are random and unique across all peers of an engine', () => {
    const rnd = new ScriptedRandom();
    const dup = new Uint8Array([1, 2, 3, 4]);
    rnd.push(dup).push(dup).push(dup).push(new Uint8Array([9, 9, 9, 9]));
    const e = new WgEngine({ crypto, random: rnd.fn });
    e.setPrivateKey(rS.privateKey);
    const p1 = e.addPeer(iS.publicKey);
    const p2 = e.addPeer(crypto.x25519Public(iEph));
    e.initiateHandshake(p1, 1000);
    e.initiateHandshake(p2, 1000);
    const [m1, m2] = e.takeOutbox();
    assert.is(readU32(m1!.data, 4), 0x04030201);
    assert.is(readU32(m2!.data, 4), 0x09090909, 'a colliding index is redrawn');
    assert.is(m2!.peer, p2);
  });
}

test.run();
