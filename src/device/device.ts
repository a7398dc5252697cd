// One WireGuard interface's data plane: glue between the TUN edge, the sans-IO engine, the
// cryptokey routing table and the UDP edge. It owns no sockets or devices itself: the I/O edges
// are injected (TunWriter, DatagramSender) so the device is tested in memory and driven by the
// real edges in the daemon. Per packet it allocates nothing of its own: output buffers come from a
// preallocated ring, addresses are read as uint32 words from the packet bytes.
import type { CryptoBackend } from '../crypto/types.js';
import {
  DECAP_TUNNEL, WgEngine, type OutboundDatagram,
} from '../noise/engine.js';
import { AllowedIps } from '../router/allowedips.js';
import { readDst, readSrc } from '../router/packet.js';
import { type Endpoint, makeEndpoint, sameEndpoint } from './endpoint.js';
import { keyToBase64 } from '../crypto/keys.js';
import { LogLevel, type Logger, peerLabel } from './log.js';

/** Where decrypted packets go (the TUN). Returns false when the packet was dropped. */
export interface TunWriter {
  write(buf: Uint8Array, off: number, len: number): boolean;
}

/**
 * Where encrypted datagrams go (the UDP socket). Both calls copy the bytes before returning, so
 * the device reuses its buffers (and encrypts in the TUN's slab) at once. `queue` batches
 * datagrams until `flush` (sendmmsg on the native socket).
 */
export interface DatagramSender {
  /** True when the socket took the datagram. */
  send(data: Uint8Array, off: number, len: number, ep: Endpoint): boolean;
  queue(data: Uint8Array, off: number, len: number, ep: Endpoint): void;
  flush(): void;
}

/** Device-level drop counters (the engine keeps its own per protocol reason). */
export interface DeviceCounters {
  /** TUN packets with no route (no allowed IP contains the destination) or not IPv4/IPv6. */
  noRoute: number;
  /** Decrypted packets whose inner source is not in the sending peer's allowed IPs. */
  badSource: number;
  /** Datagrams for a peer without a known endpoint. */
  noEndpoint: number;
  /** Packets written to the TUN that the TUN refused. */
  tunWriteDrops: number;
  /** Decrypted packets refused by the access filter (per-peer rules, gateway). */
  filtered: number;
  /** TUN packets for a peer refused by the outbound filter (gateway: not part of a flow the peer started). */
  outboundFiltered: number;
}

/**
 * A per-peer filter of decrypted packets from a peer (gateway access rules): false = drop.
 * `now` is the device's monotonic clock (ms).
 */
export type InboundFilter = (peer: number, pkt: Uint8Array, off: number, len: number, now: number) => boolean;

/** A per-peer filter of TUN packets routed to a peer, before encryption (gateway flow tracking): false = drop. */
export type OutboundFilter = (peer: number, pkt: Uint8Array, off: number, len: number, now: number) => boolean;

/**
 * Told when a peer id starts or stops belonging to a public key. Ids are reused after removals,
 * so state kept by id (gateway access rules, flows) is reset on both events.
 */
export interface PeerEvents {
  added(id: number, publicKey: Uint8Array): void;
  removed(id: number): void;
}

/** Initiations per second above which the device reports itself under load (cookies, rate limits). */
export const UNDER_LOAD_INITIATIONS_PER_SECOND = 1000;
/** How long the device stays under load after the rate last exceeded the threshold (wireguard-go: 1 s). */
export const UNDER_LOAD_AFTER_MS = 1000;

/** Data message overhead: 16-byte header + up to 15 padding bytes + 16-byte tag. */
const OVERHEAD = 16 + 15 + 16;
/** Room the TUN leaves around each packet for in-place encryption (see io/tun.ts). */
export const TUN_HEADROOM = 16;
export const TUN_TAILROOM = 32;

export interface DeviceOptions {
  crypto: CryptoBackend;
  tun: TunWriter;
  udp: DatagramSender;
  log: Logger;
  /** Monotonic clock in ms (default performance.now). */
  now?: () => number;
  /** Wall clock for the engine (default real time). */
  wallClockNs?: () => bigint;
}

export class Device {
  readonly engine: WgEngine;
  readonly allowed = new AllowedIps();
  readonly counters: DeviceCounters = { noRoute: 0, badSource: 0, noEndpoint: 0, tunWriteDrops: 0, filtered: 0, outboundFiltered: 0 };
  /** Endpoint of each peer id (the source of its last authenticated datagram, or as configured). */
  private readonly endpoints: (Endpoint | null)[] = [];
  private readonly tun: TunWriter;
  private readonly udp: DatagramSender;
  private readonly log: Logger;
  private readonly now: () => number;
  /** Output buffer for packets that do not come with head/tail room (outbound()). */
  private scratch = new Uint8Array(0);
  private mtuValue = 1420;
  /** Address words of the packet being routed (int32 view for the router's fast path). */
  private readonly words = new Uint32Array(4);
  /** Source of the datagram being processed, for replies addressed to "the source" (peer -1). */
  private srcAddr = new Uint8Array(16);
  private srcPort = 0;
  private srcKey = new Uint8Array(18);
  private srcKeyV4 = new Uint8Array(6);
  private initiationsThisWindow = 0;
  private windowStart = 0;
  private loadUntil = 0;
  inboundFilter: InboundFilter | null = null;
  outboundFilter: OutboundFilter | null = null;
  peerEvents: PeerEvents | null = null;

  constructor(opts: DeviceOptions) {
    this.engine = new WgEngine({ crypto: opts.crypto, ...(opts.wallClockNs ? { wallClockNs: opts.wallClockNs } : {}) });
    this.tun = opts.tun;
    this.udp = opts.udp;
    this.log = opts.log;
    this.now = opts.now ?? (() => performance.now());
    this.setMtu(1420);
  }

  get mtu(): number { return this.mtuValue; }

  /** The TUN's MTU: the engine caps padding by it like wireguard-go. */
  setMtu(mtu: number): void {
    this.mtuValue = mtu;
    this.engine.mtu = mtu;
  }

  // ---------------------------------------------------------------- peers

  endpointOf(id: number): Endpoint | null { return this.endpoints[id] ?? null; }

  setEndpoint(id: number, ep: Endpoint | null): void { this.endpoints[id] = ep; }

  /** Adds a peer to the engine (or finds it): its id, -1 for our own public key; peerEvents hears of a new one. */
  addPeer(publicKey: Uint8Array): number {
    const known = this.engine.peerIdOf(publicKey);
    if (known >= 0) return known;
    const id = this.engine.addPeer(publicKey);
    if (id >= 0) this.peerEvents?.added(id, publicKey);
    return id;
  }

  /**
   * Removes a peer everywhere: engine, routes, endpoint; peerEvents hears of it (also when the
   * engine dropped it already, as setPrivateKey does with a peer holding our own public key).
   */
  removePeer(id: number): void {
    this.allowed.removePeer(id);
    this.engine.removePeer(id);
    this.endpoints[id] = null;
    this.peerEvents?.removed(id);
  }

  // ---------------------------------------------------------------- TUN -> UDP

  /**
   * Packets read from the TUN (a batch in one slab, each with TUN_HEADROOM bytes free in front
   * and TUN_TAILROOM behind): route each by destination, encrypt it in place, queue it for its
   * peer; the queue goes out in one sendmmsg after the batch. Data is only read during this call.
   */
  readonly onTunBatch = (slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void => {
    const now = this.now();
    for (let i = 0; i < count; i++) {
      const off = offsets[i] as number;
      this.route(slab, off, lengths[i] as number, now, slab, off - TUN_HEADROOM);
    }
    this.udp.flush();
  };

  /** One packet from anywhere (no room around it needed): encrypted into a scratch buffer and sent. */
  outbound(pkt: Uint8Array, off: number, len: number, now: number = this.now()): void {
    if (this.scratch.length < len + OVERHEAD) this.scratch = new Uint8Array(Math.max(2048, len + OVERHEAD));
    this.route(pkt, off, len, now, this.scratch, 0);
    this.udp.flush();
  }

  private route(pkt: Uint8Array, off: number, len: number, now: number, out: Uint8Array, outOff: number): void {
    const peer = this.allowed.lookupWords(readDst(pkt, off, len, this.words), this.words);
    if (peer < 0) { this.counters.noRoute++; return; }
    if (this.outboundFilter !== null && !this.outboundFilter(peer, pkt, off, len, now)) { this.counters.outboundFiltered++; return; }
    const n = this.engine.encapsulate(peer, pkt, off, len, now, out, outOff);
    if (n > 0) {
      const ep = this.endpoints[peer];
      if (ep) { this.udp.queue(out, outOff, n, ep); this.engine.countTx(peer, n); }
      else this.counters.noEndpoint++;
    }
    if (this.engine.outboxSize > 0) this.flushOutbox(null);
  }

  // ---------------------------------------------------------------- UDP -> TUN

  /** One datagram from the UDP socket; `addr` is 16 bytes (v4-mapped for IPv4). Decrypts in place. */
  readonly onDatagram = (data: Uint8Array, off: number, len: number, addr: Uint8Array, port: number): void => {
    const now = this.now();
    if (len >= 4 && data[off] === 1) this.countInitiation(now);
    const key = this.sourceKey(addr, port);
    const r = this.engine.decapsulate(data, off, len, key, now, data, off + 16);
    const peer = this.engine.lastPeer;
    if (peer >= 0 && r >= 0) this.roam(peer, addr, port);
    if (r === DECAP_TUNNEL) this.deliver(peer, data, off + 16, this.engine.lastLength, now);
    if (this.engine.outboxSize > 0) {
      this.srcAddr.set(addr);
      this.srcPort = port;
      this.flushOutbox(this.srcAddr);
    }
  };

  /** Inner-source check (cryptokey routing), access filter, then the TUN. */
  private deliver(peer: number, pkt: Uint8Array, off: number, len: number, now: number): void {
    if (len === 0) return; // keepalive
    const owner = this.allowed.lookupWords(readSrc(pkt, off, len, this.words), this.words);
    if (owner !== peer) { this.counters.badSource++; return; }
    if (this.inboundFilter !== null && !this.inboundFilter(peer, pkt, off, len, now)) { this.counters.filtered++; return; }
    if (!this.tun.write(pkt, off, len)) this.counters.tunWriteDrops++;
  }

  private roam(peer: number, addr: Uint8Array, port: number): void {
    const ep = this.endpoints[peer];
    if (ep && sameEndpoint(ep, addr, 0, port)) return;
    const next = makeEndpoint(addr, port);
    this.endpoints[peer] = next;
    const info = this.engine.peerInfo(peer);
    if (info && this.log.level >= LogLevel.Verbose) {
      this.log.verbose(`${peerLabel(keyToBase64(info.publicKey))} - Endpoint is now ${next.family === 4 ? next.host : `[${next.host}]`}:${port}`);
    }
  }

  /** Cookie/rate-limit key: address bytes (4 or 16) + port, reusing two scratch buffers. */
  private sourceKey(addr: Uint8Array, port: number): Uint8Array {
    let k: Uint8Array;
    if (addr[10] === 0xff && addr[11] === 0xff && isZero10(addr)) {
      k = this.srcKeyV4;
      k[0] = addr[12] as number; k[1] = addr[13] as number; k[2] = addr[14] as number; k[3] = addr[15] as number;
      k[4] = port >> 8; k[5] = port & 0xff;
    } else {
      k = this.srcKey;
      k.set(addr);
      k[16] = port >> 8; k[17] = port & 0xff;
    }
    return k;
  }

  private countInitiation(now: number): void {
    if (now - this.windowStart >= 1000) { this.windowStart = now; this.initiationsThisWindow = 0; }
    if (++this.initiationsThisWindow > UNDER_LOAD_INITIATIONS_PER_SECOND) this.loadUntil = now + UNDER_LOAD_AFTER_MS;
    this.engine.underLoad = now < this.loadUntil;
  }

  // ---------------------------------------------------------------- timers and outbox

  /** Runs the engine's timers; returns the next deadline (ms, monotonic). */
  tick(): number {
    const now = this.now();
    if (this.engine.underLoad && now >= this.loadUntil) this.engine.underLoad = false;
    const next = this.engine.tick(now);
    if (this.engine.outboxSize > 0) this.flushOutbox(null);
    return next;
  }

  /**
   * The end of a UAPI peer block (wireguard-go's handlePostConfig): a keepalive when persistent
   * keepalive was just turned on, then the packets staged for the peer (which starts a handshake
   * when no session can carry them), without waiting for the retransmit timer.
   */
  peerConfigured(id: number, keepaliveTurnedOn: boolean): void {
    const now = this.now();
    if (keepaliveTurnedOn) this.engine.sendKeepalive(id, now);
    this.engine.sendStagedPackets(id, now);
    this.flushOutbox(null);
  }

  /** Sends what is staged for every peer (after a private key was set: nothing could leave before). */
  sendAllStaged(): void {
    const now = this.now();
    for (const id of this.engine.peerIds()) this.engine.sendStagedPackets(id, now);
    this.flushOutbox(null);
  }

  private flushOutbox(source: Uint8Array | null): void {
    const out = this.engine.takeOutbox();
    for (let i = 0; i < out.length; i++) this.sendOut(out[i] as OutboundDatagram, source);
  }

  private sendOut(d: OutboundDatagram, source: Uint8Array | null): void {
    if (d.peer < 0) {
      if (source) this.udp.send(d.data, 0, d.data.length, makeEndpoint(source, this.srcPort));
      return;
    }
    const ep = this.endpoints[d.peer];
    if (d.kind !== 'data' && this.log.level >= LogLevel.Verbose) this.logSend(d, ep);
    if (!ep) { this.counters.noEndpoint++; return; }
    if (this.udp.send(d.data, 0, d.data.length, ep)) this.engine.countTx(d.peer, d.data.length);
  }

  /** wireguard-go style `peer(abcd…wxyz) - Sending handshake initiation` lines (verbose only). */
  private logSend(d: OutboundDatagram, ep: Endpoint | null): void {
    const info = this.engine.peerInfo(d.peer);
    if (!info) return;
    const what = d.kind === 'keepalive' ? 'keepalive packet' : `handshake ${d.kind}`;
    this.log.verbose(`${peerLabel(keyToBase64(info.publicKey))} - ${ep ? `Sending ${what}` : `No known endpoint for ${what}`}`);
  }
}

function isZero10(a: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return true;
}
