// Message classification and the engine's handling of malformed datagrams: every kind of bad
// input yields its reason code, is counted, and never throws.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DROP_BAD_MAC1,
  DROP_BAD_SIZE,
  DROP_RESERVED_NONZERO,
  DROP_TOO_SHORT,
  DROP_UNKNOWN_INDEX,
  DROP_UNKNOWN_TYPE,
  DROP_UNEXPECTED_MESSAGE,
  dropReasonName,
  WgEngine,
} from '../../src/noise/engine.js';
import { classifyMessage, initiationFields, responseFields, cookieReplyFields } from '../../src/noise/messages.js';
import { arr, BACKENDS, hex, loadVectors, str, toHex } from './helpers.js';

const V = loadVectors('wireguard-messages.json');
const c0 = arr(V, 'cases')[0];
const initiation = hex(str(c0, 'initiation.bytes'));
const response = hex(str(c0, 'response.bytes'));
const cookie = hex(str(c0, 'cookie.cookie_reply.bytes'));
const data = hex(str(arr(c0, 'data')[0], 'bytes'));

test('valid messages classify as their type', () => {
  assert.is(classifyMessage(initiation, 0, initiation.length), 1);
  assert.is(classifyMessage(response, 0, response.length), 2);
  assert.is(classifyMessage(cookie, 0, cookie.length), 3);
  assert.is(classifyMessage(data, 0, data.length), 4);
  assert.is(classifyMessage(data, 0, 32), 4, 'a keepalive-sized data message');
  const framed = new Uint8Array(200);
  framed.set(initiation, 30);
  assert.is(classifyMessage(framed, 30, 148), 1, 'offset is honoured');
});

test('field views split at the whitepaper offsets', () => {
  const f = initiationFields(initiation);
  assert.is(f.sender, 0x11223344);
  assert.is(toHex(f.ephemeral), str(c0, 'initiation.fields.unencrypted_ephemeral.hex'));
  assert.is(toHex(f.encryptedStatic), str(c0, 'initiation.fields.encrypted_static.hex'));
  assert.is(toHex(f.encryptedTimestamp), str(c0, 'initiation.fields.encrypted_timestamp.hex'));
  assert.is(toHex(f.mac1), str(c0, 'initiation.fields.mac1.hex'));
  const r = responseFields(response);
  assert.is(r.sender, 0x55667788);
  assert.is(r.receiver, 0x11223344);
  assert.is(toHex(r.encryptedNothing), str(c0, 'response.fields.encrypted_nothing.hex'));
  const k = cookieReplyFields(cookie);
  assert.is(k.receiver, 0x11223344);
  assert.is(toHex(k.nonce), str(c0, 'cookie.cookie_reply.fields.nonce.hex'));
});

test('wrong sizes are rejected with a reason', () => {
  for (const [m, name] of [[initiation, 'initiation'], [response, 'response'], [cookie, 'cookie']] as const) {
    const longer = new Uint8Array(m.length + 1);
    longer.set(m);
    assert.is(classifyMessage(longer, 0, longer.length), DROP_BAD_SIZE, `${name} + 1`);
    assert.is(classifyMessage(m, 0, m.length - 1), DROP_BAD_SIZE, `${name} - 1`);
  }
  assert.is(classifyMessage(data, 0, 31), DROP_TOO_SHORT, 'data shorter than a keepalive');
  assert.is(classifyMessage(data, 0, 3), DROP_TOO_SHORT);
  assert.is(classifyMessage(new Uint8Array(0), 0, 0), DROP_TOO_SHORT);
  assert.is(classifyMessage(initiation, 1, 148), DROP_TOO_SHORT, 'range beyond the buffer');
  assert.is(classifyMessage(initiation, -1, 148), DROP_TOO_SHORT, 'negative offset');
});

test('unknown types and non-zero reserved bytes are rejected', () => {
  for (const t of [0, 5, 0x80, 0xff]) {
    const m = initiation.slice();
    m[0] = t;
    assert.is(classifyMessage(m, 0, m.length), DROP_UNKNOWN_TYPE, `type ${t}`);
  }
  for (const i of [1, 2, 3]) {
    for (const m of [initiation, response, cookie, data]) {
      const bad = m.slice();
      bad[i] = 1;
      assert.is(classifyMessage(bad, 0, bad.length), DROP_RESERVED_NONZERO, `reserved byte ${i}`);
    }
  }
});

for (const crypto of BACKENDS) {
  test(`the engine drops malformed datagrams with counted reasons, never throwing [${crypto.name}]`, () => {
    const e = new WgEngine({ crypto });
    e.setPrivateKey(hex(str(V, 'inputs.responder_static_private')));
    e.addPeer(hex(str(V, 'inputs.initiator_static_public')));
    const out = new Uint8Array(2048);
    const src = new Uint8Array([192, 0, 2, 2]);
    const feed = (m: Uint8Array): number => e.decapsulate(m, 0, m.length, src, 1000, out, 0);

    const badMac1 = initiation.slice();
    badMac1[116]! ^= 0x01;
    assert.is(feed(badMac1), DROP_BAD_MAC1);
    const badBody = initiation.slice();
    badBody[50]! ^= 0x01; // mac1 covers the body too
    assert.is(feed(badBody), DROP_BAD_MAC1);
    const reserved = initiation.slice();
    reserved[2] = 7;
    assert.is(feed(reserved), DROP_RESERVED_NONZERO);
    assert.is(feed(initiation.subarray(0, 147)), DROP_BAD_SIZE);
    const unknown = initiation.slice();
    unknown[0] = 9;
    assert.is(feed(unknown), DROP_UNKNOWN_TYPE);
    assert.is(feed(data), DROP_UNKNOWN_INDEX, 'data for an index we never issued');
    assert.is(feed(cookie), DROP_UNEXPECTED_MESSAGE, 'cookie reply for an unknown index');
    // A response whose mac1 is for someone else's key.
    assert.is(feed(response), DROP_BAD_MAC1);

    // Random garbage of every length up to 200 bytes: a reason code each time, no exception.
    let seed = 1;
    for (let len = 0; len <= 200; len++) {
      const g = new Uint8Array(len);
      for (let i = 0; i < len; i++) { seed = (seed * 1103515245 + 12345) >>> 0; g[i] = seed >>> 24; }
      if (len > 0) g[0] = (len % 5);
      if (len > 3) { g[1] = 0; g[2] = 0; g[3] = 0; }
      assert.ok(feed(g) < 0, `garbage of ${len} bytes`);
    }
    assert.ok(e.dropsByReason[-DROP_BAD_MAC1]! >= 3);
    assert.is(e.dropsByReason[-DROP_RESERVED_NONZERO], 1);
    assert.is(dropReasonName(DROP_BAD_MAC1), 'bad-mac1');
    assert.is(e.takeOutbox().length, 0, 'nothing is ever answered to garbage');
  });
}

test.run();
