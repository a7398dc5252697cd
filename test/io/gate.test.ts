// The native handshake gate (native/gate.cc, io/gate.ts) against the reference logic of
// noise/cookie.ts: the same mac1 verdicts, cookie replies that the initiator side (CookieGenerator:
// @noble XChaCha20-Poly1305, BLAKE2s) opens, mac2 accepted for that cookie from that source only;
// then on a real socket on loopback: the gate filters a received batch before JS sees it, answers
// with cookie replies under load (one per source address and port per second), keeps order and
// verdicts, and its drops are counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getCrypto } from '../../src/crypto/index.js';
import { makeEndpoint, parseIp } from '../../src/device/endpoint.js';
import { NativeGate } from '../../src/io/gate.js';
import { UdpSocket } from '../../src/io/udp.js';
import { INITIATION_SIZE, MSG_COOKIE_REPLY, RESPONSE_SIZE } from '../../src/noise/constants.js';
import { CookieChecker, CookieGenerator } from '../../src/noise/cookie.js';
import { cookieReplyFields, readU32 } from '../../src/noise/messages.js';
import { waitFor } from '../helpers/netns.js';

const crypto = getCrypto();
const priv = crypto.randomBytes(32);
const pub = crypto.x25519Public(priv);
const V_OTHER = 0, V_MAC1 = 1, V_MAC2 = 2, V_BAD = 3, V_COOKIE = 4, V_SPARED = 5;

function mapped(ip: string): Uint8Array {
  const a = parseIp(ip);
  if (a === null) throw new Error(ip);
  return a;
}
const SRC = mapped('10.1.2.3');

/** A handshake message of `type` with random body and macs written by the initiator side. */
function message(gen: CookieGenerator, type: 1 | 2, now: number): Uint8Array {
  const m = crypto.randomBytes(type === 1 ? INITIATION_SIZE : RESPONSE_SIZE);
  m[0] = type; m[1] = 0; m[2] = 0; m[3] = 0;
  gen.addMacs(m, now);
  return m;
}

test('mac1: the gate agrees with CookieChecker on valid, corrupted and foreign-key messages of both types', () => {
  const gate = new NativeGate(8);
  gate.setKey(pub);
  const checker = new CookieChecker(crypto, (n) => crypto.randomBytes(n), (b) => b.set(crypto.randomBytes(b.length)));
  checker.init(pub);
  const gen = new CookieGenerator(crypto, pub);
  const foreign = new CookieGenerator(crypto, crypto.x25519Public(crypto.randomBytes(32)));
  for (const type of [1, 2] as const) {
    for (let i = 0; i < 50; i++) {
      const m = message(i % 5 === 4 ? foreign : gen, type, 0);
      if (i % 7 === 3) m[(i * 13) % (m.length - 32)] ^= 1 << (i % 8);
      const want = checker.checkMac1(m) ? V_MAC1 : V_BAD;
      assert.is(gate.check(m, 0, m.length, SRC, 51820), want, `type ${type} message ${i}`);
    }
  }
  const m = message(gen, 1, 0);
  assert.is(gate.check(m, 0, m.length - 1, SRC, 1), V_OTHER, 'a wrong size is not a handshake message');
  m[1] = 1;
  assert.is(gate.check(m, 0, m.length, SRC, 1), V_OTHER, 'nor one with non-zero reserved bytes');
  gate.setKey(null);
  assert.is(gate.check(message(gen, 1, 0), 0, INITIATION_SIZE, SRC, 1), V_BAD, 'without a key every mac1 fails');
});

test('cookie reply: CookieGenerator opens it, mac2 then passes from that source only, and under load only mac2 passes', async () => {
  const gate = new NativeGate(8);
  gate.setKey(pub);
  const gen = new CookieGenerator(crypto, pub);
  const m = message(gen, 1, 0);
  gate.setUnderLoad(true);
  assert.is(gate.check(m, 0, m.length, SRC, 40000), V_COOKIE);
  const reply = new Uint8Array(64);
  assert.is(gate.cookieReply(m, 0, m.length, SRC, 40000, reply), 64);
  assert.is(reply[0], MSG_COOKIE_REPLY);
  assert.is(readU32(reply, 4), readU32(m, 4), 'addressed to the sender index');
  assert.ok(gen.consumeReply(cookieReplyFields(reply), 1), 'the initiator authenticates and stores the cookie');
  assert.is(gate.check(message(new CookieGenerator(crypto, pub), 1, 0), 0, INITIATION_SIZE, SRC, 40000), V_SPARED,
    'without mac2 from a source answered within the second: dropped unchecked');
  const again = message(gen, 1, 2);
  assert.is(gate.check(again, 0, again.length, SRC, 40000), V_SPARED, 'within the second even a valid mac2 waits (a real initiator retries after 5 s)');
  assert.is(gate.check(again, 0, again.length, SRC, 40001), V_COOKIE, 'another port is another source');
  assert.is(gate.check(again, 0, again.length, mapped('10.1.2.4'), 40000), V_COOKIE, 'another address too');
  gate.setUnderLoad(false);
  assert.is(gate.check(again, 0, again.length, SRC, 40000), V_MAC2, 'the cookie makes mac2 valid from that source');
  assert.is(gate.check(again, 0, again.length, SRC, 40001), V_MAC1, 'not under load: mac1 is enough');
  const response = message(gen, 2, 3);
  assert.is(gate.check(response, 0, response.length, SRC, 40000), V_MAC2, 'responses carry mac2 too');
  gate.setUnderLoad(true);
  await new Promise((r) => setTimeout(r, 1050));
  assert.is(gate.check(again, 0, again.length, SRC, 40000), V_MAC2, 'under load, a second after the reply: mac2 passes');
  gate.setUnderLoad(false);
  const tampered = reply.slice();
  tampered[40] ^= 1;
  const other = new CookieGenerator(crypto, pub);
  other.addMacs(message(other, 1, 0), 0);
  assert.not.ok(other.consumeReply(cookieReplyFields(tampered), 1), 'a tampered reply does not open');
  assert.is(gate.stats.cookieReplies, 1);
  const ipv6 = mapped('fd00::1');
  assert.is(gate.cookieReply(m, 0, m.length, ipv6, 1, reply), 64, 'IPv6 sources get replies too');
  assert.is(gate.cookieReply(m, 0, 10, SRC, 1, reply), 0, 'not for something that is not a handshake message');
});

test('on a socket: bad mac1 dropped, under load cookie replies sent in the batch, the rest delivered in order with verdicts', async () => {
  const target = new UdpSocket({ batch: 64 });
  const gate = new NativeGate(target.batchCapacity);
  gate.setKey(pub);
  target.setGate(gate);
  const seen: { type: number; len: number; verdict: number }[] = [];
  target.onReceiveBatch((b) => {
    for (let j = 0; j < b.count; j++) seen.push({ type: b.slab[b.offsets[j]!]!, len: b.lengths[j]!, verdict: gate.verdicts[j]! });
  });
  const port = target.open(0);
  const attacker = new UdpSocket();
  let replies = 0;
  let replyOk = true;
  const gen = new CookieGenerator(crypto, pub);
  attacker.onReceive((d, off, len) => {
    replies++;
    replyOk &&= len === 64 && d[off] === MSG_COOKIE_REPLY;
  });
  attacker.open(0);
  const to = makeEndpoint(mapped('127.0.0.1'), port);
  try {
    const data = new Uint8Array(64);
    data[0] = 4;
    const send = (m: Uint8Array): void => attacker.queue(m, 0, m.length, to);
    // Not under load: valid mac1 passes, bad mac1 does not, data passes untouched.
    const good = message(gen, 1, 0);
    const bad = good.slice();
    bad[20] ^= 1;
    send(good); send(bad); send(data); send(good);
    attacker.flush();
    await waitFor(() => seen.length >= 3, 5000, 10, 'three datagrams');
    assert.equal(seen, [{ type: 1, len: 148, verdict: V_MAC1 }, { type: 4, len: 64, verdict: V_OTHER }, { type: 1, len: 148, verdict: V_MAC1 }]);
    assert.is(gate.stats.badMac1, 1);
    // Under load: 100 valid-mac1 initiations from each of 50 ports get one cookie reply per port
    // (one per source and second); only the data gets through.
    gate.setUnderLoad(true);
    seen.length = 0;
    const others: UdpSocket[] = [];
    try {
      for (let p = 0; p < 49; p++) {
        const s = new UdpSocket();
        s.onReceive(() => { replies++; });
        s.open(0);
        others.push(s);
      }
      for (const s of [attacker, ...others]) {
        for (let i = 0; i < 100; i++) { const m = message(gen, 1, 0); s.queue(m, 0, m.length, to); }
        s.flush();
      }
      send(data);
      attacker.flush();
      await waitFor(() => seen.length >= 1 && gate.stats.handshakes >= 5003, 5000, 10, 'the flood and the data');
      await waitFor(() => replies >= 50, 5000, 10, '50 cookie replies');
      assert.ok(replyOk);
      assert.equal(seen, [{ type: 4, len: 64, verdict: V_OTHER }]);
      assert.is(gate.stats.cookieReplies, 50);
      assert.is(gate.stats.repliesSpared, 4950);
      assert.ok(target.stats.txBatches <= 50, `cookie replies leave in sendmmsg batches (${target.stats.txBatches} calls)`);
      // A second later the same source gets a reply again.
      await new Promise((r) => setTimeout(r, 1050));
      send(message(gen, 1, 0));
      attacker.flush();
      await waitFor(() => replies >= 51, 5000, 10, 'a new reply after a second');
    } finally {
      for (const s of others) s.close();
    }
  } finally {
    attacker.close();
    target.close();
  }
});

test('setGate: a verdicts array smaller than a batch is refused', () => {
  const sock = new UdpSocket({ batch: 64 });
  assert.throws(() => sock.setGate(new NativeGate(10)), /verdict per datagram/);
});

test.run();
