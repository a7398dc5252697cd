// The sans-IO WireGuard engine the device layer drives (like boringtun's Tunn, but for all peers
// of one interface). It never touches a socket, a timer or the clock: every call takes the bytes
// and the current monotonic time in milliseconds, and says what to do through its return code and
// the outbox. Wall-clock time is only read (through an injectable function) for TAI64N timestamps
// and the last-handshake time shown by `wg show`.

import { secretBytes } from '../crypto/bytes.js';
import type { CryptoBackend } from '../crypto/types.js';
import {
  DECAP_HANDLED,
  DECAP_REPLY_TO_SOURCE,
  DECAP_TUNNEL,
  DROP_BAD_COOKIE_REPLY,
  DROP_BAD_INNER_PACKET,
  DROP_BAD_MAC1,
  DROP_DECRYPT_FAILED,
  DROP_HANDSHAKE_INVALID,
  DROP_INITIATION_FLOOD,
  DROP_KEYPAIR_EXPIRED,
  DROP_NO_PRIVATE_KEY,
  DROP_RATE_LIMITED,
  DROP_REASON_COUNT,
  DROP_REPLAY,
  DROP_REPLAYED_INITIATION,
  DROP_STAGED_EXPIRED,
  DROP_STAGED_OVERFLOW,
  DROP_TOO_LARGE,
  DROP_UNEXPECTED_MESSAGE,
  DROP_UNKNOWN_INDEX,
  DROP_UNKNOWN_PEER,
  DROP_UNKNOWN_PEER_KEY,
  ENCAP_QUEUED,
} from './codes.js';
import {
  AEAD_TAG_SIZE,
  DATA_HEADER_SIZE,
  DATA_OFF_COUNTER,
  DATA_OFF_RECEIVER,
  HANDSHAKE_INITIATION_RATE_MS,
  KEEPALIVE_TIMEOUT_MS,
  KEY_SIZE,
  MAX_PLAINTEXT_SIZE,
  MAX_TIMER_HANDSHAKES,
  MSG_COOKIE_REPLY,
  MSG_DATA,
  MSG_INITIATION,
  PADDING_MULTIPLE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_TIME_MS,
  REKEY_ON_RECEIVE_AFTER_MS,
  REKEY_TIMEOUT_JITTER_MAX_MS,
  REKEY_TIMEOUT_MS,
  STAGED_QUEUE_SIZE,
  ZERO_KEYS_AFTER_MS,
} from './constants.js';
import { CookieChecker } from './cookie.js';
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  transportKeys,
  type StaticKeys,
} from './handshake.js';
import { Keypair } from './keypair.js';
import { classifyMessage, cookieReplyFields, readU32, responseFields, writeDataHeader } from './messages.js';
import { HS_INITIATION_CONSUMED, HS_INITIATION_CREATED, PeerState } from './peer.js';
import { RateLimiter } from './ratelimiter.js';
import { tai64n, tai64nAfter } from './tai64n.js';
import {
  TIMER_NEW_HANDSHAKE,
  TIMER_PERSISTENT_KEEPALIVE,
  TIMER_RETRANSMIT_HANDSHAKE,
  TIMER_SEND_KEEPALIVE,
  TIMER_ZERO_KEY_MATERIAL,
} from './timers.js';

export * from './codes.js';
export type { Keypair } from './keypair.js';
export type { PeerState } from './peer.js';

/** What an outbox datagram is, for logs and tests; the device just sends `data`. */
export type OutboundKind = 'initiation' | 'response' | 'cookie-reply' | 'data' | 'keepalive';

/** A datagram the engine wants sent. */
export interface OutboundDatagram {
  /** Peer id whose endpoint gets it, or -1: reply to the source of the datagram being processed. */
  readonly peer: number;
  readonly kind: OutboundKind;
  /** The whole UDP payload (owned by the receiver of the outbox; the engine keeps no reference). */
  readonly data: Uint8Array;
}

/** Engine construction options. */
export interface WgEngineOptions {
  readonly crypto: CryptoBackend;
  /**
   * Randomness; default crypto.randomBytes. Draw sizes are fixed so tests can script them:
   * 32 = ephemeral private key or cookie secret, 4 = sender index, 24 = cookie nonce, 64 = a pool
   * of timer jitter (two bytes per draw).
   */
  readonly random?: (n: number) => Uint8Array;
  /** Wall clock in ns since the Unix epoch (TAI64N, last-handshake time). Default: the real clock. */
  readonly wallClockNs?: () => bigint;
  /** Staged packets kept per peer while no session exists (default STAGED_QUEUE_SIZE = 128). */
  readonly stagedQueueSize?: number;
}

/** Configuration and statistics of one peer (a snapshot; a copy of the public key, no secret). */
export interface PeerInfo {
  readonly id: number;
  readonly publicKey: Uint8Array;
  /** A preshared key is set (WgEngine.presharedKey gives a copy). */
  readonly hasPresharedKey: boolean;
  /** Seconds, 0 = off. */
  readonly persistentKeepalive: number;
  /** Wall-clock ns of the last completed handshake, 0n = never. */
  readonly lastHandshakeWallNs: bigint;
  /** Bytes of all authenticated datagrams received from / emitted for this peer (UDP payloads). */
  readonly rxBytes: number;
  readonly txBytes: number;
  /** Datagrams counted in rxBytes / txBytes. */
  readonly rxPackets: number;
  readonly txPackets: number;
  /** A current keypair exists that may send (age is enforced by tick and on use). */
  readonly hasSession: boolean;
  /** Packets waiting in the staged queue. */
  readonly staged: number;
}

/** An index-table entry: a handshake in progress (keypair null) or a session's keypair. */
interface IndexEntry {
  readonly peer: PeerState;
  readonly keypair: Keypair | null;
}

const MAX_INDEX_TRIES = 64;
/** Random bytes drawn at once for timer jitter (two per draw). */
const JITTER_POOL = 64;

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A copy of a secret in a buffer of its own (see secretBytes), for a caller that zeroes it. */
function secretCopy(key: Uint8Array): Uint8Array {
  const copy = secretBytes(key.length);
  copy.set(key);
  return copy;
}

function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('base64');
}

/** Padded plaintext length: next multiple of 16, never beyond the MTU (wireguard-go's rule). */
function paddedLength(len: number, mtu: number): number {
  if (mtu <= 0) return (len + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1);
  const last = len > mtu ? len % mtu : len;
  let padded = (last + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1);
  if (padded > mtu) padded = mtu;
  return len + (padded - last);
}

/**
 * All WireGuard protocol state of one interface: identity, peers, sessions, index table, cookies,
 * rate limiter and timers.
 */
export class WgEngine {
  /** Set by the device while it is under handshake load: mac2 (cookies) and rate limits apply. */
  underLoad = false;
  /** Tunnel MTU; when > 0 padding never grows a packet beyond it (wireguard-go). 0 = pad freely. */
  mtu = 0;
  /** Peer id authenticated by the last decapsulate (for endpoint roaming), or -1. */
  lastPeer = -1;
  /** decapsulate DECAP_TUNNEL: length of the IP packet at out[outOff..] (padding removed). */
  lastLength = 0;
  /** Count of each negative result code, indexed by -code (see codes.ts). */
  readonly dropsByReason = new Float64Array(DROP_REASON_COUNT);

  private readonly crypto: CryptoBackend;
  private readonly random: (n: number) => Uint8Array;
  /** Fills a (secret) buffer with randomness in place; whatever `random` returned is zeroed. */
  private readonly fillRandom: (buf: Uint8Array) => void;
  private readonly wallClockNs: () => bigint;
  private readonly stagedLimit: number;
  private identity: StaticKeys | null = null;
  private readonly peers: (PeerState | undefined)[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly index = new Map<number, IndexEntry>();
  private readonly checker: CookieChecker;
  private readonly rateLimiter = new RateLimiter();
  private outbox: OutboundDatagram[] = [];
  /** Per-packet AEAD nonce: 4 zero bytes || LE64 counter (reused, never reallocated). */
  private readonly nonce = new Uint8Array(12);
  /**
   * Timer jitter is drawn from a pool of random bytes refilled JITTER_POOL at a time: data sent
   * after data received re-arms the new-handshake timer, which would otherwise cost a random
   * draw (and an allocation) per packet.
   */
  private jitterPool: Uint8Array = new Uint8Array(0);
  private jitterUsed = 0;
  private readonly jitter = (): number => {
    if (this.jitterUsed + 2 > this.jitterPool.length) {
      this.jitterPool = this.random(JITTER_POOL);
      this.jitterUsed = 0;
    }
    const r = this.jitterPool;
    const i = this.jitterUsed;
    this.jitterUsed = i + 2;
    return ((r[i]! | (r[i + 1]! << 8)) % (REKEY_TIMEOUT_JITTER_MAX_MS + 1));
  };
  /** Scratch of the batch paths, indexed like the caller's arrays (grown on demand, never per packet). */
  private batchLengths = new Uint32Array(0);
  private batchOffsets = new Uint32Array(0);
  private batchCounters = new Uint32Array(0);
  private batchResults = new Int32Array(0);

  constructor(opts: WgEngineOptions) {
    this.crypto = opts.crypto;
    const scripted = opts.random;
    // randomFill: the addon's RAND_priv_bytes on the native backend, several µs cheaper per draw
    // than node:crypto's randomBytes (indices and jitter are drawn on every handshake).
    this.random = scripted ?? ((n: number): Uint8Array => {
      const out = new Uint8Array(n);
      opts.crypto.randomFill(out);
      return out;
    });
    this.fillRandom = scripted === undefined
      ? (buf: Uint8Array): void => opts.crypto.randomFill(buf)
      : (buf: Uint8Array): void => {
        const r = scripted(buf.length);
        buf.set(r);
        r.fill(0);
      };
    this.wallClockNs = opts.wallClockNs ?? ((): bigint => BigInt(Date.now()) * 1_000_000n);
    this.stagedLimit = opts.stagedQueueSize ?? STAGED_QUEUE_SIZE;
    this.checker = new CookieChecker(this.crypto, this.random, this.fillRandom);
  }

  // ---- configuration -------------------------------------------------------------------------

  /** Our static public key, or null without a private key. */
  get publicKey(): Uint8Array | null {
    return this.identity === null ? null : this.identity.publicKey.slice();
  }

  /** A copy of our static private key (for UAPI get; the caller zeroes it), or null when none is set. */
  get privateKey(): Uint8Array | null {
    return this.identity === null ? null : secretCopy(this.identity.privateKey);
  }

  /**
   * Set (or clear) the static private key. Like wireguard-go: handshakes in progress are cleared,
   * current sessions stop sending (they still receive until replaced), and peers whose public key
   * equals the new public key are removed. Returns the ids of the removed peers. Setting the key
   * already in use changes nothing.
   */
  setPrivateKey(key: Uint8Array | null): number[] {
    if (key !== null && key.length !== KEY_SIZE) throw new RangeError(`private key must be ${KEY_SIZE} bytes`);
    const old = this.identity;
    if (old === null ? key === null : key !== null && bytesEqual(old.privateKey, key)) return [];
    const removed: number[] = [];
    if (key === null) {
      this.identity = null;
    } else {
      const publicKey = secretBytes(KEY_SIZE);
      this.crypto.x25519PublicInto(publicKey, key);
      const self = this.byKey.get(keyString(publicKey));
      if (self !== undefined) {
        this.removePeer(self);
        removed.push(self);
      }
      const privateKey = secretBytes(KEY_SIZE);
      privateKey.set(key);
      this.identity = { privateKey, publicKey };
    }
    old?.privateKey.fill(0);
    this.checker.init(this.identity === null ? null : this.identity.publicKey);
    for (const p of this.peers) {
      if (p === undefined) continue;
      p.precomputedSS?.fill(0);
      p.precomputedSS = this.identity === null ? null : this.staticDh(this.identity.privateKey, p.publicKey);
      this.expireCurrentKeypairs(p);
      if (this.identity === null) p.timers.stopAll();
    }
    return removed;
  }

  /** Add a peer (or find it). Returns its id, stable until removed; -1 if it is our own public key. */
  addPeer(publicKey: Uint8Array): number {
    if (publicKey.length !== KEY_SIZE) throw new RangeError(`public key must be ${KEY_SIZE} bytes`);
    const existing = this.byKey.get(keyString(publicKey));
    if (existing !== undefined) return existing;
    if (this.identity !== null && bytesEqual(this.identity.publicKey, publicKey)) return -1;
    let id = this.peers.indexOf(undefined);
    if (id < 0) id = this.peers.length;
    const pub = secretBytes(KEY_SIZE);
    pub.set(publicKey);
    const p = new PeerState(this.crypto, id, pub);
    if (this.identity !== null) p.precomputedSS = this.staticDh(this.identity.privateKey, p.publicKey);
    this.peers[id] = p;
    this.byKey.set(keyString(publicKey), id);
    return id;
  }

  /**
   * DH(our static private key, a peer's static public key), precomputed once per peer as
   * wireguard-go does: the handshake then spends no DH on ss. null when the result is all zero.
   */
  private staticDh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
    const ss = secretBytes(KEY_SIZE);
    return this.crypto.x25519Into(ss, privateKey, publicKey) ? ss : null;
  }

  /** Remove a peer: wipes its sessions and handshake, frees its indices, drops staged packets. */
  removePeer(id: number): boolean {
    const p = this.peers[id];
    if (p === undefined) return false;
    this.zeroAndFlushAll(p);
    p.timers.stopAll();
    p.cookies.wipe();
    p.presharedKey.fill(0);
    p.precomputedSS?.fill(0);
    p.precomputedSS = null;
    this.byKey.delete(keyString(p.publicKey));
    this.peers[id] = undefined;
    while (this.peers.length > 0 && this.peers[this.peers.length - 1] === undefined) this.peers.pop();
    return true;
  }

  /** Id of the peer with this public key, or -1. */
  peerIdOf(publicKey: Uint8Array): number {
    return this.byKey.get(keyString(publicKey)) ?? -1;
  }

  /** Ids of all peers, ascending. */
  peerIds(): number[] {
    const ids: number[] = [];
    for (const p of this.peers) if (p !== undefined) ids.push(p.id);
    return ids;
  }

  /** Set or clear (null) the peer's preshared key (takes effect from the next handshake). */
  setPresharedKey(id: number, psk: Uint8Array | null): void {
    const p = this.peers[id];
    if (p === undefined) return;
    if (psk !== null && psk.length !== KEY_SIZE) throw new RangeError(`preshared key must be ${KEY_SIZE} bytes`);
    if (psk === null) p.presharedKey.fill(0);
    else p.presharedKey.set(psk);
    p.hasPresharedKey = psk !== null;
  }

  /** Persistent keepalive interval in seconds (0 = off). The device may then call sendKeepalive. */
  setPersistentKeepalive(id: number, seconds: number): void {
    const p = this.peers[id];
    if (p === undefined) return;
    p.persistentKeepalive = Math.max(0, Math.floor(seconds));
    if (p.persistentKeepalive === 0) p.timers.persistentKeepaliveOff();
  }

  /**
   * A copy of the peer's preshared key (for UAPI get; the caller zeroes it), or null when none is
   * set or the peer is unknown. Not part of peerInfo, which logs and metrics call often: every copy
   * of a key is one more to erase.
   */
  presharedKey(id: number): Uint8Array | null {
    const p = this.peers[id];
    return p === undefined || !p.hasPresharedKey ? null : secretCopy(p.presharedKey);
  }

  /** Snapshot of a peer's configuration and counters (no keys but the public one), or null for an unknown id. */
  peerInfo(id: number): PeerInfo | null {
    const p = this.peers[id];
    if (p === undefined) return null;
    const c = p.current;
    return {
      id,
      publicKey: p.publicKey.slice(),
      hasPresharedKey: p.hasPresharedKey,
      persistentKeepalive: p.persistentKeepalive,
      lastHandshakeWallNs: p.lastHandshakeWallNs,
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
      rxPackets: p.rxPackets,
      txPackets: p.txPackets,
      hasSession: c !== null && !c.sendExhausted(),
      staged: p.staged.length,
    };
  }

  /**
   * The live state of a peer, for tests and diagnostics only (forcing counters, checking that keys
   * were erased). Not for the device's data path.
   */
  internalPeer(id: number): PeerState | undefined {
    return this.peers[id];
  }

  // ---- data path -----------------------------------------------------------------------------

  /**
   * Adds `bytes` (in `packets` datagrams) to the peer's transmitted counters. The device calls it for the datagrams
   * the socket accepted, so `wg show` counts only what was really sent (like wireguard-go, which
   * counts after a successful send; a datagram with no endpoint or a failed send is not counted).
   */
  countTx(id: number, bytes: number, packets = 1): void {
    const p = this.peers[id];
    if (p !== undefined) { p.txBytes += bytes; p.txPackets += packets; }
  }

  /**
   * Encrypt one IP packet (packet[pktOff, pktOff + pktLen)) for peer `id` into out[outOff..].
   * Returns > 0: the length of the data message written at out[outOff..]; send it to the peer.
   * ENCAP_QUEUED: no usable session (or older packets are still staged): the packet was copied to
   * the peer's staged queue (oldest dropped when full); it leaves through the outbox once a
   * session exists, and a handshake initiation may be in the outbox now.
   * Other negative values: dropped (DROP_NO_PRIVATE_KEY, DROP_UNKNOWN_PEER, DROP_TOO_LARGE).
   * In place: pass out === packet and outOff === pktOff - 16; out must hold 16 + padded length
   * + 16 bytes from outOff (padding: up to 15 bytes, less with an MTU set).
   * Allocates nothing in our code on the direct (session exists) path.
   */
  encapsulate(id: number, packet: Uint8Array, pktOff: number, pktLen: number, now: number, out: Uint8Array, outOff: number): number {
    if (this.identity === null) return this.drop(DROP_NO_PRIVATE_KEY);
    const p = this.peers[id];
    if (p === undefined) return this.drop(DROP_UNKNOWN_PEER);
    if (pktLen < 0 || pktLen > MAX_PLAINTEXT_SIZE || pktOff < 0 || pktOff + pktLen > packet.length) return this.drop(DROP_TOO_LARGE);
    const kp = p.current;
    if (kp === null || p.staged.length > 0 || !this.canSend(kp, now)) {
      this.stage(p, packet.slice(pktOff, pktOff + pktLen));
      this.sendStaged(p, now);
      return ENCAP_QUEUED;
    }
    const padded = paddedLength(pktLen, this.mtu);
    if (outOff < 0 || outOff + DATA_HEADER_SIZE + padded + AEAD_TAG_SIZE > out.length) return this.drop(DROP_TOO_LARGE);
    const n = this.seal(kp, packet, pktOff, pktLen, padded, out, outOff);
    this.afterDataSent(p, kp, pktLen === 0, now);
    return n;
  }

  /**
   * Process one UDP datagram datagram[off, off + len) received from `source`.
   * `source` is the sender's address bytes (4 or 16) optionally followed by its UDP port big-endian
   * (6 or 18 bytes): the whole value keys cookies, the address (IPv6: its /64) keys rate limiting.
   * Returns DECAP_TUNNEL: an IP packet of engine.lastLength bytes (padding already trimmed via its
   * IP length field) is at out[outOff..] from peer engine.lastPeer: the device checks the inner
   * source address against that peer's allowed IPs and writes it to the TUN. out needs len - 32
   * bytes from outOff; in place: out === datagram, outOff === off + 16.
   * DECAP_HANDLED: consumed (handshake message, keepalive, cookie reply); datagrams to send are
   * in the outbox (a response, a keepalive, staged packets released by a new session).
   * DECAP_REPLY_TO_SOURCE: under load and mac2 missing: a cookie reply for `source` is in the
   * outbox with peer -1.
   * Negative: dropped (see codes.ts). lastPeer is the authenticated peer (roaming) or -1.
   * Data messages allocate nothing in our code.
   */
  decapsulate(datagram: Uint8Array, off: number, len: number, source: Uint8Array, now: number, out: Uint8Array, outOff: number): number {
    this.lastPeer = -1;
    this.lastLength = 0;
    const type = classifyMessage(datagram, off, len);
    if (type < 0) return this.drop(type);
    if (type === MSG_DATA) return this.receiveData(datagram, off, len, now, out, outOff);
    if (this.identity === null) return this.drop(DROP_NO_PRIVATE_KEY);
    const m = datagram.slice(off, off + len);
    if (type === MSG_COOKIE_REPLY) return this.receiveCookieReply(m, now);
    if (!this.checker.checkMac1(m)) return this.drop(DROP_BAD_MAC1);
    if (this.underLoad) {
      if (!this.checker.checkMac2(m, source, now)) {
        const reply = this.checker.createReply(m, source, now);
        if (reply === null) return this.drop(DROP_NO_PRIVATE_KEY);
        this.outbox.push({ peer: -1, kind: 'cookie-reply', data: reply });
        return DECAP_REPLY_TO_SOURCE;
      }
      if (!this.rateLimiter.allow(source, now)) return this.drop(DROP_RATE_LIMITED);
    }
    return type === MSG_INITIATION ? this.receiveInitiation(m, now) : this.receiveResponse(m, now);
  }

  /**
   * Encrypts a train of IP packets for peer `id` in place: packet k (start <= k < start + n) is
   * buf[offsets[k], offsets[k] + lengths[k]) with DATA_HEADER_SIZE free bytes before it and room
   * for padding and tag after it (as for an in-place encapsulate). With a usable session all n
   * take consecutive counters of one keypair and are sealed by one AEAD call; the message of
   * packet k is then buf[offsets[k] - 16, offsets[k] - 16 + msgLengths[k]). Otherwise each packet
   * goes through encapsulate() on its own (staged while no session exists, dropped when too
   * large), and msgLengths[k] is 0 for every packet not sealed right away. Returns how many
   * were sealed. The timers see one send for the train.
   */
  encapsulateBatch(id: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, start: number, n: number, now: number, msgLengths: Uint32Array): number {
    const p = this.peers[id];
    const kp = p === undefined ? null : p.current;
    let direct = this.identity !== null && p !== undefined && kp !== null && p.staged.length === 0 && this.canSend(kp, now) && kp.canSend(n);
    const end = start + n;
    if (direct) {
      const pad = this.scratchLengths(end);
      for (let k = start; k < end; k++) {
        const len = lengths[k]!;
        const off = offsets[k]!;
        const padded = paddedLength(len, this.mtu);
        if (len === 0 || len > MAX_PLAINTEXT_SIZE || off < DATA_HEADER_SIZE || off + padded + AEAD_TAG_SIZE > buf.length) {
          direct = false;
          break;
        }
        pad[k] = padded;
      }
    }
    if (!direct || kp === null || p === undefined) {
      let sealed = 0;
      for (let k = start; k < end; k++) {
        const off = offsets[k]!;
        const r = this.encapsulate(id, buf, off, lengths[k]!, now, buf, off - DATA_HEADER_SIZE);
        msgLengths[k] = r > 0 ? r : 0;
        if (r > 0) sealed++;
      }
      return sealed;
    }
    const pad = this.batchLengths;
    const lo = kp.sendLo;
    const hi = kp.sendHi;
    let c = lo;
    let ch = hi;
    for (let k = start; k < end; k++) {
      const off = offsets[k]!;
      const len = lengths[k]!;
      const padded = pad[k]!;
      if (padded > len) buf.fill(0, off + len, off + padded);
      writeDataHeader(buf, off - DATA_HEADER_SIZE, kp.remoteIndex, c, ch);
      msgLengths[k] = DATA_HEADER_SIZE + padded + AEAD_TAG_SIZE;
      if (c === 0xffffffff) { c = 0; ch = (ch + 1) >>> 0; } else c++;
    }
    kp.advanceSendBy(n);
    const crypto = this.crypto;
    if (crypto.dataSealBatch !== undefined) {
      // encapsulateBatch checked every range: a refusal is a bug here, not bad input.
      if (crypto.dataSealBatch(kp.sendKey, lo, hi, buf, offsets, pad, start, n) !== n) throw new Error('dataSealBatch refused an in-bounds train');
    } else {
      for (let k = start; k < end; k++) this.sealInPlace(kp, buf, offsets[k]! - DATA_HEADER_SIZE, pad[k]!);
    }
    this.afterDataSent(p, kp, false, now);
    return n;
  }

  /**
   * Decrypts a train of data messages in place: message k (start <= k < start + n) is
   * buf[offsets[k], offsets[k] + lengths[k]); the caller checked that every one is a data message
   * (type 4, at least 32 bytes) with the same receiver index, i.e. one keypair. One AEAD call
   * opens them all; replay, session confirmation, byte counts and timers then run as for
   * decapsulate, the timers once for the train. results[k] is the length of the IP packet now at
   * offsets[k] + 16 (padding trimmed), 0 for a keepalive, or a negative drop code. Returns the
   * authenticated peer (for roaming; also in lastPeer), or -1 when none authenticated.
   */
  decapsulateBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, start: number, n: number, now: number, results: Int32Array): number {
    this.lastPeer = -1;
    const end = start + n;
    const entry = this.index.get(readU32(buf, offsets[start]! + DATA_OFF_RECEIVER));
    const kp = entry === undefined ? null : entry.keypair;
    let refuse = 0;
    if (entry === undefined || kp === null) refuse = DROP_UNKNOWN_INDEX;
    else if (now - kp.created >= REJECT_AFTER_TIME_MS || kp.isWiped) refuse = DROP_KEYPAIR_EXPIRED;
    if (refuse !== 0 || entry === undefined || kp === null) {
      for (let k = start; k < end; k++) results[k] = this.drop(refuse);
      return -1;
    }
    this.scratchLengths(end);
    const bodyOff = this.batchOffsets;
    const bodyLen = this.batchLengths;
    const counters = this.batchCounters;
    const opened = this.batchResults;
    for (let k = start; k < end; k++) {
      const off = offsets[k]!;
      bodyOff[k] = off + DATA_HEADER_SIZE;
      bodyLen[k] = lengths[k]! - DATA_HEADER_SIZE;
      counters[2 * k] = readU32(buf, off + DATA_OFF_COUNTER);
      counters[2 * k + 1] = readU32(buf, off + DATA_OFF_COUNTER + 4);
    }
    const crypto = this.crypto;
    if (crypto.dataOpenBatch !== undefined) {
      if (crypto.dataOpenBatch(kp.recvKey, buf, bodyOff, bodyLen, counters, start, n, opened) < 0) opened.fill(-1, start, end);
    } else {
      for (let k = start; k < end; k++) {
        const off = offsets[k]!;
        opened[k] = crypto.dataOpen !== undefined
          ? crypto.dataOpen(kp.recvKey, counters[2 * k]!, counters[2 * k + 1]!, buf, bodyOff[k]!, bodyLen[k]!, bodyOff[k]!)
          : this.openWithNonce(kp, buf, off, lengths[k]!, buf, bodyOff[k]!);
      }
    }
    const p = entry.peer;
    let authenticated = false;
    let data = false;
    let rx = 0;
    let rxN = 0;
    for (let k = start; k < end; k++) {
      const plain = opened[k]!;
      if (plain < 0) { results[k] = this.drop(DROP_DECRYPT_FAILED); continue; }
      if (!kp.replay.check(counters[2 * k]!, counters[2 * k + 1]!)) { results[k] = this.drop(DROP_REPLAY); continue; }
      if (!authenticated) {
        authenticated = true;
        if (kp === p.next) this.confirmSession(p, kp, now);
      }
      rx += lengths[k]!;
      rxN++;
      if (plain === 0) { results[k] = 0; continue; }
      data = true;
      results[k] = this.innerLength(buf, bodyOff[k]!, plain);
    }
    if (!authenticated) return -1;
    p.rxBytes += rx;
    p.rxPackets += rxN;
    this.lastPeer = p.id;
    this.afterDataReceived(p, data, now);
    return p.id;
  }

  // ---- timers and outbox -------------------------------------------------------------------

  /**
   * Run the timers due at `now`: retransmits, keepalives, rekeys, session expiry (keys of
   * sessions older than REJECT_AFTER_TIME are erased), key zeroing, staged-packet expiry. Sends go
   * to the outbox. Returns the time (ms) of the next deadline (Infinity when none), so the device
   * can sleep until then.
   */
  tick(now: number): number {
    this.rateLimiter.collect(now);
    let next = Infinity;
    for (const p of this.peers) {
      if (p === undefined) continue;
      this.expireKeypairs(p, now);
      for (let guard = 0; guard < 16; guard++) {
        const timer = p.timers.takeExpired(now);
        if (timer === 0) break;
        this.runTimer(p, timer, now);
      }
      next = Math.min(next, p.timers.nextDeadline(), this.keypairDeadline(p));
    }
    return next;
  }

  /** Datagrams queued for sending since the last call, in order; the outbox is emptied. */
  takeOutbox(): OutboundDatagram[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  /** Number of datagrams waiting in the outbox (cheap check after each call). */
  get outboxSize(): number {
    return this.outbox.length;
  }

  /**
   * Start a handshake with peer `id` now unless one was sent less than REKEY_TIMEOUT ago (the
   * device calls this when a peer gets an endpoint and should connect without traffic).
   */
  initiateHandshake(id: number, now: number): void {
    const p = this.peers[id];
    if (p !== undefined) this.sendInitiation(p, now, false);
  }

  /**
   * Send a keepalive to peer `id` (e.g. right after persistent keepalive is configured): encrypted
   * into the outbox when a session exists, else staged, which starts a handshake.
   */
  sendKeepalive(id: number, now: number): void {
    const p = this.peers[id];
    if (p !== undefined) this.keepalive(p, now);
  }

  /**
   * Send the packets staged for peer `id` (wireguard-go's SendStagedPackets): encrypted into the
   * outbox when a session can send them, else a handshake initiation (rate limited as always).
   * The device calls it when a UAPI peer block ends and when a private key was set.
   */
  sendStagedPackets(id: number, now: number): void {
    const p = this.peers[id];
    if (p !== undefined && p.staged.length > 0) this.sendStaged(p, now);
  }

  // ---- internals: sending ------------------------------------------------------------------

  private drop(code: number): number {
    this.dropsByReason[-code]++;
    return code;
  }

  private emit(p: PeerState | null, kind: OutboundKind, data: Uint8Array): void {
    this.outbox.push({ peer: p === null ? -1 : p.id, kind, data });
  }

  private canSend(kp: Keypair, now: number): boolean {
    return !kp.sendExhausted() && now - kp.created < REJECT_AFTER_TIME_MS;
  }

  /** Header, plaintext copy, zero padding and AEAD seal at out[outOff..]; returns the message length. */
  private seal(kp: Keypair, packet: Uint8Array, pktOff: number, pktLen: number, padded: number, out: Uint8Array, outOff: number): number {
    const lo = kp.sendLo;
    const hi = kp.sendHi;
    kp.advanceSend();
    const body = outOff + DATA_HEADER_SIZE;
    if (packet === out) {
      if (pktOff !== body) out.copyWithin(body, pktOff, pktOff + pktLen);
    } else {
      for (let i = 0; i < pktLen; i++) out[body + i] = packet[pktOff + i]!;
    }
    if (padded > pktLen) out.fill(0, body + pktLen, body + padded);
    writeDataHeader(out, outOff, kp.remoteIndex, lo, hi);
    this.sealInPlace(kp, out, outOff, padded);
    return DATA_HEADER_SIZE + padded + AEAD_TAG_SIZE;
  }

  /**
   * Seals the message at out[msgOff..] whose header is written and whose padded plaintext
   * (`padded` bytes) follows it, in place, with the counter from its header. The callers checked
   * that header, body and tag fit, so a refusal is a bug here, not bad input.
   */
  private sealInPlace(kp: Keypair, out: Uint8Array, msgOff: number, padded: number): void {
    const body = msgOff + DATA_HEADER_SIZE;
    const crypto = this.crypto;
    if (crypto.dataSeal !== undefined) {
      const lo = readU32(out, msgOff + DATA_OFF_COUNTER);
      const hi = readU32(out, msgOff + DATA_OFF_COUNTER + 4);
      if (crypto.dataSeal(kp.sendKey, lo, hi, out, body, padded, body) < 0) throw new Error('dataSeal refused an in-bounds seal');
      return;
    }
    const nonce = this.nonce;
    for (let i = 0; i < 4; i++) nonce[i] = 0;
    for (let i = 0; i < 8; i++) nonce[4 + i] = out[msgOff + DATA_OFF_COUNTER + i]!;
    crypto.aeadSeal(kp.sendKey, nonce, out.subarray(body, body + padded), null, out, body);
  }

  private afterDataSent(p: PeerState, kp: Keypair, keepalive: boolean, now: number): void {
    p.timers.anyAuthenticatedPacketTraversal(now, p.persistentKeepalive);
    p.timers.anyAuthenticatedPacketSent();
    if (!keepalive) p.timers.dataSent(now, this.jitter);
    // Keep the key fresh: rekey after REKEY_AFTER_MESSAGES, or REKEY_AFTER_TIME for the initiator.
    if (kp.pastRekeyMessages() || (kp.isInitiator && now - kp.created > REKEY_AFTER_TIME_MS)) {
      this.sendInitiation(p, now, false);
    }
  }

  private stage(p: PeerState, packet: Uint8Array): void {
    if (p.staged.length >= this.stagedLimit) {
      p.staged.shift();
      this.drop(DROP_STAGED_OVERFLOW);
    }
    p.staged.push(packet);
  }

  private flushStaged(p: PeerState): void {
    for (let i = 0; i < p.staged.length; i++) this.drop(DROP_STAGED_EXPIRED);
    p.staged = [];
  }

  /** Encrypt staged packets into the outbox when the current session can send, else start a handshake. */
  private sendStaged(p: PeerState, now: number): void {
    while (p.staged.length > 0) {
      const kp = p.current;
      if (kp === null || !this.canSend(kp, now) || this.identity === null) {
        this.sendInitiation(p, now, false);
        return;
      }
      const packet = p.staged.shift()!;
      const padded = paddedLength(packet.length, this.mtu);
      const msg = new Uint8Array(DATA_HEADER_SIZE + padded + AEAD_TAG_SIZE);
      this.seal(kp, packet, 0, packet.length, padded, msg, 0);
      packet.fill(0);
      this.outbox.push({ peer: p.id, kind: packet.length === 0 ? 'keepalive' : 'data', data: msg });
      this.afterDataSent(p, kp, packet.length === 0, now);
    }
  }

  /** wireguard-go's SendKeepalive: stage an empty packet unless something is staged, then send. */
  private keepalive(p: PeerState, now: number): void {
    if (p.staged.length === 0) p.staged.push(new Uint8Array(0));
    this.sendStaged(p, now);
  }

  /** A random index not in the table, registered for `entry`; -1 if none was found. */
  private newIndex(peer: PeerState, keypair: Keypair | null): number {
    for (let i = 0; i < MAX_INDEX_TRIES; i++) {
      const v = readU32(this.random(4), 0);
      if (!this.index.has(v)) {
        this.index.set(v, { peer, keypair });
        return v;
      }
    }
    return -1;
  }

  private clearHandshake(p: PeerState): void {
    if (p.hsLocalIndex >= 0) this.index.delete(p.hsLocalIndex);
    p.wipeHandshake();
  }

  /** Send an initiation unless rate limited (one per REKEY_TIMEOUT); resets attempts unless a retry. */
  private sendInitiation(p: PeerState, now: number, isRetry: boolean): void {
    if (!isRetry) p.timers.handshakeAttempts = 0;
    const identity = this.identity;
    if (identity === null || p.precomputedSS === null) return;
    if (now - p.lastSentHandshake < REKEY_TIMEOUT_MS) return;
    p.lastSentHandshake = now;
    this.clearHandshake(p);
    const index = this.newIndex(p, null);
    if (index < 0) return;
    const ephemeral = secretBytes(KEY_SIZE);
    this.fillRandom(ephemeral);
    const built = createInitiation(this.crypto, identity, p.publicKey, p.precomputedSS, ephemeral, index, tai64n(this.wallClockNs()));
    if (built === null) {
      this.index.delete(index);
      ephemeral.fill(0);
      return;
    }
    p.hsState = HS_INITIATION_CREATED;
    p.hsCk = built.ck;
    p.hsH = built.h;
    p.hsLocalEphemeral = ephemeral;
    p.hsLocalIndex = index;
    p.cookies.addMacs(built.message, now);
    p.timers.anyAuthenticatedPacketTraversal(now, p.persistentKeepalive);
    p.timers.anyAuthenticatedPacketSent();
    this.emit(p, 'initiation', built.message);
    p.timers.handshakeInitiated(now, this.jitter);
  }

  // ---- internals: receiving ----------------------------------------------------------------

  /** The generic open of data message d[off, off + len) into out[outOff..] (nonce from its counter). */
  private openWithNonce(kp: Keypair, d: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): number {
    const nonce = this.nonce;
    for (let i = 0; i < 4; i++) nonce[i] = 0;
    for (let i = 0; i < 8; i++) nonce[4 + i] = d[off + DATA_OFF_COUNTER + i]!;
    return this.crypto.aeadOpen(kp.recvKey, nonce, d.subarray(off + DATA_HEADER_SIZE, off + len), null, out, outOff);
  }

  private receiveData(d: Uint8Array, off: number, len: number, now: number, out: Uint8Array, outOff: number): number {
    const entry = this.index.get(readU32(d, off + DATA_OFF_RECEIVER));
    const kp = entry === undefined ? null : entry.keypair;
    if (entry === undefined || kp === null) return this.drop(DROP_UNKNOWN_INDEX);
    if (now - kp.created >= REJECT_AFTER_TIME_MS || kp.isWiped) return this.drop(DROP_KEYPAIR_EXPIRED);
    const plainLen = len - DATA_HEADER_SIZE - AEAD_TAG_SIZE;
    if (outOff < 0 || outOff + plainLen > out.length) return this.drop(DROP_TOO_LARGE);
    const counterLo = readU32(d, off + DATA_OFF_COUNTER);
    const counterHi = readU32(d, off + DATA_OFF_COUNTER + 4);
    const n = d === out && this.crypto.dataOpen !== undefined
      ? this.crypto.dataOpen(kp.recvKey, counterLo, counterHi, d, off + DATA_HEADER_SIZE, len - DATA_HEADER_SIZE, outOff)
      : this.openWithNonce(kp, d, off, len, out, outOff);
    if (n < 0) return this.drop(DROP_DECRYPT_FAILED);
    if (!kp.replay.check(counterLo, counterHi)) return this.drop(DROP_REPLAY);
    const p = entry.peer;
    if (kp === p.next) this.confirmSession(p, kp, now);
    p.rxBytes += len;
    p.rxPackets++;
    this.lastPeer = p.id;
    this.afterDataReceived(p, n > 0, now);
    if (n === 0) return DECAP_HANDLED; // keepalive
    const length = this.innerLength(out, outOff, n);
    if (length < 0) return length;
    this.lastLength = length;
    return DECAP_TUNNEL;
  }

  /** The initiator's first message on the responder's new session confirms it. */
  private confirmSession(p: PeerState, kp: Keypair, now: number): void {
    this.rotateOut(p.previous);
    p.previous = p.current;
    p.current = kp;
    p.next = null;
    p.timers.handshakeComplete();
    p.lastHandshakeWallNs = this.wallClockNs();
    this.sendStaged(p, now);
  }

  /** Timers after authenticated data from `p` (`data`: not only keepalives). */
  private afterDataReceived(p: PeerState, data: boolean, now: number): void {
    // The initiator rekeys before its session expires if it is only receiving.
    if (!p.timers.sentLastMinuteHandshake && p.current !== null && p.current.isInitiator && now - p.current.created > REKEY_ON_RECEIVE_AFTER_MS) {
      p.timers.sentLastMinuteHandshake = true;
      this.sendInitiation(p, now, false);
    }
    p.timers.anyAuthenticatedPacketTraversal(now, p.persistentKeepalive);
    p.timers.anyAuthenticatedPacketReceived();
    if (data) p.timers.dataReceived(now);
  }

  /** Grows the batch scratch arrays to hold index `end - 1`; returns batchLengths. */
  private scratchLengths(end: number): Uint32Array {
    if (this.batchLengths.length < end) {
      const size = Math.max(end, 256);
      this.batchLengths = new Uint32Array(size);
      this.batchOffsets = new Uint32Array(size);
      this.batchCounters = new Uint32Array(size * 2);
      this.batchResults = new Int32Array(size);
    }
    return this.batchLengths;
  }

  /** Length of the IP packet at out[off..] from its header, or DROP_BAD_INNER_PACKET (not IPv4/IPv6, or longer than n). */
  private innerLength(out: Uint8Array, off: number, n: number): number {
    const version = out[off]! >> 4;
    let length: number;
    if (version === 4) {
      if (n < 20) return this.drop(DROP_BAD_INNER_PACKET);
      length = (out[off + 2]! << 8) | out[off + 3]!;
      if (length < 20) return this.drop(DROP_BAD_INNER_PACKET);
    } else if (version === 6) {
      if (n < 40) return this.drop(DROP_BAD_INNER_PACKET);
      length = ((out[off + 4]! << 8) | out[off + 5]!) + 40;
    } else {
      return this.drop(DROP_BAD_INNER_PACKET);
    }
    if (length > n) return this.drop(DROP_BAD_INNER_PACKET);
    return length;
  }

  private receiveCookieReply(m: Uint8Array, now: number): number {
    const f = cookieReplyFields(m);
    const entry = this.index.get(f.receiver);
    if (entry === undefined) return this.drop(DROP_UNEXPECTED_MESSAGE);
    return entry.peer.cookies.consumeReply(f, now) ? DECAP_HANDLED : this.drop(DROP_BAD_COOKIE_REPLY);
  }

  private receiveInitiation(m: Uint8Array, now: number): number {
    const identity = this.identity!;
    let found: PeerState | undefined;
    const r = consumeInitiation(this.crypto, identity, m, (rs) => {
      found = this.peers[this.peerIdOf(rs)];
      return found === undefined ? null : found.precomputedSS;
    });
    if (typeof r === 'number') return this.drop(r === DROP_UNKNOWN_PEER_KEY && found !== undefined ? DROP_HANDSHAKE_INVALID : r);
    const p = found!;
    if (!tai64nAfter(r.timestamp, p.lastTimestamp)) return this.drop(DROP_REPLAYED_INITIATION);
    if (now - p.lastInitiationConsumed <= HANDSHAKE_INITIATION_RATE_MS) return this.drop(DROP_INITIATION_FLOOD);
    p.lastTimestamp.set(r.timestamp);
    p.lastInitiationConsumed = now;
    this.clearHandshake(p);
    p.hsState = HS_INITIATION_CONSUMED;
    p.hsCk = r.ck;
    p.hsH = r.h;
    p.hsRemoteEphemeral = r.remoteEphemeral;
    p.hsRemoteIndex = r.sender;
    p.rxBytes += m.length;
    p.rxPackets++;
    this.lastPeer = p.id;
    p.timers.anyAuthenticatedPacketTraversal(now, p.persistentKeepalive);
    p.timers.anyAuthenticatedPacketReceived();
    this.sendResponse(p, now);
    return DECAP_HANDLED;
  }

  private sendResponse(p: PeerState, now: number): void {
    p.lastSentHandshake = now;
    const index = this.newIndex(p, null);
    if (index < 0) {
      this.clearHandshake(p);
      return;
    }
    p.hsLocalIndex = index;
    const ephemeral = secretBytes(KEY_SIZE);
    this.fillRandom(ephemeral);
    const built = createResponse(this.crypto, { ck: p.hsCk!, h: p.hsH! }, p.hsRemoteEphemeral!, p.publicKey, p.presharedKey, ephemeral, index, p.hsRemoteIndex);
    ephemeral.fill(0);
    if (built === null) {
      this.clearHandshake(p);
      return;
    }
    p.cookies.addMacs(built.message, now);
    this.beginSession(p, built.ck, false, now);
    built.h.fill(0);
    p.timers.sessionDerived(now);
    p.timers.anyAuthenticatedPacketTraversal(now, p.persistentKeepalive);
    p.timers.anyAuthenticatedPacketSent();
    this.emit(p, 'response', built.message);
  }

  private receiveResponse(m: Uint8Array, now: number): number {
    const f = responseFields(m);
    const entry = this.index.get(f.receiver);
    if (entry === undefined || entry.keypair !== null) return this.drop(DROP_UNEXPECTED_MESSAGE);
    const p = entry.peer;
    if (p.hsState !== HS_INITIATION_CREATED || p.hsLocalIndex !== f.receiver) return this.drop(DROP_UNEXPECTED_MESSAGE);
    const r = consumeResponse(this.crypto, this.identity!, { ck: p.hsCk!, h: p.hsH! }, p.hsLocalEphemeral!, p.presharedKey, m);
    if (typeof r === 'number') return this.drop(r);
    p.hsRemoteIndex = r.sender;
    p.rxBytes += m.length;
    p.rxPackets++;
    this.lastPeer = p.id;
    p.timers.anyAuthenticatedPacketTraversal(now, p.persistentKeepalive);
    p.timers.anyAuthenticatedPacketReceived();
    this.beginSession(p, r.ck, true, now);
    r.h.fill(0);
    p.timers.sessionDerived(now);
    p.timers.handshakeComplete();
    p.lastHandshakeWallNs = this.wallClockNs();
    this.keepalive(p, now); // staged packets if any, else a keepalive to confirm the session
    return DECAP_HANDLED;
  }

  /** Derive the transport keypair from the final chaining key and rotate the session slots. */
  private beginSession(p: PeerState, ck: Uint8Array, isInitiator: boolean, now: number): void {
    const [t1, t2] = transportKeys(this.crypto, ck);
    ck.fill(0);
    const localIndex = p.hsLocalIndex;
    const kp = isInitiator
      ? new Keypair(t1, t2, true, now, localIndex, p.hsRemoteIndex)
      : new Keypair(t2, t1, false, now, localIndex, p.hsRemoteIndex);
    this.index.set(localIndex, { peer: p, keypair: kp });
    p.hsLocalIndex = -1; // the index now belongs to the keypair
    p.wipeHandshake();
    if (isInitiator) {
      if (p.next !== null) {
        this.rotateOut(p.previous);
        p.previous = p.next;
        p.next = null;
        this.rotateOut(p.current);
      } else {
        this.rotateOut(p.previous);
        p.previous = p.current;
      }
      p.current = kp;
    } else {
      this.rotateOut(p.next);
      p.next = kp;
      this.rotateOut(p.previous);
      p.previous = null;
    }
  }

  /** Retire a keypair: free its index and erase its keys (and the copies the crypto backend keeps). */
  private rotateOut(kp: Keypair | null): void {
    if (kp === null) return;
    if (this.index.get(kp.localIndex)?.keypair === kp) this.index.delete(kp.localIndex);
    kp.wipe();
    this.crypto.forgetKeys?.();
  }

  // ---- internals: expiry -------------------------------------------------------------------

  /** New identity: clear the handshake, allow an immediate initiation, stop sending on old sessions. */
  private expireCurrentKeypairs(p: PeerState): void {
    this.clearHandshake(p);
    p.lastSentHandshake = -Infinity;
    if (p.current !== null) p.current.sendCounter = REJECT_AFTER_MESSAGES;
    if (p.next !== null) p.next.sendCounter = REJECT_AFTER_MESSAGES;
  }

  /** Erase sessions older than REJECT_AFTER_TIME. */
  private expireKeypairs(p: PeerState, now: number): void {
    if (p.current !== null && now - p.current.created >= REJECT_AFTER_TIME_MS) { this.rotateOut(p.current); p.current = null; }
    if (p.previous !== null && now - p.previous.created >= REJECT_AFTER_TIME_MS) { this.rotateOut(p.previous); p.previous = null; }
    if (p.next !== null && now - p.next.created >= REJECT_AFTER_TIME_MS) { this.rotateOut(p.next); p.next = null; }
  }

  private keypairDeadline(p: PeerState): number {
    let t = Infinity;
    if (p.current !== null) t = Math.min(t, p.current.created + REJECT_AFTER_TIME_MS);
    if (p.previous !== null) t = Math.min(t, p.previous.created + REJECT_AFTER_TIME_MS);
    if (p.next !== null) t = Math.min(t, p.next.created + REJECT_AFTER_TIME_MS);
    return t;
  }

  /** Erase every key of the peer (sessions and handshake) and drop its staged packets. */
  private zeroAndFlushAll(p: PeerState): void {
    this.rotateOut(p.current);
    this.rotateOut(p.previous);
    this.rotateOut(p.next);
    p.current = null;
    p.previous = null;
    p.next = null;
    this.clearHandshake(p);
    this.flushStaged(p);
  }

  private runTimer(p: PeerState, timer: number, now: number): void {
    switch (timer) {
      case TIMER_RETRANSMIT_HANDSHAKE:
        if (p.timers.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
          // Give up: drop what waited for this handshake; erase the residue later.
          p.timers.sendKeepaliveAt = Infinity;
          this.flushStaged(p);
          if (p.timers.zeroKeyMaterialAt === Infinity) p.timers.zeroKeyMaterialAt = now + ZERO_KEYS_AFTER_MS;
        } else {
          p.timers.handshakeAttempts++;
          this.sendInitiation(p, now, true);
        }
        break;
      case TIMER_SEND_KEEPALIVE:
        this.keepalive(p, now);
        if (p.timers.needAnotherKeepalive) {
          p.timers.needAnotherKeepalive = false;
          p.timers.sendKeepaliveAt = now + KEEPALIVE_TIMEOUT_MS;
        }
        break;
      case TIMER_NEW_HANDSHAKE:
        this.sendInitiation(p, now, false);
        break;
      case TIMER_ZERO_KEY_MATERIAL:
        this.zeroAndFlushAll(p);
        break;
      case TIMER_PERSISTENT_KEEPALIVE:
        if (p.persistentKeepalive > 0) this.keepalive(p, now);
        break;
      default:
        break;
    }
  }
}
