// Byte-exact known answers from shared/vectors/wireguard-messages.json (both cases, both crypto
// backends): every traced chaining key / hash / key / DH / ciphertext of the handshake, the
// initiation and response bytes, transport keys, data and keepalive messages through the engine,
// the cookie reply and the initiation with mac2.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CryptoBackend } from '../../src/crypto/types.js';
import {
  DECAP_HANDLED,
  DECAP_TUNNEL,
  ENCAP_QUEUED,
  WgEngine,
} from '../../src/noise/engine.js';
import { CookieChecker, CookieGenerator } from '../../src/noise/cookie.js';
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  transportKeys,
} from '../../src/noise/handshake.js';
import { cookieReplyFields } from '../../src/noise/messages.js';
import { tai64n } from '../../src/noise/tai64n.js';
import { arr, BACKENDS, hex, loadVectors, num, ScriptedRandom, str, toHex } from './helpers.js';

const V = loadVectors('wireguard-messages.json');
const CASES = arr(V, 'cases');
const TRACE_KEYS = ['C', 'H', 'k', 'dh', 'tau', 'ciphertext'] as const;

const iPriv = hex(str(V, 'inputs.initiator_static_private'));
const iPub = hex(str(V, 'inputs.initiator_static_public'));
const rPriv = hex(str(V, 'inputs.responder_static_private'));
const rPub = hex(str(V, 'inputs.responder_static_public'));
const iEph = hex(str(V, 'inputs.initiator_ephemeral_private'));
const rEph = hex(str(V, 'inputs.responder_ephemeral_private'));
const iIndex = num(V, 'inputs.initiator_sender_index');
const rIndex = num(V, 'inputs.responder_sender_index');
const wallNs = BigInt(num(V, 'inputs.timestamp_unix_seconds')) * 1_000_000_000n + BigInt(num(V, 'inputs.timestamp_nanoseconds'));

/** Collects trace values as "step:name" -> hex. */
function recorder(): { trace: (n: number, name: string, v: Uint8Array) => void; seen: Map<string, string> } {
  const seen = new Map<string, string>();
  return { seen, trace: (n, name, v) => seen.set(`${n}:${name}`, toHex(v)) };
}

/** Assert every value of a vector trace appears with the same step number in the recording. */
function assertTrace(steps: unknown[], seen: Map<string, string>, what: string): number {
  let checked = 0;
  for (const step of steps) {
    const n = num(step, 'n');
    for (const key of TRACE_KEYS) {
      if (typeof step === 'object' && step !== null && key in step) {
        assert.is(seen.get(`${n}:${key}`), str(step, key), `${what} step ${n} ${key}`);
        checked++;
      }
    }
  }
  return checked;
}

for (const crypto of BACKENDS) {
  for (const c of CASES) {
    const name = `${str(c, 'name')} [${crypto.name}]`;
    const psk = hex(str(c, 'Q'));

    test(`handshake functions reproduce every trace value and both messages: ${name}`, () => {
      const ri = recorder();
      const init = createInitiation(crypto, { privateKey: iPriv, publicKey: iPub }, rPub, null, iEph, iIndex, tai64n(wallNs), ri.trace);
      assert.ok(init);
      assert.is(toHex(tai64n(wallNs)), str(V, 'inputs.timestamp_tai64n'));
      new CookieGenerator(crypto, rPub).addMacs(init.message, 0);
      assert.is(toHex(init.message), str(c, 'initiation.bytes'));
      assert.is(toHex(init.message.subarray(8, 40)), str(c, 'initiation.trace.3.E_i_pub'));
      assert.is(assertTrace(arr(c, 'initiation.trace'), ri.seen, 'initiator'), 15);

      // The responder computes the same values.
      const rr = recorder();
      const consumed = consumeInitiation(crypto, { privateKey: rPriv, publicKey: rPub }, init.message,
        (rs) => (toHex(rs) === toHex(iPub) ? crypto.x25519(rPriv, rs) : null), rr.trace);
      assert.ok(typeof consumed !== 'number');
      assert.is(toHex(consumed.remoteStatic), toHex(iPub));
      assert.is(toHex(consumed.timestamp), str(V, 'inputs.timestamp_tai64n'));
      assert.is(consumed.sender, iIndex);
      assertTrace(arr(c, 'initiation.trace'), rr.seen, 'responder (message 1)');

      const resp = createResponse(crypto, consumed, consumed.remoteEphemeral, iPub, psk, rEph, rIndex, consumed.sender, rr.trace);
      assert.ok(resp);
      new CookieGenerator(crypto, iPub).addMacs(resp.message, 0);
      assert.is(toHex(resp.message), str(c, 'response.bytes'));
      assert.is(assertTrace(arr(c, 'response.trace'), rr.seen, 'responder'), 12);
      assert.is(toHex(resp.ck), str(c, 'final_chaining_key'));
      assert.is(toHex(resp.h), str(c, 'final_handshake_hash'));

      const ri2 = recorder();
      const done = consumeResponse(crypto, { privateKey: iPriv, publicKey: iPub }, init, iEph, psk, resp.message, ri2.trace);
      assert.ok(typeof done !== 'number');
      assertTrace(arr(c, 'response.trace'), ri2.seen, 'initiator (message 2)');
      assert.is(done.sender, rIndex);
      assert.is(toHex(done.ck), str(c, 'final_chaining_key'));
      assert.is(toHex(done.h), str(c, 'final_handshake_hash'));

      const [t1, t2] = transportKeys(crypto, done.ck);
      assert.is(toHex(t1), str(c, 'transport_keys.initiator_send'));
      assert.is(toHex(t2), str(c, 'transport_keys.initiator_receive'));
      assert.is(toHex(t2), str(c, 'transport_keys.responder_send'));

      // The wrong PSK fails the response's empty AEAD.
      const wrongPsk = psk.slice();
      wrongPsk[0]! ^= 1;
      assert.type(consumeResponse(crypto, { privateKey: iPriv, publicKey: iPub }, init, iEph, wrongPsk, resp.message), 'number');
    });

    test(`engines produce the exact initiation, response, data and keepalive bytes: ${name}`, () => {
      runEngines(crypto, c, psk);
    });

    test(`cookie reply and initiation_with_mac2 are byte-exact: ${name}`, () => {
      const rnd = new ScriptedRandom().push(hex(str(c, 'cookie.cookie_secret_Rm'))).push(hex(str(c, 'cookie.nonce')));
      const checker = new CookieChecker(crypto, rnd.fn, (buf) => buf.set(rnd.fn(buf.length)));
      checker.init(rPub);
      const initiation = hex(str(c, 'initiation.bytes'));
      const source = hex(str(c, 'cookie.source_bytes_Am'));
      assert.ok(checker.checkMac1(initiation));
      const reply = checker.createReply(initiation, source, 5_000);
      assert.ok(reply);
      assert.is(toHex(reply), str(c, 'cookie.cookie_reply.bytes'));
      assert.not.ok(checker.checkMac2(initiation, source, 5_000), 'zero mac2 is not valid');

      const gen = new CookieGenerator(crypto, rPub);
      const msg = initiation.slice();
      gen.addMacs(msg, 5_000);
      assert.is(toHex(msg), str(c, 'initiation.bytes'), 'no cookie yet: mac2 stays zero');
      assert.ok(gen.consumeReply(cookieReplyFields(reply), 5_000));
      assert.not.ok(gen.consumeReply(cookieReplyFields(reply), 5_000), 'a reply is consumed once per sent message');
      gen.addMacs(msg, 6_000);
      assert.is(toHex(msg), str(c, 'initiation_with_mac2.bytes'));
      assert.is(toHex(msg.subarray(132)), str(c, 'initiation_with_mac2.mac2'));
      assert.ok(checker.checkMac2(msg, source, 6_000));
      const otherSource = source.slice();
      otherSource[5]! ^= 1;
      assert.not.ok(checker.checkMac2(msg, otherSource, 6_000), 'cookie is bound to the source port');
      // The cookie expires after COOKIE_REFRESH_TIME on the initiator, the secret on the responder.
      gen.addMacs(msg, 5_000 + 120_000);
      assert.is(toHex(msg.subarray(132)), '00000000000000000000000000000000');
      assert.not.ok(checker.checkMac2(hex(str(c, 'initiation_with_mac2.bytes')), source, 5_000 + 120_001));
    });
  }
}

function runEngines(crypto: CryptoBackend, c: unknown, psk: Uint8Array): void {
  const le = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
  const ri = new ScriptedRandom().push(iEph).push(le(iIndex));
  const rr = new ScriptedRandom().push(rEph).push(le(rIndex));
  const I = new WgEngine({ crypto, random: ri.fn, wallClockNs: () => wallNs });
  const R = new WgEngine({ crypto, random: rr.fn, wallClockNs: () => wallNs });
  I.setPrivateKey(iPriv);
  R.setPrivateKey(rPriv);
  assert.is(toHex(I.publicKey!), toHex(iPub));
  const pI = I.addPeer(rPub);
  const pR = R.addPeer(iPub);
  if (str(c, 'name') === 'psk') {
    I.setPresharedKey(pI, psk);
    R.setPresharedKey(pR, psk);
  }
  const now = 50_000;
  const buf = new Uint8Array(2048);
  const src = new Uint8Array([192, 0, 2, 2, 0x9c, 0x40]);
  const data = arr(c, 'data');
  const echo = hex(str(data[0], 'plaintext_packet'));
  const reply = hex(str(data[2], 'plaintext_packet'));

  assert.is(I.encapsulate(pI, echo, 0, echo.length, now, buf, 0), ENCAP_QUEUED);
  const o1 = I.takeOutbox();
  assert.equal(o1.map((d) => d.kind), ['initiation']);
  assert.is(toHex(o1[0]!.data), str(c, 'initiation.bytes'));

  assert.is(R.decapsulate(o1[0]!.data, 0, 148, src, now, buf, 0), DECAP_HANDLED);
  assert.is(R.lastPeer, pR);
  const o2 = R.takeOutbox();
  assert.equal(o2.map((d) => d.kind), ['response']);
  assert.is(toHex(o2[0]!.data), str(c, 'response.bytes'));

  assert.is(I.decapsulate(o2[0]!.data, 0, 92, src, now, buf, 0), DECAP_HANDLED);
  const o3 = I.takeOutbox();
  assert.equal(o3.map((d) => d.kind), ['data'], 'the staged packet is sent instead of a keepalive');
  assert.is(toHex(o3[0]!.data), str(data[0], 'bytes'));
  I.sendKeepalive(pI, now);
  const o4 = I.takeOutbox();
  assert.equal(o4.map((d) => d.kind), ['keepalive']);
  assert.is(toHex(o4[0]!.data), str(data[1], 'bytes'));

  // The responder may not send before the session is confirmed: its packet is staged.
  assert.is(R.encapsulate(pR, reply, 0, reply.length, now, buf, 0), ENCAP_QUEUED);
  assert.is(R.takeOutbox().length, 0);
  const d0 = o3[0]!.data;
  assert.is(R.decapsulate(d0, 0, d0.length, src, now, buf, 0), DECAP_TUNNEL);
  assert.is(R.lastLength, echo.length);
  assert.is(toHex(buf.subarray(0, R.lastLength)), toHex(echo));
  const o5 = R.takeOutbox();
  assert.equal(o5.map((d) => d.kind), ['data'], 'confirmation released the staged reply');
  assert.is(toHex(o5[0]!.data), str(data[2], 'bytes'));
  assert.is(R.decapsulate(o4[0]!.data, 0, 32, src, now, buf, 0), DECAP_HANDLED);

  // In place: the reply decrypted over its own ciphertext.
  const d2 = o5[0]!.data.slice();
  assert.is(I.decapsulate(d2, 0, d2.length, src, now, d2, 16), DECAP_TUNNEL);
  assert.is(toHex(d2.subarray(16, 16 + I.lastLength)), toHex(reply));
  assert.ok(I.peerInfo(pI)!.lastHandshakeWallNs === wallNs);
  assert.ok(R.peerInfo(pR)!.lastHandshakeWallNs === wallNs);
  assert.is(R.peerInfo(pR)!.rxBytes, 148 + 128 + 32, 'rx bytes count whole datagrams like wireguard-go');
}

test.run();
