// The per-peer timer state machine of the whitepaper (§6) as wireguard-go runs it, over a
// caller-supplied monotonic clock in ms. Each timer is a deadline (Infinity = not pending); event
// methods arm or disarm them, takeExpired() hands the engine the timers that are due, one at a
// time in deadline order, and the engine performs the action. No clock is read here.

import {
  KEEPALIVE_TIMEOUT_MS,
  REKEY_TIMEOUT_MS,
  ZERO_KEYS_AFTER_MS,
} from './constants.js';

/** Retransmit the initiation (or give up after MAX_TIMER_HANDSHAKES retries). */
export const TIMER_RETRANSMIT_HANDSHAKE = 1;
/** Passive keepalive: we received data and sent nothing for KEEPALIVE_TIMEOUT. */
export const TIMER_SEND_KEEPALIVE = 2;
/** We sent data and heard nothing for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: new handshake. */
export const TIMER_NEW_HANDSHAKE = 3;
/** No new session for 3 x REJECT_AFTER_TIME: erase all keys. */
export const TIMER_ZERO_KEY_MATERIAL = 4;
/** Persistent keepalive interval elapsed without authenticated traffic. */
export const TIMER_PERSISTENT_KEEPALIVE = 5;

/** Timer deadlines and counters of one peer. */
export class PeerTimers {
  retransmitHandshakeAt = Infinity;
  sendKeepaliveAt = Infinity;
  newHandshakeAt = Infinity;
  zeroKeyMaterialAt = Infinity;
  persistentKeepaliveAt = Infinity;
  /** Retransmissions of the current initiation so far. */
  handshakeAttempts = 0;
  /** Data arrived while a passive keepalive was pending: send another one after it. */
  needAnotherKeepalive = false;
  /** The receive-side "last minute" rekey was already attempted for the current session. */
  sentLastMinuteHandshake = false;

  /** After an authenticated data (non-keepalive) message was sent. `jitter` draws 0..333 ms. */
  dataSent(now: number, jitter: () => number): void {
    if (this.newHandshakeAt === Infinity) this.newHandshakeAt = now + KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + jitter();
  }

  /** After an authenticated data (non-keepalive) message was received. */
  dataReceived(now: number): void {
    if (this.sendKeepaliveAt === Infinity) this.sendKeepaliveAt = now + KEEPALIVE_TIMEOUT_MS;
    else this.needAnotherKeepalive = true;
  }

  /** After any authenticated message (data, keepalive, handshake) was sent. */
  anyAuthenticatedPacketSent(): void {
    this.sendKeepaliveAt = Infinity;
  }

  /** After any authenticated message was received. */
  anyAuthenticatedPacketReceived(): void {
    this.newHandshakeAt = Infinity;
  }

  /** Before an authenticated message is sent or after one is received: re-arm persistent keepalive. */
  anyAuthenticatedPacketTraversal(now: number, persistentKeepaliveSeconds: number): void {
    if (persistentKeepaliveSeconds > 0) this.persistentKeepaliveAt = now + persistentKeepaliveSeconds * 1000;
  }

  /** After an initiation was sent. */
  handshakeInitiated(now: number, jitter: () => number): void {
    this.retransmitHandshakeAt = now + REKEY_TIMEOUT_MS + jitter();
  }

  /** After a response was consumed, or the first message on a responder's new session arrived. */
  handshakeComplete(): void {
    this.retransmitHandshakeAt = Infinity;
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
  }

  /** After session keys were derived (response sent or consumed). */
  sessionDerived(now: number): void {
    this.zeroKeyMaterialAt = now + ZERO_KEYS_AFTER_MS;
  }

  /** Persistent keepalive switched off: disarm it. */
  persistentKeepaliveOff(): void {
    this.persistentKeepaliveAt = Infinity;
  }

  /** Disarm everything (peer removed, identity cleared). */
  stopAll(): void {
    this.retransmitHandshakeAt = Infinity;
    this.sendKeepaliveAt = Infinity;
    this.newHandshakeAt = Infinity;
    this.zeroKeyMaterialAt = Infinity;
    this.persistentKeepaliveAt = Infinity;
    this.handshakeAttempts = 0;
    this.needAnotherKeepalive = false;
    this.sentLastMinuteHandshake = false;
  }

  /** Earliest pending deadline (Infinity when nothing is armed). */
  nextDeadline(): number {
    return Math.min(this.retransmitHandshakeAt, this.sendKeepaliveAt, this.newHandshakeAt, this.zeroKeyMaterialAt, this.persistentKeepaliveAt);
  }

  /**
   * The earliest timer due at `now` (a TIMER_* constant), disarmed so the caller can run its
   * action (which may re-arm it); 0 when none is due.
   */
  takeExpired(now: number): number {
    let which = 0;
    let at = Infinity;
    if (this.retransmitHandshakeAt <= now && this.retransmitHandshakeAt < at) { which = TIMER_RETRANSMIT_HANDSHAKE; at = this.retransmitHandshakeAt; }
    if (this.sendKeepaliveAt <= now && this.sendKeepaliveAt < at) { which = TIMER_SEND_KEEPALIVE; at = this.sendKeepaliveAt; }
    if (this.newHandshakeAt <= now && this.newHandshakeAt < at) { which = TIMER_NEW_HANDSHAKE; at = this.newHandshakeAt; }
    if (this.zeroKeyMaterialAt <= now && this.zeroKeyMaterialAt < at) { which = TIMER_ZERO_KEY_MATERIAL; at = this.zeroKeyMaterialAt; }
    if (this.persistentKeepaliveAt <= now && this.persistentKeepaliveAt < at) { which = TIMER_PERSISTENT_KEEPALIVE; at = this.persistentKeepaliveAt; }
    switch (which) {
      case TIMER_RETRANSMIT_HANDSHAKE: this.retransmitHandshakeAt = Infinity; break;
      case TIMER_SEND_KEEPALIVE: this.sendKeepaliveAt = Infinity; break;
      case TIMER_NEW_HANDSHAKE: this.newHandshakeAt = Infinity; break;
      case TIMER_ZERO_KEY_MATERIAL: this.zeroKeyMaterialAt = Infinity; break;
      case TIMER_PERSISTENT_KEEPALIVE: this.persistentKeepaliveAt = Infinity; break;
      default: break;
    }
    return which;
  }
}
