// The pure timer state machine: arming rules (whitepaper §6 / wireguard-go), expiry order and
// the deadline it reports, without any engine.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KEEPALIVE_TIMEOUT_MS, REKEY_TIMEOUT_MS, ZERO_KEYS_AFTER_MS } from '../../src/noise/constants.js';
import {
  PeerTimers,
  TIMER_NEW_HANDSHAKE,
  TIMER_PERSISTENT_KEEPALIVE,
  TIMER_RETRANSMIT_HANDSHAKE,
  TIMER_SEND_KEEPALIVE,
  TIMER_ZERO_KEY_MATERIAL,
} from '../../src/noise/timers.js';

const jitter = (v: number) => (): number => v;

test('nothing armed: no deadline, nothing expires', () => {
  const t = new PeerTimers();
  assert.is(t.nextDeadline(), Infinity);
  assert.is(t.takeExpired(1e12), 0);
});

test('data sent arms the new-handshake timer once; any received packet disarms it', () => {
  const t = new PeerTimers();
  t.dataSent(1000, jitter(200));
  t.dataSent(3000, jitter(0));
  assert.is(t.newHandshakeAt, 1000 + KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + 200, 'not pushed back by later data');
  t.anyAuthenticatedPacketReceived();
  assert.is(t.newHandshakeAt, Infinity);
});

test('data received arms the passive keepalive, or asks for another one; any sent packet disarms it', () => {
  const t = new PeerTimers();
  t.dataReceived(0);
  assert.is(t.sendKeepaliveAt, KEEPALIVE_TIMEOUT_MS);
  assert.not.ok(t.needAnotherKeepalive);
  t.dataReceived(500);
  assert.ok(t.needAnotherKeepalive);
  assert.is(t.sendKeepaliveAt, KEEPALIVE_TIMEOUT_MS, 'not pushed back');
  t.anyAuthenticatedPacketSent();
  assert.is(t.sendKeepaliveAt, Infinity);
});

test('handshake lifecycle: initiated, completed, session derived, persistent keepalive', () => {
  const t = new PeerTimers();
  t.handshakeAttempts = 4;
  t.sentLastMinuteHandshake = true;
  t.handshakeInitiated(100, jitter(333));
  assert.is(t.retransmitHandshakeAt, 100 + REKEY_TIMEOUT_MS + 333);
  t.handshakeComplete();
  assert.is(t.retransmitHandshakeAt, Infinity);
  assert.is(t.handshakeAttempts, 0);
  assert.not.ok(t.sentLastMinuteHandshake);
  t.sessionDerived(200);
  assert.is(t.zeroKeyMaterialAt, 200 + ZERO_KEYS_AFTER_MS);
  t.anyAuthenticatedPacketTraversal(300, 0);
  assert.is(t.persistentKeepaliveAt, Infinity, 'off when the interval is 0');
  t.anyAuthenticatedPacketTraversal(300, 25);
  assert.is(t.persistentKeepaliveAt, 25_300);
  t.anyAuthenticatedPacketTraversal(1300, 25);
  assert.is(t.persistentKeepaliveAt, 26_300, 'pushed back by traffic');
  t.persistentKeepaliveOff();
  assert.is(t.persistentKeepaliveAt, Infinity);
});

test('expired timers come out one at a time, earliest first, disarmed', () => {
  const t = new PeerTimers();
  t.zeroKeyMaterialAt = 50;
  t.persistentKeepaliveAt = 40;
  t.retransmitHandshakeAt = 30;
  t.sendKeepaliveAt = 20;
  t.newHandshakeAt = 10;
  assert.is(t.nextDeadline(), 10);
  assert.is(t.takeExpired(35), TIMER_NEW_HANDSHAKE);
  assert.is(t.takeExpired(35), TIMER_SEND_KEEPALIVE);
  assert.is(t.takeExpired(35), TIMER_RETRANSMIT_HANDSHAKE);
  assert.is(t.takeExpired(35), 0, 'the rest is not due yet');
  assert.is(t.nextDeadline(), 40);
  assert.is(t.takeExpired(100), TIMER_PERSISTENT_KEEPALIVE);
  assert.is(t.takeExpired(100), TIMER_ZERO_KEY_MATERIAL);
  assert.is(t.nextDeadline(), Infinity);
  t.handshakeInitiated(0, jitter(0));
  t.stopAll();
  assert.is(t.nextDeadline(), Infinity);
});

test.run();
