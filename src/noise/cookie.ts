// DoS mitigation (whitepaper §5.4.4, §5.4.7): mac1 proves the sender knows our public key, mac2
// proves it can receive at its source address (it holds a cookie we sent there). The responder
// side (CookieChecker, one per engine) verifies both and builds cookie replies; the initiator side
// (CookieGenerator, one per peer) writes both macs and consumes cookie replies.

import { secretBytes } from '../crypto/bytes.js';
import type { CryptoBackend } from '../crypto/types.js';
import {
  COOKIE_NONCE_SIZE,
  COOKIE_REFRESH_TIME_MS,
  COOKIE_SIZE,
  KEY_SIZE,
  LABEL_COOKIE,
  LABEL_MAC1,
  MAC_SIZE,
} from './constants.js';
import { encodeCookieReply, mac1Offset, readU32, type CookieReplyFields } from './messages.js';

/** a[aOff, aOff + n) == b[bOff, bOff + n), in time independent of where they differ. */
export function constantTimeEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, n: number): boolean {
  let acc = 0;
  for (let i = 0; i < n; i++) acc |= a[aOff + i]! ^ b[bOff + i]!;
  return acc === 0;
}

/** Responder side: checks mac1/mac2 of handshake messages and issues cookie replies. */
export class CookieChecker {
  private mac1Key: Uint8Array | null = null;
  private cookieKey: Uint8Array | null = null;
  /** The cookie secret: random, renewed every COOKIE_REFRESH_TIME, zeroed on init. */
  private readonly secret = secretBytes(KEY_SIZE);
  private secretSetAt = -Infinity;
  /** Scratch: a MAC computed for comparison, and a cookie (zeroed after each use). */
  private readonly macOut = secretBytes(MAC_SIZE);
  private readonly cookie = secretBytes(COOKIE_SIZE);

  /**
   * `random(n)` draws public randomness (the cookie nonce); `fillRandom(buf)` fills a secret in
   * place (the cookie secret).
   */
  constructor(
    private readonly crypto: CryptoBackend,
    private readonly random: (n: number) => Uint8Array,
    private readonly fillRandom: (buf: Uint8Array) => void,
  ) {}

  /** Derive the keys from our static public key (null: no identity, every mac1 check fails). */
  init(publicKey: Uint8Array | null): void {
    this.mac1Key = publicKey === null ? null : this.crypto.hash(LABEL_MAC1, publicKey);
    this.cookieKey = publicKey === null ? null : this.crypto.hash(LABEL_COOKIE, publicKey);
    this.secret.fill(0);
    this.secretSetAt = -Infinity;
  }

  /** Is mac1 of handshake message `m` (initiation or response, exact bytes) valid for our key? */
  checkMac1(m: Uint8Array): boolean {
    if (this.mac1Key === null) return false;
    const at = mac1Offset(m[0]!);
    this.crypto.macInto(this.mac1Key, m, 0, at, this.macOut, 0);
    return constantTimeEqual(this.macOut, 0, m, at, MAC_SIZE);
  }

  /**
   * Is mac2 of `m` the MAC of a cookie we would issue to `source` now? False once our cookie
   * secret is older than COOKIE_REFRESH_TIME (the sender then gets a fresh cookie).
   */
  checkMac2(m: Uint8Array, source: Uint8Array, now: number): boolean {
    if (now - this.secretSetAt > COOKIE_REFRESH_TIME_MS) return false;
    const at = mac1Offset(m[0]!) + MAC_SIZE;
    this.crypto.macInto(this.secret, source, 0, source.length, this.cookie, 0);
    this.crypto.macInto(this.cookie, m, 0, at, this.macOut, 0);
    this.cookie.fill(0);
    return constantTimeEqual(this.macOut, 0, m, at, MAC_SIZE);
  }

  /**
   * Cookie reply to handshake message `m` from `source`: cookie = MAC(secret, source), encrypted
   * with XChaCha20-Poly1305 under HASH(LABEL_COOKIE || our public key), a random 24-byte nonce and
   * m's mac1 as associated data. The secret is renewed when older than COOKIE_REFRESH_TIME.
   * Returns null without an identity.
   */
  createReply(m: Uint8Array, source: Uint8Array, now: number): Uint8Array | null {
    if (this.cookieKey === null) return null;
    if (now - this.secretSetAt > COOKIE_REFRESH_TIME_MS) {
      this.fillRandom(this.secret);
      this.secretSetAt = now;
    }
    const at = mac1Offset(m[0]!);
    this.crypto.macInto(this.secret, source, 0, source.length, this.cookie, 0);
    const nonce = this.random(COOKIE_NONCE_SIZE);
    const sealed = this.crypto.xaeadSeal(this.cookieKey, nonce, this.cookie, m.subarray(at, at + MAC_SIZE));
    this.cookie.fill(0);
    return encodeCookieReply(readU32(m, 4), nonce, sealed);
  }
}

/** Initiator side, per peer: writes mac1/mac2 on our handshake messages, stores received cookies. */
export class CookieGenerator {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private readonly cookie = secretBytes(COOKIE_SIZE);
  private cookieSetAt = -Infinity;
  private readonly lastMac1 = new Uint8Array(MAC_SIZE);
  private hasLastMac1 = false;

  constructor(private readonly crypto: CryptoBackend, peerPublicKey: Uint8Array) {
    this.mac1Key = crypto.hash(LABEL_MAC1, peerPublicKey);
    this.cookieKey = crypto.hash(LABEL_COOKIE, peerPublicKey);
  }

  /**
   * Fill mac1 (always) and mac2 (MAC(cookie, ...) while we hold a cookie younger than
   * COOKIE_REFRESH_TIME, else zero) of our handshake message `m`, and remember mac1 so a cookie
   * reply to this message can be authenticated.
   */
  addMacs(m: Uint8Array, now: number): void {
    const at = mac1Offset(m[0]!);
    this.crypto.macInto(this.mac1Key, m, 0, at, m, at);
    for (let i = 0; i < MAC_SIZE; i++) this.lastMac1[i] = m[at + i]!;
    this.hasLastMac1 = true;
    if (now - this.cookieSetAt < COOKIE_REFRESH_TIME_MS) {
      this.crypto.macInto(this.cookie, m, 0, at + MAC_SIZE, m, at + MAC_SIZE);
    } else {
      m.fill(0, at + MAC_SIZE, at + 2 * MAC_SIZE);
    }
  }

  /** Decrypt a cookie reply answering our last message; true when a cookie was stored. */
  consumeReply(reply: CookieReplyFields, now: number): boolean {
    if (!this.hasLastMac1) return false;
    const cookie = this.crypto.xaeadOpen(this.cookieKey, reply.nonce, reply.encryptedCookie, this.lastMac1);
    if (cookie === null || cookie.length !== COOKIE_SIZE) return false;
    this.cookie.set(cookie);
    cookie.fill(0);
    this.cookieSetAt = now;
    this.hasLastMac1 = false;
    return true;
  }

  /** Forget the cookie (peer removal, key zeroing). */
  wipe(): void {
    this.cookie.fill(0);
    this.cookieSetAt = -Infinity;
    this.hasLastMac1 = false;
  }
}
