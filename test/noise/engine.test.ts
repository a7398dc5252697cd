// Two engines wired by an in-memory network with a fake clock, on both crypto backends: handshake
// and data both ways, loss and retransmission, rekey, expiry, keepalives, replay and tampering,
// the under-load cookie path, replayed initiations, counter limits, peer removal, key zeroing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CryptoBackend } from '../../src/crypto/types.js';
import {
  KEEPALIVE_TIMEOUT_MS,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME_MS,
  REKEY_ON_RECEIVE_AFTER_MS,
  REKEY_TIMEOUT_JITTER_MAX_MS,
  REKEY_TIMEOUT_MS,
  STAGED_QUEUE_SIZE,
  ZERO_KEYS_AFTER_MS,
} from '../../src/noise/constants.js';
import {
  DECAP_HANDLED,
  DECAP_REPLY_TO_SOURCE,
  DECAP_TUNNEL,
  DROP_DECRYPT_FAILED,
  DROP_INITIATION_FLOOD,
  DROP_KEYPAIR_EXPIRED,
  DROP_NO_PRIVATE_KEY,
  DROP_RATE_LIMITED,
  DROP_REPLAY,
  DROP_REPLAYED_INITIATION,
  DROP_STAGED_EXPIRED,
  DROP_STAGED_OVERFLOW,
  DROP_UNKNOWN_INDEX,
  DROP_UNKNOWN_PEER,
  ENCAP_QUEUED,
  WgEngine,
  type Keypair,
} from '../../src/noise/engine.js';
import { writeDataHeader } from '../../src/noise/messages.js';
import { BACKENDS, FakeNet, ipv4Packet, toHex, type Side } from './helpers.js';

/** Handshake started by `a` sending one packet; returns the net with a session both ways. */
function established(crypto: CryptoBackend, opts: { psk?: Uint8Array } = {}): FakeNet {
  const net = new FakeNet(crypto, opts);
  assert.is(net.send(net.a, ipv4Packet(100, 1)), ENCAP_QUEUED);
  assert.is(net.b.received.length, 1, 'the staged packet arrived after the handshake');
  return net;
}

function keyIsZero(k: Keypair): boolean {
  return k.sendKey.every((x) => x === 0) && k.recvKey.every((x) => x === 0);
}

function counterOf(msg: Uint8Array): bigint {
  return new DataView(msg.buffer, msg.byteOffset).getBigUint64(8, true);
}

for (const crypto of BACKENDS) {
  const T = (name: string, fn: () => void): void => test(`${name} [${crypto.name}]`, fn);

  T('handshake, then data both ways; the responder waits for confirmation', () => {
    const psk = new Uint8Array(32).fill(7);
    const net = new FakeNet(crypto, { psk });
    const p1 = ipv4Packet(84, 1);
    assert.is(net.send(net.a, p1), ENCAP_QUEUED);
    assert.equal(net.wire.map((e) => `${e.from}:${e.kind}`), ['a:initiation', 'b:response', 'a:data']);
    assert.is(toHex(net.b.received[0]!), toHex(p1));
    const p2 = ipv4Packet(1420, 2);
    assert.ok(net.send(net.b, p2) > 0, 'the confirmed responder sends directly');
    assert.is(toHex(net.a.received[0]!), toHex(p2));
    for (let i = 0; i < 20; i++) {
      assert.ok(net.send(net.a, ipv4Packet(40 + i * 50, i)) > 0);
      assert.ok(net.send(net.b, ipv4Packet(60 + i * 30, i)) > 0);
    }
    assert.is(net.b.received.length, 21);
    assert.is(net.a.received.length, 21);
    assert.is(toHex(net.b.received[20]!), toHex(ipv4Packet(40 + 19 * 50, 19)));
    const info = net.a.engine.peerInfo(net.a.peer)!;
    assert.ok(info.hasSession);
    assert.ok(info.lastHandshakeWallNs > 0n);
    assert.ok(info.hasPresharedKey);
    assert.is(toHex(net.a.engine.presharedKey(net.a.peer)!), toHex(psk));
    assert.is(info.txBytes, net.wire.filter((e) => e.from === 'a').reduce((s, e) => s + e.data.length, 0));
    assert.is(net.a.engine.peerInfo(net.a.peer)!.rxBytes, net.b.engine.peerInfo(net.b.peer)!.txBytes);
  });

  T('mismatched preshared keys never complete a handshake', () => {
    const net = new FakeNet(crypto);
    net.b.engine.setPresharedKey(net.b.peer, new Uint8Array(32).fill(1));
    net.send(net.a, ipv4Packet(60, 1));
    assert.equal(net.wire.map((e) => e.kind), ['initiation', 'response']);
    assert.is(net.b.received.length, 0);
    assert.not.ok(net.a.engine.peerInfo(net.a.peer)!.hasSession);
  });

  T('a lost initiation is retransmitted after REKEY_TIMEOUT + jitter; one initiation per REKEY_TIMEOUT', () => {
    const net = new FakeNet(crypto);
    let dropped = 0;
    net.drop = (e) => e.kind === 'initiation' && dropped++ === 0;
    const start = net.now;
    for (let i = 0; i < 10; i++) assert.is(net.send(net.a, ipv4Packet(60, i)), ENCAP_QUEUED);
    net.advance(1000, 10);
    for (let i = 10; i < 12; i++) net.send(net.a, ipv4Packet(60, i));
    assert.is(net.sent(net.a, 'initiation').length, 1, 'rate limited to one per REKEY_TIMEOUT');
    net.advance(REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS, 10);
    const inits = net.sent(net.a, 'initiation');
    assert.is(inits.length, 2);
    const delay = inits[1]!.at - start;
    assert.ok(delay >= REKEY_TIMEOUT_MS && delay <= REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS + 10, `retransmit after ${delay} ms`);
    assert.is(net.b.received.length, 12, 'all staged packets arrived, in order');
    net.b.received.forEach((p, i) => assert.is(toHex(p), toHex(ipv4Packet(60, i))));
  });

  T('staged queue is bounded: the oldest packets are dropped', () => {
    const net = new FakeNet(crypto);
    net.drop = (e) => e.kind === 'initiation';
    for (let i = 0; i < STAGED_QUEUE_SIZE + 3; i++) net.send(net.a, ipv4Packet(60, i));
    assert.is(net.a.engine.peerInfo(net.a.peer)!.staged, STAGED_QUEUE_SIZE);
    assert.is(net.a.engine.dropsByReason[-DROP_STAGED_OVERFLOW], 3);
    net.drop = () => false;
    net.advance(REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS + 100);
    assert.is(net.b.received.length, STAGED_QUEUE_SIZE);
    assert.is(toHex(net.b.received[0]!), toHex(ipv4Packet(60, 3)));
  });

  T('an unreachable peer: 20 initiations, give up (staged dropped), zero the handshake 540 s later', () => {
    const net = new FakeNet(crypto);
    net.drop = (e) => e.from === 'a';
    net.send(net.a, ipv4Packet(60, 1));
    net.send(net.a, ipv4Packet(60, 2));
    const pa = net.a.engine.internalPeer(net.a.peer)!;
    const eph = pa.hsLocalEphemeral!;
    net.advance(120_000, 100);
    assert.is(net.sent(net.a, 'initiation').length, 20);
    assert.is(pa.staged.length, 0);
    assert.is(net.a.engine.dropsByReason[-DROP_STAGED_EXPIRED], 2);
    assert.ok(pa.hsLocalEphemeral !== null, 'handshake residue kept until the zero timer');
    const gaveUpAt = pa.timers.zeroKeyMaterialAt - ZERO_KEYS_AFTER_MS;
    assert.ok(gaveUpAt > net.now - 30_000 && gaveUpAt < net.now, 'zero timer armed at give-up');
    net.advance(ZERO_KEYS_AFTER_MS, 1000);
    assert.is(pa.hsLocalEphemeral, null);
    assert.is(pa.hsLocalIndex, -1);
    assert.ok(eph.every((x) => x === 0), 'ephemeral private key erased');
    assert.is(net.sent(net.a, 'initiation').length, 20, 'no traffic, no new attempts');
  });

  T('rekey after REKEY_AFTER_TIME when the initiator sends; old session still decrypts', () => {
    const net = established(crypto);
    const first = net.a.engine.internalPeer(net.a.peer)!.current!;
    const start = net.now;
    while (net.now - start < REKEY_AFTER_TIME_MS + 2_000) {
      net.send(net.a, ipv4Packet(80, 1));
      net.advance(1000);
    }
    const inits = net.sent(net.a, 'initiation');
    assert.is(inits.length, 2, 'exactly one rekey');
    const at = inits[1]!.at - first.created;
    assert.ok(at > REKEY_AFTER_TIME_MS && at <= REKEY_AFTER_TIME_MS + 1000, `rekey at ${at}`);
    const pa = net.a.engine.internalPeer(net.a.peer)!;
    assert.ok(pa.current !== first && pa.previous === first, 'new current, old kept as previous');
    assert.ok(net.b.received.length >= 120);
    assert.is(net.b.engine.dropsByReason.reduce((s, x) => s + x, 0), 0, 'nothing dropped during the rekey');
  });

  T('only the initiator rekeys by time: the responder sends for 125 s, the initiator rekeys on its keepalive', () => {
    const net = established(crypto);
    const created = net.a.engine.internalPeer(net.a.peer)!.current!.created;
    let i = 0;
    while (net.now - created < REKEY_AFTER_TIME_MS + 5000) {
      assert.ok(net.send(net.b, ipv4Packet(80, i++)) > 0);
      net.advance(1000);
    }
    assert.is(net.sent(net.b, 'initiation').length, 0, 'the responder never rekeys by time');
    const inits = net.sent(net.a, 'initiation');
    assert.is(inits.length, 1, 'no rekey yet: the initiator only sent keepalives until 120 s');
    while (net.now - created < REKEY_AFTER_TIME_MS + KEEPALIVE_TIMEOUT_MS + 1000) {
      net.send(net.b, ipv4Packet(80, i++));
      net.advance(1000);
    }
    const rekey = net.sent(net.a, 'initiation')[1]!;
    const at = rekey.at - created;
    assert.ok(at > REKEY_AFTER_TIME_MS && at <= REKEY_AFTER_TIME_MS + KEEPALIVE_TIMEOUT_MS, `rekey on the first keepalive after 120 s (${at})`);
    // The passive keepalive that triggered it, then the keepalive confirming the new session.
    assert.is(net.sent(net.a, 'keepalive').filter((e) => e.at === rekey.at).length, 2);
  });

  T('an initiator that only receives keepalives rekeys on receive after 165 s', () => {
    const net = established(crypto);
    const created = net.a.engine.internalPeer(net.a.peer)!.current!.created;
    net.b.engine.setPersistentKeepalive(net.b.peer, 10);
    net.b.engine.sendKeepalive(net.b.peer, net.now);
    net.pump();
    net.advance(REKEY_ON_RECEIVE_AFTER_MS - 1000, 500);
    assert.is(net.sent(net.a, 'initiation').length, 1, 'receiving keepalives: no rekey before 165 s');
    assert.is(net.sent(net.a, 'keepalive').length, 0, 'keepalives are not answered');
    net.advance(12_000, 500);
    const inits = net.sent(net.a, 'initiation');
    assert.is(inits.length, 2);
    const at = inits[1]!.at - created;
    assert.ok(at > REKEY_ON_RECEIVE_AFTER_MS && at <= REKEY_ON_RECEIVE_AFTER_MS + 10_000, `receive-side rekey at ${at}`);
    assert.ok(net.a.engine.internalPeer(net.a.peer)!.current!.created === inits[1]!.at, 'new session before the old one expired');
  });

  T('sessions are rejected after REJECT_AFTER_TIME: old messages dropped, sending rehandshakes', () => {
    const net = established(crypto);
    const pb = net.b.engine.internalPeer(net.b.peer)!;
    const kp = pb.current!;
    const out = new Uint8Array(256);
    const early = net.a.engine.encapsulate(net.a.peer, ipv4Packet(60, 9), 0, 60, net.now, out, 0);
    const oldMsg = out.slice(0, early);
    const late = oldMsg.slice();
    late[8] = 200; // a later counter that was never delivered
    net.advance(REJECT_AFTER_TIME_MS - 1000, 1000);
    const buf = new Uint8Array(256);
    assert.is(net.b.engine.decapsulate(oldMsg, 0, oldMsg.length, net.a.source, net.now, buf, 0), DECAP_TUNNEL, 'still valid at 179 s');
    net.advance(2000, 1000);
    assert.ok(kp.isWiped && keyIsZero(kp), 'keys erased at expiry');
    assert.is(net.b.engine.decapsulate(late, 0, late.length, net.a.source, net.now, buf, 0), DROP_UNKNOWN_INDEX);
    assert.is(net.send(net.a, ipv4Packet(60, 10)), ENCAP_QUEUED, 'expired session: staged + handshake');
    assert.is(net.b.received.length, 2);
    assert.is(toHex(net.b.received[1]!), toHex(ipv4Packet(60, 10)));
    assert.is(net.sent(net.a, 'initiation').length, 2);
  });

  T('data on an expired keypair is refused even before the tick erases it', () => {
    const net = established(crypto);
    const out = new Uint8Array(256);
    const n = net.a.engine.encapsulate(net.a.peer, ipv4Packet(60, 9), 0, 60, net.now, out, 0);
    const created = net.b.engine.internalPeer(net.b.peer)!.current!.created;
    const buf = new Uint8Array(256);
    assert.is(net.b.engine.decapsulate(out, 0, n, net.a.source, created + REJECT_AFTER_TIME_MS, buf, 0), DROP_KEYPAIR_EXPIRED);
  });

  T('passive keepalive KEEPALIVE_TIMEOUT after receiving data without replying', () => {
    const net = established(crypto);
    const t0 = net.now;
    net.advance(KEEPALIVE_TIMEOUT_MS - 100);
    assert.is(net.sent(net.b, 'keepalive').length, 0);
    net.advance(200);
    const ka = net.sent(net.b, 'keepalive');
    assert.is(ka.length, 1);
    assert.is(ka[0]!.at - t0, KEEPALIVE_TIMEOUT_MS);
    assert.is(ka[0]!.data.length, 32);
    net.advance(60_000, 500);
    assert.is(net.sent(net.b, 'keepalive').length, 1, 'keepalives do not beget keepalives');
    assert.is(net.sent(net.a, 'initiation').length, 1, 'the keepalive answered: no new handshake');
    assert.is(net.a.results.at(-1), DECAP_HANDLED);
  });

  T('a reply within KEEPALIVE_TIMEOUT suppresses the passive keepalive', () => {
    const net = established(crypto);
    net.advance(3000);
    net.send(net.b, ipv4Packet(60, 1));
    net.advance(KEEPALIVE_TIMEOUT_MS + 1000);
    assert.is(net.sent(net.b, 'keepalive').length, 0);
  });

  T('sent data without any reply for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT starts a new handshake', () => {
    const net = established(crypto);
    net.advance(20_000);
    net.drop = (e) => e.from === 'b';
    const t0 = net.now;
    net.send(net.a, ipv4Packet(60, 1));
    net.advance(KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS + 100, 10);
    const inits = net.sent(net.a, 'initiation').filter((e) => e.at > t0);
    assert.is(inits.length, 1);
    const d = inits[0]!.at - t0;
    assert.ok(d >= KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS && d <= KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS + 10, `after ${d} ms`);
  });

  T('persistent keepalive every interval without traffic', () => {
    const net = established(crypto);
    net.advance(KEEPALIVE_TIMEOUT_MS + 1000); // b's passive keepalive for the first packet
    net.a.engine.setPersistentKeepalive(net.a.peer, 25);
    net.a.engine.sendKeepalive(net.a.peer, net.now);
    net.pump();
    const t0 = net.now;
    net.advance(60_000, 500);
    const ka = net.sent(net.a, 'keepalive').map((e) => e.at - t0);
    assert.equal(ka, [0, 25_000, 50_000]);
    net.a.engine.setPersistentKeepalive(net.a.peer, 0);
    net.advance(60_000, 500);
    assert.is(net.sent(net.a, 'keepalive').length, 3, 'switched off');
    assert.is(net.a.engine.peerInfo(net.a.peer)!.persistentKeepalive, 0);
  });

  T('persistent keepalive brings up a session without traffic', () => {
    const net = new FakeNet(crypto);
    net.b.engine.setPersistentKeepalive(net.b.peer, 15);
    net.b.engine.sendKeepalive(net.b.peer, net.now);
    net.pump();
    assert.equal(net.wire.map((e) => `${e.from}:${e.kind}`), ['b:initiation', 'a:response', 'b:keepalive']);
    assert.ok(net.a.engine.peerInfo(net.a.peer)!.hasSession, 'the keepalive confirmed the responder session');
  });

  T('replayed and tampered data messages are dropped', () => {
    const net = established(crypto);
    const out = new Uint8Array(256);
    const n = net.a.engine.encapsulate(net.a.peer, ipv4Packet(77, 3), 0, 77, net.now, out, 0);
    assert.is(n, 16 + 80 + 16, 'padded to a multiple of 16');
    const msg = out.slice(0, n);
    const buf = new Uint8Array(256);
    const feed = (m: Uint8Array): number => net.b.engine.decapsulate(m, 0, m.length, net.a.source, net.now, buf, 0);
    for (const i of [8, 16, 40, n - 1]) {
      const bad = msg.slice();
      bad[i]! ^= 0x20;
      assert.is(feed(bad), DROP_DECRYPT_FAILED, `bit flipped at ${i}`);
    }
    assert.is(feed(msg.subarray(0, n - 16)), DROP_DECRYPT_FAILED, 'truncated');
    assert.is(feed(msg), DECAP_TUNNEL);
    assert.is(net.b.engine.lastLength, 77);
    assert.is(feed(msg), DROP_REPLAY);
    assert.is(net.b.engine.dropsByReason[-DROP_REPLAY], 1);
    assert.is(net.b.engine.dropsByReason[-DROP_DECRYPT_FAILED], 5);
  });

  T('under load: cookie reply, then the retry with mac2 completes; rate limit per source', () => {
    const net = new FakeNet(crypto);
    net.b.engine.underLoad = true;
    net.send(net.a, ipv4Packet(60, 1));
    assert.equal(net.wire.map((e) => `${e.from}:${e.kind}`), ['a:initiation', 'b:cookie-reply']);
    assert.is(net.b.results[0], DECAP_REPLY_TO_SOURCE);
    assert.is(net.a.results[0], DECAP_HANDLED, 'cookie consumed');
    net.advance(REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS + 100, 50);
    assert.equal(net.wire.map((e) => `${e.from}:${e.kind}`), ['a:initiation', 'b:cookie-reply', 'a:initiation', 'b:response', 'a:data']);
    const retry = net.wire[2]!.data;
    assert.not.ok(retry.subarray(132).every((x) => x === 0), 'retry carries mac2');
    assert.is(net.b.received.length, 1);

    // Burst of the same valid initiation from one source: the bucket refilled since the retry, so
    // 5 pass the limiter (and are refused as replays), then the source is limited.
    const buf = new Uint8Array(256);
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push(net.b.engine.decapsulate(retry, 0, 148, net.a.source, net.now, buf, 0));
    assert.equal(codes, [DROP_REPLAYED_INITIATION, DROP_REPLAYED_INITIATION, DROP_REPLAYED_INITIATION, DROP_REPLAYED_INITIATION, DROP_REPLAYED_INITIATION, DROP_RATE_LIMITED, DROP_RATE_LIMITED]);
    const other = new Uint8Array([198, 51, 100, 7, 0, 1]);
    assert.is(net.b.engine.decapsulate(retry, 0, 148, other, net.now, buf, 0), DECAP_REPLY_TO_SOURCE, 'mac2 is bound to the source');
    net.b.engine.underLoad = false;
    assert.is(net.b.engine.decapsulate(retry, 0, 148, net.a.source, net.now, buf, 0), DROP_REPLAYED_INITIATION, 'not under load: mac2 not demanded');
  });

  T('replayed and flooding initiations are rejected', () => {
    const net = new FakeNet(crypto);
    const hold: Uint8Array[] = [];
    net.drop = (e) => { if (e.kind === 'initiation') hold.push(e.data); return true; };
    net.send(net.a, ipv4Packet(60, 1));
    net.advance(REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS + 10, 10);
    assert.is(hold.length, 2);
    const buf = new Uint8Array(256);
    const feed = (m: Uint8Array, now: number): number => net.b.engine.decapsulate(m, 0, m.length, net.a.source, now, buf, 0);
    assert.is(feed(hold[0]!, net.now), DECAP_HANDLED);
    assert.is(feed(hold[1]!, net.now + 10), DROP_INITIATION_FLOOD, 'within 20 ms of the last one');
    assert.is(feed(hold[0]!, net.now + 1000), DROP_REPLAYED_INITIATION, 'same timestamp again');
    assert.is(feed(hold[1]!, net.now + 1000), DECAP_HANDLED, 'newer timestamp accepted');
    assert.is(feed(hold[0]!, net.now + 2000), DROP_REPLAYED_INITIATION, 'older timestamp');
  });

  T('message limits: rekey past REKEY_AFTER_MESSAGES, no counter at or beyond REJECT_AFTER_MESSAGES', () => {
    const net = established(crypto);
    const pa = net.a.engine.internalPeer(net.a.peer)!;
    const pb = net.b.engine.internalPeer(net.b.peer)!;
    const out = new Uint8Array(256);
    net.advance(6000);
    // REKEY_AFTER_MESSAGES: the message with counter 2^60 goes out, then the rekey starts.
    pb.current!.sendCounter = REKEY_AFTER_MESSAGES;
    let n = net.b.engine.encapsulate(net.b.peer, ipv4Packet(60, 1), 0, 60, net.now, out, 0);
    assert.ok(n > 0);
    assert.is(counterOf(out), REKEY_AFTER_MESSAGES);
    assert.is(net.sent(net.b, 'initiation').length, 0, 'not yet past the limit when sending 2^60');
    net.deliver(net.b, 'data', out.subarray(0, n));
    assert.is(net.a.received.length, 1, 'receiver accepts a counter jump to 2^60');
    n = net.b.engine.encapsulate(net.b.peer, ipv4Packet(60, 2), 0, 60, net.now, out, 0);
    assert.is(counterOf(out), REKEY_AFTER_MESSAGES + 1n);
    net.deliver(net.b, 'data', out.subarray(0, n));
    net.pump();
    assert.is(net.sent(net.b, 'initiation').length, 1, 'past 2^60 the responder rekeys too');
    assert.ok(pb.current !== null && pb.current.sendCounter < 10n, 'new session');

    // REJECT_AFTER_MESSAGES - 1 is the last counter ever used on a keypair.
    net.advance(6000);
    const kp = pa.current!;
    kp.sendCounter = REJECT_AFTER_MESSAGES - 1n;
    n = net.a.engine.encapsulate(net.a.peer, ipv4Packet(60, 3), 0, 60, net.now, out, 0);
    assert.ok(n > 0);
    assert.is(counterOf(out), REJECT_AFTER_MESSAGES - 1n);
    const last = out.slice(0, n);
    assert.ok(kp.sendExhausted());
    assert.is(net.a.engine.peerInfo(net.a.peer)!.hasSession, false);
    const before = net.b.received.length;
    net.deliver(net.a, 'data', last);
    assert.is(net.b.received.length, before + 1, 'REJECT - 1 is accepted by the receiver');
    // A message forged with counter = REJECT_AFTER_MESSAGES under the real key is refused.
    const forged = new Uint8Array(16 + 64 + 16);
    writeDataHeader(forged, 0, kp.remoteIndex, Number(REJECT_AFTER_MESSAGES & 0xffffffffn), Number(REJECT_AFTER_MESSAGES >> 32n));
    const nonce = new Uint8Array(12);
    nonce.set(forged.subarray(8, 16), 4);
    crypto.aeadSeal(kp.sendKey, nonce, ipv4Packet(64, 4), null, forged, 16);
    const buf = new Uint8Array(256);
    assert.is(net.b.engine.decapsulate(forged, 0, forged.length, net.a.source, net.now, buf, 0), DROP_REPLAY);
    // The next packet waits for a new session, which then carries it with counter 0.
    assert.is(net.a.engine.encapsulate(net.a.peer, ipv4Packet(60, 5), 0, 60, net.now, out, 0), ENCAP_QUEUED);
    net.pump();
    assert.is(toHex(net.b.received.at(-1)!), toHex(ipv4Packet(60, 5)));
    assert.is(counterOf(net.wire.at(-1)!.data), 0n);
  });

  T('peer removal mid-session wipes its keys and indices; re-adding works', () => {
    const net = established(crypto);
    const pb = net.b.engine.internalPeer(net.b.peer)!;
    const kp = pb.current!;
    const aKey = net.a.engine.publicKey!;
    assert.ok(net.b.engine.removePeer(net.b.peer));
    assert.ok(keyIsZero(kp));
    assert.is(net.b.engine.peerIdOf(aKey), -1);
    assert.is(net.b.engine.peerInfo(net.b.peer), null);
    const out = new Uint8Array(256);
    assert.is(net.b.engine.encapsulate(net.b.peer, ipv4Packet(60, 1), 0, 60, net.now, out, 0), DROP_UNKNOWN_PEER);
    assert.ok(net.send(net.a, ipv4Packet(60, 2)) > 0);
    assert.is(net.b.results.at(-1), DROP_UNKNOWN_INDEX);
    net.b.peer = net.b.engine.addPeer(aKey);
    net.advance(KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS + 200);
    assert.ok(net.a.engine.peerInfo(net.a.peer)!.hasSession);
    assert.ok(net.send(net.a, ipv4Packet(60, 3)) > 0);
    assert.is(toHex(net.b.received.at(-1)!), toHex(ipv4Packet(60, 3)));
  });

  T('all keys are erased: sessions at REJECT_AFTER_TIME, everything by 3 x REJECT_AFTER_TIME', () => {
    const net = established(crypto);
    const pa = net.a.engine.internalPeer(net.a.peer)!;
    const cur = pa.current!;
    const pb = net.b.engine.internalPeer(net.b.peer)!;
    const bcur = pb.current!;
    const zeroAt = pa.timers.zeroKeyMaterialAt;
    assert.is(zeroAt - cur.created, ZERO_KEYS_AFTER_MS);
    net.advance(ZERO_KEYS_AFTER_MS + 1000, 1000);
    assert.ok(keyIsZero(cur) && keyIsZero(bcur));
    for (const p of [pa, pb]) {
      assert.ok(p.current === null && p.previous === null && p.next === null);
      assert.ok(p.hsLocalEphemeral === null && p.hsCk === null);
      assert.is(p.timers.zeroKeyMaterialAt, Infinity, 'zero timer fired');
    }
    assert.is(net.a.engine.tick(net.now), Infinity, 'nothing left to schedule');
  });

  T('tick reports the next deadline', () => {
    const net = new FakeNet(crypto);
    assert.is(net.a.engine.tick(net.now), Infinity);
    net.drop = () => true;
    net.send(net.a, ipv4Packet(60, 1));
    const next = net.a.engine.tick(net.now);
    assert.ok(next >= net.now + REKEY_TIMEOUT_MS && next <= net.now + REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS);
  });

  T('identity: own key ignored as peer, key change removes self-peers and stops old sessions', () => {
    const net = established(crypto);
    const e = net.a.engine;
    assert.is(e.addPeer(e.publicKey!), -1);
    const bKey = net.b.engine.publicKey!;
    const e2 = new WgEngine({ crypto });
    const k = new Uint8Array(32).fill(3);
    e2.setPrivateKey(k);
    const self = e2.publicKey!;
    const other = e2.addPeer(bKey);
    const p2 = new WgEngine({ crypto });
    p2.setPrivateKey(new Uint8Array(32).fill(5));
    const id = p2.addPeer(self);
    assert.equal(p2.setPrivateKey(k), [id], 'peer with our new public key is removed');
    assert.is(p2.peerIdOf(self), -1);
    assert.ok(other >= 0);
    // Clearing the key: no sending, no handshakes.
    e.setPrivateKey(null);
    assert.is(e.publicKey, null);
    const out = new Uint8Array(256);
    assert.is(e.encapsulate(net.a.peer, ipv4Packet(60, 1), 0, 60, net.now, out, 0), DROP_NO_PRIVATE_KEY);
  });

  T('encapsulate in place with an MTU cap on padding', () => {
    const net = established(crypto);
    const e: WgEngine = net.a.engine;
    e.mtu = 1420;
    const buf = new Uint8Array(1600);
    const pkt = ipv4Packet(1419, 4);
    buf.set(pkt, 16);
    const n = e.encapsulate(net.a.peer, buf, 16, pkt.length, net.now, buf, 0);
    assert.is(n, 16 + 1420 + 16, 'padding capped at the MTU');
    net.deliver(net.a, 'data', buf.subarray(0, n));
    assert.is(toHex(net.b.received.at(-1)!), toHex(pkt));
    const side: Side = net.b;
    assert.is(side.results.at(-1), DECAP_TUNNEL);
  });
}

test.run();
