// Everything the engine keeps about one peer: configuration, the in-progress handshake, the three
// session slots (current / previous / next), timers, cookie state, staged packets and counters.

import { secretBytes } from '../crypto/bytes.js';
import type { CryptoBackend } from '../crypto/types.js';
import { KEY_SIZE, TAI64N_SIZE } from './constants.js';
import { CookieGenerator } from './cookie.js';
import type { Keypair } from './keypair.js';
import { PeerTimers } from './timers.js';

/** Handshake progress (wireguard-go's handshake states). */
export const HS_ZEROED = 0;
export const HS_INITIATION_CREATED = 1;
export const HS_INITIATION_CONSUMED = 2;

/** State of one peer inside the engine. */
export class PeerState {
  /** 32 bytes; all zero when no preshared key is set (Noise then mixes zeros, as WireGuard does). */
  readonly presharedKey = secretBytes(KEY_SIZE);
  hasPresharedKey = false;
  /** Persistent keepalive interval in seconds, 0 = off. */
  persistentKeepalive = 0;
  /** DH(our static private, peer static public); null without identity or when all zero. */
  precomputedSS: Uint8Array | null = null;

  // In-progress handshake.
  hsState = HS_ZEROED;
  hsCk: Uint8Array | null = null;
  hsH: Uint8Array | null = null;
  hsLocalEphemeral: Uint8Array | null = null;
  hsRemoteEphemeral: Uint8Array | null = null;
  /** Index table entry of the handshake in progress, -1 when none. */
  hsLocalIndex = -1;
  hsRemoteIndex = 0;
  /** Greatest TAI64N accepted from this peer (replayed initiations must be newer). Survives key zeroing. */
  readonly lastTimestamp = new Uint8Array(TAI64N_SIZE);
  lastInitiationConsumed = -Infinity;
  /** When we last sent an initiation or response: initiations are rate limited to one per REKEY_TIMEOUT. */
  lastSentHandshake = -Infinity;

  // Sessions.
  current: Keypair | null = null;
  previous: Keypair | null = null;
  /** Responder's new session, unconfirmed until the initiator's first message on it arrives. */
  next: Keypair | null = null;

  readonly timers = new PeerTimers();
  readonly cookies: CookieGenerator;
  /** Plaintext packets waiting for a session (copies; an empty one is a keepalive). */
  staged: Uint8Array[] = [];

  lastHandshakeWallNs = 0n;
  rxBytes = 0;
  txBytes = 0;
  /** Authenticated datagrams received from / sent to this peer (what rxBytes / txBytes count). */
  rxPackets = 0;
  txPackets = 0;

  constructor(crypto: CryptoBackend, readonly id: number, readonly publicKey: Uint8Array) {
    this.cookies = new CookieGenerator(crypto, publicKey);
  }

  /** Erase the in-progress handshake's secrets (the caller frees hsLocalIndex). */
  wipeHandshake(): void {
    this.hsCk?.fill(0);
    this.hsH?.fill(0);
    this.hsLocalEphemeral?.fill(0);
    this.hsRemoteEphemeral?.fill(0);
    this.hsCk = null;
    this.hsH = null;
    this.hsLocalEphemeral = null;
    this.hsRemoteEphemeral = null;
    this.hsState = HS_ZEROED;
    this.hsLocalIndex = -1;
    this.hsRemoteIndex = 0;
  }
}
