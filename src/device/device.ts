// One WireGuard interface's data plane: glue between the TUN edge, the sans-IO engine, the
// cryptokey routing table and the UDP edge. It owns no sockets or devices itself: the I/O edges
// are injected (TunWriter, DatagramSender) so the device is tested in memory and driven by the
// real edges in the daemon. Per packet it allocates nothing of its own: output buffers come from a
// preallocated ring, addresses are read as uint32 words from the packet bytes.
import type { CryptoBackend } from '../crypto/types.js';
import {
  DECAP_TUNNEL, WgEngine, type OutboundDatagram,
} from '../noise/engine.js';
import { DECAP_COOKIE_DUE, DROP_BAD_MAC1, MACS_MAC1, MACS_MAC2, MACS_UNCHECKED } from '../noise/codes.js';
import { INITIATION_SIZE, MSG_INITIATION, MSG_RESPONSE, RESPONSE_SIZE } from '../noise/constants.js';
import { HANDSHAKE_BUDGET_MS, HANDSHAKE_QUEUE_SIZE, HANDSHAKE_WORK_MAX_MS, HandshakeLoad } from '../noise/load.js';
import { HandshakeRing, slotOffset } from './handshakes.js';
import { AllowedIps } from '../router/allowedips.js';
import { readDst, readSrc } from '../router/packet.js';
import {
  clearSource, type Endpoint, formatEndpoint, formatSource, hasSource, isLinkLocal, LOCAL_ADDR_BYTES, LOCAL_ADDR_WORDS, makeEndpoint,
  sameEndpoint, sameSource, setSource,
} from './endpoint.js';
import { keyToBase64 } from '../crypto/keys.js';
import { LogLevel, type Logger } from './log.js';

/** Where decrypted packets go (the TUN). Returns false when the packet was dropped. */
export interface TunWriter {
  write(buf: Uint8Array, off: number, len: number): boolean;
  /**
   * Optional: writes packets k < count, slab[offsets[k], offsets[k] + lengths[k]), in one call
   * (the native TUN coalesces segments of one flow); returns how many were taken.
   */
  writeBatch?(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
}

/**
 * Where encrypted datagrams go (the UDP socket). Both calls copy the bytes before returning, so
 * the device reuses its buffers (and encrypts in the TUN's slab) at once. `queue` batches
 * datagrams until `flush` (sendmmsg on the native socket). A datagram leaves from the endpoint's
 * sticky source when it has one (Endpoint.source).
 */
export interface DatagramSender {
  /** True when the socket took the datagram. */
  send(data: Uint8Array, off: number, len: number, ep: Endpoint): boolean;
  queue(data: Uint8Array, off: number, len: number, ep: Endpoint): void;
  /** Optional: queue() for data[offsets[k], offsets[k] + lengths[k]), start <= k < start + count; length 0 = skip. */
  queueMany?(data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, start: number, count: number, ep: Endpoint): void;
  flush(): void;
}

/** A received batch of datagrams as the UDP edge delivers it (see io/udp.ts UdpBatch). */
export interface DatagramBatch {
  readonly slab: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** Source of datagram j: the words addrWords[4j, 4j + 4) of its 16 address bytes (IPv4 v4-mapped). */
  readonly addrWords: Uint32Array;
  readonly ports: Uint16Array;
  /**
   * Local address datagram j was sent to: the words localWords[5j, 5j + 5), four of address and
   * the arrival interface (as Endpoint.sourceWords; all zero when unknown).
   */
  readonly localWords: Uint32Array;
  readonly count: number;
}

/**
 * A pre-filter of handshake messages on the receive path (io/gate.ts, native): it drops those
 * with a bad mac1 and, while told the device is under load, answers those without a valid mac2
 * with a cookie reply (its own cookie secret), before the device sees the batch. For each
 * datagram it delivers, `verdicts[j]` is MACS_MAC1 or MACS_MAC2 for a handshake message, 0 for
 * anything else.
 */
export interface HandshakeGate {
  readonly verdicts: Uint8Array;
  /** Our static public key (null: none; every mac1 fails). */
  setKey(publicKey: Uint8Array | null): void;
  setUnderLoad(on: boolean): void;
  /** The cookie reply to handshake message data[off, off + len) from addr/port, into out (64 bytes): its length, or 0. */
  cookieReply(data: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, out: Uint8Array): number;
  /** Handshake messages dropped for a bad mac1 so far. */
  readonly badMac1: number;
  /** Cookie replies sent so far (by the gate itself and through cookieReply). */
  readonly cookieReplies: number;
  /** Handshake messages the gate turned away under load so far (answered with a cookie reply, or not again within a second). */
  readonly deflected: number;
}

/** Handshake processing figures (status file `handshakes`). */
export interface HandshakeStats {
  /** Handshake messages queued for processing / processed / dropped because the queue was full. */
  queued: number;
  processed: number;
  queueFull: number;
  /** Of the processed: answered with a cookie reply because the device was under load. */
  cookieReplies: number;
  /** How often the device entered the under-load state; whether it is in it now (0/1). */
  loadEpisodes: number;
  underLoad: number;
  /** Milliseconds spent processing handshake messages. */
  busyMs: number;
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
  /** Handshake messages dropped because the handshake queue was full. */
  handshakeQueueFull: number;
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


/** routeOf's answers for a TUN packet that goes to no peer. */
const NO_ROUTE = -1;
const REFUSED = -2;

/** Room the TUN leaves around each packet for in-place encryption (see io/tun.ts). */
export const TUN_HEADROOM = 16;
export const TUN_TAILROOM = 32;
/** Packets per TUN read batch the device asks for (segments of super-packets count singly). */
export const TUN_BATCH = 256;
/** Datagram messages per UDP receive batch the device asks for. */
export const UDP_BATCH = 128;

export interface DeviceOptions {
  crypto: CryptoBackend;
  tun: TunWriter;
  udp: DatagramSender;
  log: Logger;
  /** Monotonic clock in ms (default performance.now). */
  now?: () => number;
  /** Wall clock for the engine (default real time). */
  wallClockNs?: () => bigint;
  /** The receive path's handshake gate (io/gate.ts), when it has one. */
  gate?: HandshakeGate;
  /** Runs `fn` in a later event-loop turn (default setImmediate): handshake work left over a turn's budget. */
  defer?: (fn: () => void) => void;
}

export class Device {
  readonly engine: WgEngine;
  readonly allowed = new AllowedIps();
  readonly counters: DeviceCounters = { noRoute: 0, badSource: 0, noEndpoint: 0, tunWriteDrops: 0, filtered: 0, outboundFiltered: 0, handshakeQueueFull: 0 };
  readonly handshakeStats: HandshakeStats = { queued: 0, processed: 0, queueFull: 0, cookieReplies: 0, loadEpisodes: 0, underLoad: 0, busyMs: 0 };
  /**
   * Endpoint of each peer id: the source of its last authenticated datagram with the local
   * address it was sent to as sticky source, or as configured (no sticky source).
   */
  private readonly endpoints: (Endpoint | null)[] = [];
  private readonly tun: TunWriter;
  private readonly udp: DatagramSender;
  private readonly log: Logger;
  private readonly now: () => number;
  private mtuValue = 1420;
  /** Address words of the packet being routed (int32 view for the router's fast path). */
  private readonly words = new Uint32Array(4);
  /** A slab for packets that come without room around them (outbound()). */
  private scratch = new Uint8Array(0);
  private readonly scratchOffsets = new Uint32Array(1);
  private readonly scratchLengths = new Uint32Array(1);
  /** Message lengths of the train being sealed, and their offsets (packet offset - 16). */
  private msgLengths = new Uint32Array(TUN_BATCH);
  private msgOffsets = new Uint32Array(TUN_BATCH);
  /** Results of the train being opened (inner packet lengths or drop codes). */
  private openResults = new Int32Array(0);
  /** Decrypted packets of the UDP batch being processed, written to the TUN at its end. */
  private tunSlab: Uint8Array | null = null;
  private tunOffsets = new Uint32Array(0);
  private tunLengths = new Uint32Array(0);
  private tunCount = 0;
  /** Source of the train being opened, and the local address it was sent to (one copy per train). */
  private trainAddr = new Uint8Array(16);
  private trainAddrWords = new Uint32Array(this.trainAddr.buffer);
  private trainLocal = new Uint32Array(LOCAL_ADDR_WORDS);
  private trainLocalBytes = new Uint8Array(this.trainLocal.buffer);
  /** Source of the datagram being processed and its local address, for replies to "the source" (peer -1). */
  private srcAddr = new Uint8Array(16);
  private srcPort = 0;
  private srcLocal = new Uint32Array(LOCAL_ADDR_WORDS);
  private srcKey = new Uint8Array(18);
  private srcKeyV4 = new Uint8Array(6);
  private readonly gate: HandshakeGate | null;
  private readonly defer: (fn: () => void) => void;
  /** Handshake messages waiting: those with a valid mac2 first, then the others. */
  private readonly hsProven = new HandshakeRing(HANDSHAKE_QUEUE_SIZE);
  private readonly hsOthers = new HandshakeRing(HANDSHAKE_QUEUE_SIZE);
  private drainScheduled = false;
  private readonly load = new HandshakeLoad();
  private gateKeyVersion = -1;
  private gateBadMac1 = 0;
  private gateDeflected = 0;
  private readonly cookieOut = new Uint8Array(64);
  /** Local address of the handshake message being processed (as trainLocal). */
  private readonly hsLocal = new Uint32Array(LOCAL_ADDR_WORDS);
  private readonly hsLocalBytes = new Uint8Array(this.hsLocal.buffer);
  inboundFilter: InboundFilter | null = null;
  outboundFilter: OutboundFilter | null = null;
  peerEvents: PeerEvents | null = null;

  constructor(opts: DeviceOptions) {
    this.engine = new WgEngine({ crypto: opts.crypto, ...(opts.wallClockNs ? { wallClockNs: opts.wallClockNs } : {}) });
    this.tun = opts.tun;
    this.udp = opts.udp;
    this.log = opts.log;
    this.now = opts.now ?? (() => performance.now());
    this.gate = opts.gate ?? null;
    this.defer = opts.defer ?? ((fn) => { setImmediate(fn); });
    this.setMtu(1420);
    this.engine.onHandshakeTimer = (id) => { this.forgetSource(id); };
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

  /**
   * "Sticky, but not too sticky": forgets each sticky source that `usable` rejects (the address
   * left the host, or the route to the peer now leaves by another interface), so that the kernel
   * picks the source again; the peer's next datagram sets it anew. Returns how many were dropped.
   */
  checkSources(usable: (ep: Endpoint) => boolean): number {
    let dropped = 0;
    for (let id = 0; id < this.endpoints.length; id++) {
      const ep = this.endpoints[id];
      if (!ep || !hasSource(ep) || usable(ep)) continue;
      this.forgetSource(id);
      dropped++;
    }
    return dropped;
  }

  /** Drops peer `id`'s sticky source (after a handshake timer, or when it is no longer usable). */
  private forgetSource(id: number): void {
    const ep = this.endpoints[id];
    if (!ep || !hasSource(ep)) return;
    const info = this.engine.peerInfo(id);
    if (info && this.log.level >= LogLevel.Verbose) {
      this.log.verbose(`Clearing source address ${formatSource(ep)} of endpoint ${formatEndpoint(ep)}`, { event: 'source-cleared', peer: keyToBase64(info.publicKey) });
    }
    clearSource(ep);
  }

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
   * and TUN_TAILROOM behind), in trains (see io/tun.ts): the segments of one super-packet share
   * their addresses and ports, so a train is routed (and checked) once; lone packets that follow
   * each other to the same peer join one train too. Each train is encrypted in place with one
   * keypair and one AEAD call and queued for its peer; the queue goes out after the batch (as
   * GSO trains where the socket has them). Data is only read during this call.
   */
  readonly onTunBatch = (slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, trains?: Uint32Array): void => {
    const now = this.now();
    // Every train head and lone packet is routed (and filtered) exactly once.
    let peer = count > 0 ? this.routeOf(slab, offsets[0]!, lengths[0]!, now) : NO_ROUTE;
    for (let i = 0; i < count;) {
      const n = trains === undefined ? 1 : Math.max(1, trains[i]!);
      let end = i + n;
      let next = end < count ? this.routeOf(slab, offsets[end]!, lengths[end]!, now) : NO_ROUTE;
      if (peer < 0) {
        if (peer === REFUSED) this.counters.outboundFiltered += n;
        else this.counters.noRoute += n;
      } else {
        if (n === 1) {
          while (end < count && next === peer && (trains === undefined || trains[end] === 1)) {
            end++;
            next = end < count ? this.routeOf(slab, offsets[end]!, lengths[end]!, now) : NO_ROUTE;
          }
        }
        this.sendTrain(peer, slab, offsets, lengths, i, end - i, now);
      }
      i = end;
      peer = next;
    }
    this.udp.flush();
  };

  /**
   * The peer a packet from the TUN goes to: NO_ROUTE when no allowed IP contains its
   * destination, REFUSED when the outbound filter (the gateway's flow tracking) drops it. The
   * first segment of a super-packet's train stands for all of them (one 5-tuple).
   */
  private routeOf(pkt: Uint8Array, off: number, len: number, now: number): number {
    const peer = this.allowed.lookupWords(readDst(pkt, off, len, this.words), this.words);
    if (peer < 0) return NO_ROUTE;
    if (this.outboundFilter !== null && !this.outboundFilter(peer, pkt, off, len, now)) return REFUSED;
    return peer;
  }

  /** One packet from anywhere (no room around it needed): copied into a scratch slab and sent like a TUN packet. */
  outbound(pkt: Uint8Array, off: number, len: number): void {
    const need = TUN_HEADROOM + len + TUN_TAILROOM;
    if (this.scratch.length < need) this.scratch = new Uint8Array(Math.max(2048, need));
    this.scratch.set(pkt.subarray(off, off + len), TUN_HEADROOM);
    this.scratchOffsets[0] = TUN_HEADROOM;
    this.scratchLengths[0] = len;
    this.onTunBatch(this.scratch, this.scratchOffsets, this.scratchLengths, 1);
  }

  /** Seals packets k in [start, start + n) for `peer` in place and queues what was sealed. */
  private sendTrain(peer: number, slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, start: number, n: number, now: number): void {
    if (this.msgLengths.length < start + n) {
      this.msgLengths = new Uint32Array(start + n);
      this.msgOffsets = new Uint32Array(start + n);
    }
    const msgLengths = this.msgLengths;
    const sealed = this.engine.encapsulateBatch(peer, slab, offsets, lengths, start, n, now, msgLengths);
    if (sealed > 0) {
      const ep = this.endpoints[peer];
      if (ep) {
        const msgOffsets = this.msgOffsets;
        let bytes = 0;
        let packets = 0;
        for (let k = start; k < start + n; k++) {
          msgOffsets[k] = offsets[k]! - TUN_HEADROOM;
          bytes += msgLengths[k]!;
          if (msgLengths[k]! > 0) packets++;
        }
        if (this.udp.queueMany !== undefined) {
          this.udp.queueMany(slab, msgOffsets, msgLengths, start, n, ep);
        } else {
          for (let k = start; k < start + n; k++) if (msgLengths[k]! > 0) this.udp.queue(slab, msgOffsets[k]!, msgLengths[k]!, ep);
        }
        this.engine.countTx(peer, bytes, packets);
      } else {
        this.counters.noEndpoint += sealed;
      }
    }
    if (this.engine.outboxSize > 0) this.flushOutbox(null);
  }

  // ---------------------------------------------------------------- UDP -> TUN

  /**
   * A batch of datagrams from the UDP socket (see DatagramBatch). Consecutive data messages from
   * one source to one local address and receiver index (a GRO train, or datagrams that simply
   * follow each other) are opened as one train: one keypair lookup and one AEAD call; anything
   * else goes through onDatagram. The decrypted packets are written to the TUN together at the end of the batch
   * (coalesced into super-packets where the TUN has offloads). Decrypts in place.
   */
  readonly onDatagramBatch = (b: DatagramBatch): void => {
    const { slab, offsets, lengths, addrWords, ports, localWords, count } = b;
    const now = this.now();
    const gate = this.gate;
    if (gate !== null) this.syncGate();
    this.beginTunWrites(slab, count);
    for (let i = 0; i < count;) {
      const off = offsets[i]!;
      const w = 4 * i;
      const a = this.trainAddrWords;
      a[0] = addrWords[w]!; a[1] = addrWords[w + 1]!; a[2] = addrWords[w + 2]!; a[3] = addrWords[w + 3]!;
      const l = LOCAL_ADDR_WORDS * i;
      const t = this.trainLocal;
      t[0] = localWords[l]!; t[1] = localWords[l + 1]!; t[2] = localWords[l + 2]!; t[3] = localWords[l + 3]!; t[4] = localWords[l + 4]!;
      if (!isDataMessage(slab, off, lengths[i]!)) {
        if (isHandshakeMessage(slab, off, lengths[i]!)) {
          const v = gate === null ? MACS_UNCHECKED : gate.verdicts[i]!;
          this.queueHandshake(slab, off, lengths[i]!, this.trainAddr, ports[i]!, this.trainLocalBytes, v === MACS_MAC2 || v === MACS_MAC1 ? v : MACS_UNCHECKED);
        } else {
          this.onDatagram(slab, off, lengths[i]!, this.trainAddr, ports[i]!, this.trainLocalBytes);
        }
        i++;
        continue;
      }
      let end = i + 1;
      while (end < count && isDataMessage(slab, offsets[end]!, lengths[end]!) && ports[end] === ports[i] &&
        addrWords[4 * end] === addrWords[w] && addrWords[4 * end + 1] === addrWords[w + 1] &&
        addrWords[4 * end + 2] === addrWords[w + 2] && addrWords[4 * end + 3] === addrWords[w + 3] &&
        sameLocal(localWords, l, LOCAL_ADDR_WORDS * end) && sameReceiver(slab, off, offsets[end]!)) end++;
      this.receiveTrain(slab, offsets, lengths, i, end - i, this.trainAddr, ports[i]!, this.trainLocal, now);
      this.flushTunWrites();
      i = end;
    }
    this.endTunWrites();
    // Handshake work: in this turn unless a later turn's drain is due already (one budget per turn).
    if (this.hsProven.count + this.hsOthers.count > 0) {
      if (!this.drainScheduled) this.drainHandshakes();
      else this.updateLoad(now);
    } else if (gate !== null && gate.deflected !== this.gateDeflected) {
      this.updateLoad(now);
    }
  };

  /**
   * Opens data messages k in [start, start + n) (one receiver index, one source, one local
   * address: `local` as in DatagramBatch.localWords) and delivers them.
   */
  private receiveTrain(
    slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, start: number, n: number, addr: Uint8Array, port: number,
    local: Uint32Array, now: number,
  ): void {
    if (this.openResults.length < start + n) this.openResults = new Int32Array(Math.max(start + n, 256));
    const results = this.openResults;
    const peer = this.engine.decapsulateBatch(slab, offsets, lengths, start, n, now, results);
    if (peer >= 0) {
      this.roam(peer, addr, port, local);
      for (let k = start; k < start + n; k++) {
        const r = results[k]!;
        if (r > 0) this.deliver(peer, slab, offsets[k]! + 16, r, now);
      }
    }
    if (this.engine.outboxSize > 0) this.replyTo(addr, port, local);
  }

  /**
   * One datagram from the UDP socket; `addr` is 16 bytes (v4-mapped for IPv4), `local` the local
   * address it was sent to (LOCAL_ADDR_BYTES, see Endpoint.source; none when absent). Decrypts in
   * place.
   */
  readonly onDatagram = (data: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, local?: Uint8Array): void => {
    const now = this.now();
    const handshake = isHandshakeMessage(data, off, len);
    const key = this.sourceKey(addr, port);
    const r = this.engine.decapsulate(data, off, len, key, now, data, off + 16);
    if (handshake) {
      const end = this.now();
      this.load.spent(Math.min(end - now, HANDSHAKE_WORK_MAX_MS), end);
      this.updateLoad(end);
    }
    const peer = this.engine.lastPeer;
    if (local === undefined) this.trainLocal.fill(0);
    else if (local !== this.trainLocalBytes) this.trainLocalBytes.set(local);
    if (peer >= 0 && r >= 0) this.roam(peer, addr, port, this.trainLocal);
    if (r === DECAP_TUNNEL) this.deliver(peer, data, off + 16, this.engine.lastLength, now);
    if (this.engine.outboxSize > 0) this.replyTo(addr, port, this.trainLocal);
  };

  /** Sends the engine's outbox, its replies to "the source" (peer -1) to addr:port from `local`. */
  private replyTo(addr: Uint8Array, port: number, local: Uint32Array): void {
    this.srcAddr.set(addr);
    this.srcPort = port;
    this.srcLocal.set(local);
    this.flushOutbox(this.srcAddr);
  }

  /** Inner-source check (cryptokey routing), access filter, then the TUN (now, or after the train). */
  private deliver(peer: number, pkt: Uint8Array, off: number, len: number, now: number): void {
    if (len === 0) return; // keepalive
    const owner = this.allowed.lookupWords(readSrc(pkt, off, len, this.words), this.words);
    if (owner !== peer) { this.counters.badSource++; return; }
    if (this.inboundFilter !== null && !this.inboundFilter(peer, pkt, off, len, now)) { this.counters.filtered++; return; }
    if (pkt === this.tunSlab) {
      this.tunOffsets[this.tunCount] = off;
      this.tunLengths[this.tunCount] = len;
      this.tunCount++;
      return;
    }
    if (!this.tun.write(pkt, off, len)) this.counters.tunWriteDrops++;
  }

  /** Packets decrypted in `slab` from now on are collected and written by endTunWrites (when the TUN takes batches). */
  private beginTunWrites(slab: Uint8Array, max: number): void {
    if (this.tun.writeBatch === undefined) return;
    if (this.tunOffsets.length < max) {
      this.tunOffsets = new Uint32Array(Math.max(max, 256));
      this.tunLengths = new Uint32Array(Math.max(max, 256));
    }
    this.tunSlab = slab;
    this.tunCount = 0;
  }

  /** Writes the packets collected so far (one train's worth: the receiver may start on them while the next train is opened). */
  private flushTunWrites(): void {
    const slab = this.tunSlab;
    const n = this.tunCount;
    if (slab === null || n === 0 || this.tun.writeBatch === undefined) return;
    this.tunCount = 0;
    const written = this.tun.writeBatch(slab, this.tunOffsets, this.tunLengths, n);
    if (written < n) this.counters.tunWriteDrops += n - written;
  }

  private endTunWrites(): void {
    this.flushTunWrites();
    this.tunSlab = null;
  }

  /**
   * Roaming, after any authenticated datagram: the peer's endpoint becomes the datagram's source
   * addr:port (with the arrival interface as scope when link-local), and its sticky source the
   * local address the datagram was sent to (`local`, as DatagramBatch.localWords), as the kernel
   * does. Allocates only when the peer's remote address changes.
   */
  private roam(peer: number, addr: Uint8Array, port: number, local: Uint32Array): void {
    const ep = this.endpoints[peer];
    const scope = isLinkLocal(addr) ? local[4]! : 0;
    if (ep && sameEndpoint(ep, addr, 0, port, scope)) {
      if (!sameSource(ep, local, 0)) setSource(ep, local, 0);
      return;
    }
    const next = makeEndpoint(addr, port, scope);
    setSource(next, local, 0);
    this.endpoints[peer] = next;
    const info = this.engine.peerInfo(peer);
    if (info && this.log.level >= LogLevel.Verbose) {
      this.log.verbose(`Endpoint is now ${formatEndpoint(next)}`, { event: 'endpoint', peer: keyToBase64(info.publicKey) });
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

  // ---------------------------------------------------------------- handshake queue and load

  /** Queues a handshake message (copied) for drainHandshakes; counted and dropped when the queue is full. */
  private queueHandshake(data: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, local: Uint8Array, macs: number): void {
    const ring = macs === MACS_MAC2 ? this.hsProven : this.hsOthers;
    if (ring.push(data, off, len, addr, port, local, macs)) {
      this.handshakeStats.queued++;
    } else {
      this.counters.handshakeQueueFull++;
      this.handshakeStats.queueFull++;
    }
  }

  /**
   * Processes queued handshake messages, proven ones (valid mac2) first, for at most
   * HANDSHAKE_BUDGET_MS (at least one message); what is left waits for a later event-loop turn,
   * so data received meanwhile is served first. The time spent and the backlog left decide the
   * under-load state (noise/load.ts), which the gate follows from its next batch on.
   */
  private readonly drainHandshakes = (): void => {
    this.drainScheduled = false;
    const t0 = this.now();
    let t = t0;
    let n = 0;
    while (this.hsProven.count + this.hsOthers.count > 0) {
      this.processHandshake(this.hsProven.count > 0 ? this.hsProven : this.hsOthers, t);
      n++;
      t = this.now();
      if (t - t0 >= HANDSHAKE_BUDGET_MS) break;
    }
    this.load.spent(Math.min(t - t0, n * HANDSHAKE_WORK_MAX_MS), t);
    this.handshakeStats.busyMs += t - t0;
    this.updateLoad(t);
    if (this.hsProven.count + this.hsOthers.count > 0 && !this.drainScheduled) {
      this.drainScheduled = true;
      this.defer(this.drainHandshakes);
    }
  };

  private processHandshake(ring: HandshakeRing, now: number): void {
    const slot = ring.front;
    const off = slotOffset(slot);
    const len = ring.lengths[slot]!;
    const src = this.srcAddr;
    for (let i = 0; i < 16; i++) src[i] = ring.addrs[slot * 16 + i]!;
    const port = ring.ports[slot]!;
    const local = this.hsLocalBytes;
    for (let i = 0; i < LOCAL_ADDR_BYTES; i++) local[i] = ring.locals[slot * LOCAL_ADDR_BYTES + i]!;
    const r = this.engine.decapsulate(ring.slab, off, len, this.sourceKey(src, port), now, ring.slab, off + 16, ring.macs[slot]!);
    this.handshakeStats.processed++;
    if (r === DECAP_COOKIE_DUE && this.gate !== null) {
      const n = this.gate.cookieReply(ring.slab, off, len, src, port, this.cookieOut);
      if (n > 0) {
        const ep = makeEndpoint(src, port, isLinkLocal(src) ? this.hsLocal[4]! : 0);
        setSource(ep, this.hsLocal, 0);
        this.udp.send(this.cookieOut, 0, n, ep);
      }
      this.handshakeStats.cookieReplies++;
    }
    ring.pop();
    const peer = this.engine.lastPeer;
    if (peer >= 0 && r >= 0) this.roam(peer, src, port, this.hsLocal);
    if (this.engine.outboxSize > 0) this.replyTo(src, port, this.hsLocal);
  }

  /** Under load or not, from the backlog and the time spent (noise/load.ts); the engine and the gate follow. */
  private updateLoad(now: number): void {
    let deflected = 0;
    if (this.gate !== null) {
      deflected = this.gate.deflected - this.gateDeflected;
      this.gateDeflected = this.gate.deflected;
    }
    const on = this.load.update(this.hsProven.count + this.hsOthers.count, now, deflected);
    this.handshakeStats.loadEpisodes = this.load.entered;
    this.handshakeStats.underLoad = on ? 1 : 0;
    if (on === this.engine.underLoad) return;
    this.engine.underLoad = on;
    this.gate?.setUnderLoad(on);
  }

  /**
   * The gate follows our static key (call after setting the private key: the gate filters the
   * next batch before the device sees it); its bad-mac1 drops count as the engine's.
   */
  syncGate(): void {
    const gate = this.gate;
    if (gate === null) return;
    if (this.gateKeyVersion !== this.engine.identityVersion) {
      this.gateKeyVersion = this.engine.identityVersion;
      gate.setKey(this.engine.publicKey);
    }
    const bad = gate.badMac1;
    if (bad !== this.gateBadMac1) {
      this.engine.dropsByReason[-DROP_BAD_MAC1] += bad - this.gateBadMac1;
      this.gateBadMac1 = bad;
    }
  }

  // ---------------------------------------------------------------- timers and outbox

  /** Runs the engine's timers; returns the next deadline (ms, monotonic). */
  tick(): number {
    const now = this.now();
    this.syncGate();
    this.updateLoad(now);
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
      if (source) {
        const ep = makeEndpoint(source, this.srcPort, isLinkLocal(source) ? this.srcLocal[4]! : 0);
        setSource(ep, this.srcLocal, 0);
        this.udp.send(d.data, 0, d.data.length, ep);
      }
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
    this.log.verbose(ep ? `Sending ${what}` : `No known endpoint for ${what}`, { event: ep ? 'send' : 'no-endpoint', peer: keyToBase64(info.publicKey) });
  }
}

/** A WireGuard data message (type 4, three reserved zero bytes) long enough for header and tag. */
function isDataMessage(d: Uint8Array, off: number, len: number): boolean {
  return len >= 32 && d[off] === 4 && d[off + 1] === 0 && d[off + 2] === 0 && d[off + 3] === 0;
}

/** An initiation or response: type, zero reserved bytes and exact size (what the handshake queue takes). */
function isHandshakeMessage(d: Uint8Array, off: number, len: number): boolean {
  if (len < 4 || d[off + 1] !== 0 || d[off + 2] !== 0 || d[off + 3] !== 0) return false;
  return (d[off] === MSG_INITIATION && len === INITIATION_SIZE) || (d[off] === MSG_RESPONSE && len === RESPONSE_SIZE);
}

/** Same local address (five words as in DatagramBatch.localWords) at words a and b of `w`. */
function sameLocal(w: Uint32Array, a: number, b: number): boolean {
  return w[a] === w[b] && w[a + 1] === w[b + 1] && w[a + 2] === w[b + 2] && w[a + 3] === w[b + 3] && w[a + 4] === w[b + 4];
}

/** Same receiver index (bytes 4..8) in the data messages at offsets a and b. */
function sameReceiver(d: Uint8Array, a: number, b: number): boolean {
  return d[a + 4] === d[b + 4] && d[a + 5] === d[b + 5] && d[a + 6] === d[b + 6] && d[a + 7] === d[b + 7];
}

function isZero10(a: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return true;
}
