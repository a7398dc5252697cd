// One session's transport keys (whitepaper §5.4.5-5.4.6): send key and counter, receive key and
// replay window, and what the rekey/reject rules need (age, who initiated). The 64-bit send
// counter is two uint32 halves so it stays exact up to REJECT_AFTER_MESSAGES without bigint.

import {
  REJECT_AFTER_MESSAGES_HI,
  REJECT_AFTER_MESSAGES_LO,
  REKEY_AFTER_MESSAGES_HI,
} from './constants.js';
import { ReplayWindow } from './replay.js';

/** Transport keypair of one session with one peer. */
export class Keypair {
  /** Next counter to send, low and high 32 bits. */
  sendLo = 0;
  sendHi = 0;
  readonly replay = new ReplayWindow();
  private wiped = false;

  constructor(
    readonly sendKey: Uint8Array,
    readonly recvKey: Uint8Array,
    /** True when we sent the initiation of this session (only the initiator rekeys by time). */
    readonly isInitiator: boolean,
    /** Monotonic ms when the keys were derived. */
    readonly created: number,
    /** Our index: the receiver index of data messages for this keypair. */
    readonly localIndex: number,
    /** The peer's index, written into our data messages. */
    readonly remoteIndex: number,
  ) {}

  /** The send counter reached REJECT_AFTER_MESSAGES (or the keypair was wiped): no more sending. */
  sendExhausted(): boolean {
    return this.sendHi === REJECT_AFTER_MESSAGES_HI && this.sendLo >= REJECT_AFTER_MESSAGES_LO;
  }

  /** More than REKEY_AFTER_MESSAGES were sent: time for a new handshake. */
  pastRekeyMessages(): boolean {
    return this.sendHi > REKEY_AFTER_MESSAGES_HI || (this.sendHi === REKEY_AFTER_MESSAGES_HI && this.sendLo > 0);
  }

  /** Advance the send counter by one (the caller used sendLo/sendHi). */
  advanceSend(): void {
    if (this.sendLo === 0xffffffff) {
      this.sendLo = 0;
      this.sendHi = (this.sendHi + 1) >>> 0;
    } else {
      this.sendLo++;
    }
  }

  /**
   * Whether `n` more messages may be sent before REJECT_AFTER_MESSAGES (a train takes `n`
   * consecutive counters at once).
   */
  canSend(n: number): boolean {
    if (this.sendHi !== REJECT_AFTER_MESSAGES_HI) return true;
    return this.sendLo + n <= REJECT_AFTER_MESSAGES_LO;
  }

  /** Advance the send counter by `n` (the caller used sendLo/sendHi .. + n - 1). */
  advanceSendBy(n: number): void {
    const lo = this.sendLo + n;
    if (lo > 0xffffffff) {
      this.sendLo = lo - 0x100000000;
      this.sendHi = (this.sendHi + 1) >>> 0;
    } else {
      this.sendLo = lo;
    }
  }

  /** Next send counter as a bigint (tests, diagnostics). */
  get sendCounter(): bigint {
    return (BigInt(this.sendHi) << 32n) | BigInt(this.sendLo);
  }

  /** Force the next send counter (tests of the message limits; stopping a session's sending). */
  set sendCounter(v: bigint) {
    this.sendLo = Number(v & 0xffffffffn);
    this.sendHi = Number((v >> 32n) & 0xffffffffn);
  }

  /** Have the keys been erased? */
  get isWiped(): boolean {
    return this.wiped;
  }

  /** Erase both keys and stop sending; the keypair is dead afterwards. */
  wipe(): void {
    this.sendKey.fill(0);
    this.recvKey.fill(0);
    this.sendHi = REJECT_AFTER_MESSAGES_HI;
    this.sendLo = REJECT_AFTER_MESSAGES_LO;
    this.replay.reset();
    this.wiped = true;
  }
}
