// The gateway's connection tracking: which flows a peer (a laptop) started, so that packets from
// the network to the laptop are forwarded only when they answer one of them (or when the laptop
// opted in with AllowInbound, which the caller checks). Like Linux conntrack, but bounded, inside
// the data path, and per peer.
//
// A flow is keyed by (peer, IP version, protocol, laptop address, remote address, laptop port,
// remote port); ICMP echo uses the echo identifier as the laptop port (and which side asks as the
// remote one); other protocols than TCP,
// UDP and ICMP are tracked by addresses alone (ports 0). Both orientations of a packet map to the
// same key: the laptop side is the source of a packet from the peer and the destination of a
// packet to it. Besides flows the table holds fragment entries: when the first fragment of a
// datagram passes, its (direction, addresses, protocol, fragment id) is remembered so that the
// later fragments, which carry no ports, pass too. ICMP errors (destination unreachable, packet too
// big, time exceeded, parameter problem) are matched by the packet they quote.
//
// Layout: open addressing in typed arrays, no allocation per packet. `capacity` slots (a power of
// two) of KEY_WORDS int32 words, a state byte and a last-seen time each. A key lives in one of the
// PROBE slots starting at its hash (seeded at random, so senders cannot aim at one window); a
// lookup reads at most PROBE slots, an insertion reuses the key's own slot, else an empty, expired
// or stale slot of the window, else evicts (see insert()). Entries of a peer are invalidated at
// once by bumping the peer's generation (resetPeer): removed peers, changed rules and a reused
// peer id never see the flows of before.
//
// Timeouts (idle, like conntrack's defaults): TCP unanswered 120 s, established 5 days, after a
// FIN 120 s, after a RST 10 s; UDP unanswered 30 s, answered 120 s; ICMP echo 30 s; other
// protocols 600 s; fragment entries 30 s.
import {
  lastFragmentId, lastProtocol, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, transportOffset,
} from './packet.js';
import { addrWord } from './prefix.js';

/** Default number of flow slots: 65536 x 61 bytes = 4 MB. */
export const DEFAULT_FLOW_CAPACITY = 65536;
/** Slots a key may occupy, starting at its hash. */
export const FLOW_PROBE = 8;
/** An answered flow is evicted for a new one only when idle this long (ms); unanswered ones always. */
export const EVICT_ANSWERED_IDLE_MS = 60_000;

/** Idle timeouts in seconds, by what the flow has seen. */
export const FLOW_TIMEOUTS_S = {
  tcpUnanswered: 120,
  tcpEstablished: 432_000,
  tcpClosing: 120,
  tcpReset: 10,
  udpUnanswered: 30,
  udpAnswered: 120,
  icmp: 30,
  other: 600,
  fragment: 30,
} as const;

// Entry states (low 7 bits of the state byte); ORIGIN_REMOTE marks flows the network side started.
const ST_EMPTY = 0;
const ST_TCP = 1;
const ST_TCP_EST = 2;
const ST_TCP_FIN = 3;
const ST_TCP_RST = 4;
const ST_UDP = 5;
const ST_UDP_ANSWERED = 6;
const ST_ICMP = 7;
const ST_ICMP_ANSWERED = 8;
const ST_OTHER = 9;
const ST_OTHER_ANSWERED = 10;
const ST_FRAG = 11;
const ORIGIN_REMOTE = 0x80;
const STATE_MASK = 0x7f;

const TIMEOUT_MS = new Float64Array([
  0,
  FLOW_TIMEOUTS_S.tcpUnanswered, FLOW_TIMEOUTS_S.tcpEstablished, FLOW_TIMEOUTS_S.tcpClosing, FLOW_TIMEOUTS_S.tcpReset,
  FLOW_TIMEOUTS_S.udpUnanswered, FLOW_TIMEOUTS_S.udpAnswered,
  FLOW_TIMEOUTS_S.icmp, FLOW_TIMEOUTS_S.icmp,
  FLOW_TIMEOUTS_S.other, FLOW_TIMEOUTS_S.other,
  FLOW_TIMEOUTS_S.fragment,
].map((s) => s * 1000));

/** States that saw an answer (conntrack's "assured"): evicted only after EVICT_ANSWERED_IDLE_MS idle. */
const ANSWERED = new Uint8Array([0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0]);

// Key words: META, PEER, GEN, PORTS, laptop address (4 words), remote address (4 words).
const META = 0;
const PEER = 1;
const GEN = 2;
const PORTS = 3;
const LADDR = 4;
const RADDR = 8;
/** Words per slot. */
export const KEY_WORDS = 12;

// META = version << 16 | kind << 8 | protocol.
const KIND_FLOW = 1;
const KIND_FRAG_FROM = 2; // fragments of a datagram the laptop sent
const KIND_FRAG_TO = 3; // fragments of a datagram sent to the laptop

/** What parse() found in a packet. */
export const PARSE_NONE = 0; // nothing to track (invalid, or an ICMP message that is neither echo nor error)
export const PARSE_FLOW = 1; // a flow key (TCP, UDP, ICMP echo, other protocols)
export const PARSE_FRAGMENT = 2; // a non-first fragment: the key of its fragment entry
export const PARSE_ICMP_ERROR = 3; // an ICMP error: the key of the flow of the quoted packet

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;

/** Counters of the table (cumulative). */
export interface FlowCounters {
  /** New flows refused because their window held only answered, recently used flows. */
  full: number;
  /** Flows replaced by a new one (unanswered, or answered and idle for a minute). */
  evicted: number;
}

export class FlowTable {
  readonly capacity: number;
  readonly counters: FlowCounters = { full: 0, evicted: 0 };
  private readonly mask: number;
  private readonly keys: Int32Array;
  private readonly state: Uint8Array;
  private readonly seen: Float64Array;
  private readonly seed: number;
  /** The key parse() built (a slot's layout). */
  private readonly k = new Int32Array(KEY_WORDS);
  /** Facts of the parsed packet beyond its key. */
  private proto = -1;
  private tcpFlags = 0;
  private echoRequest = false;
  /** Fragment id of a first fragment (-1 when the packet is not one), and the direction it went. */
  private firstFragment = -1;
  private fromLaptop = false;
  /** Slot of the last lookup's key (stale or not), else the slot insert() would take, else -1. */
  private candidate = -1;
  /** Whether `candidate` holds the key itself. */
  private candidateIsKey = false;
  /** Current generation of each peer id: entries of an older one are dead. */
  private gens = new Int32Array(64);

  /** `capacity` is rounded up to a power of two (at least FLOW_PROBE). */
  constructor(capacity = DEFAULT_FLOW_CAPACITY, seed = (Math.random() * 0x100000000) >>> 0) {
    let c = FLOW_PROBE;
    while (c < capacity) c *= 2;
    this.capacity = c;
    this.mask = c - 1;
    this.keys = new Int32Array(c * KEY_WORDS);
    this.state = new Uint8Array(c);
    this.seen = new Float64Array(c);
    this.seed = seed | 0;
  }

  /** The current generation of `peer`'s entries. */
  generation(peer: number): number {
    return peer >= 0 && peer < this.gens.length ? this.gens[peer] : 0;
  }

  /** Forgets every entry of `peer` at once (its generation moves on; the slots are reused lazily). */
  forgetPeer(peer: number): void {
    if (!Number.isInteger(peer) || peer < 0) throw new RangeError(`bad peer id ${peer}`);
    if (peer >= this.gens.length) {
      const grown = new Int32Array(Math.max(peer + 1, this.gens.length * 2));
      grown.set(this.gens);
      this.gens = grown;
    }
    this.gens[peer] = (this.gens[peer] + 1) | 0;
  }

  /**
   * Reads the packet at buf[off..off+len) into the key of `peer`: the laptop is its source when
   * `fromLaptop`, else its destination. Returns a PARSE_* kind. Allocation-free.
   */
  parse(peer: number, buf: Uint8Array, off: number, len: number, fromLaptop: boolean): number {
    const k = this.k;
    this.fromLaptop = fromLaptop;
    this.firstFragment = -1;
    this.tcpFlags = 0;
    this.echoRequest = false;
    const t = transportOffset(buf, off, len);
    const proto = lastProtocol();
    this.proto = proto;
    if (proto < 0) return PARSE_NONE;
    const version = buf[off] >> 4;
    const frag = lastFragmentId();
    k[PEER] = peer;
    k[GEN] = this.generation(peer);
    const srcAt = off + (version === 4 ? 12 : 8);
    const dstAt = off + (version === 4 ? 16 : 24);
    this.addresses(buf, version, fromLaptop ? srcAt : dstAt, fromLaptop ? dstAt : srcAt);
    if (t < 0 && frag >= 0) {
      // A non-first fragment (a first one has a transport header unless it is cut short).
      k[META] = (version << 16) | ((fromLaptop ? KIND_FRAG_FROM : KIND_FRAG_TO) << 8) | proto;
      k[PORTS] = frag;
      return PARSE_FRAGMENT;
    }
    const icmp = version === 4 ? PROTO_ICMP : PROTO_ICMPV6;
    k[META] = (version << 16) | (KIND_FLOW << 8) | proto;
    if (proto === PROTO_TCP || proto === PROTO_UDP) {
      if (t < 0) return PARSE_NONE;
      const sport = (buf[t] << 8) | buf[t + 1];
      const dport = (buf[t + 2] << 8) | buf[t + 3];
      k[PORTS] = fromLaptop ? (sport << 16) | dport : (dport << 16) | sport;
      if (proto === PROTO_TCP) this.tcpFlags = buf[t + 13];
    } else if (proto === icmp) {
      if (t < 0) return PARSE_NONE;
      const type = buf[t];
      const request = version === 4 ? type === 8 : type === 128;
      const reply = version === 4 ? type === 0 : type === 129;
      if (request || reply) {
        this.echoRequest = request;
        k[PORTS] = echoPorts(buf, t, request === fromLaptop);
      } else if (version === 4 ? type === 3 || type === 4 || type === 11 || type === 12 : type >= 1 && type <= 4) {
        return this.quoted(buf, t + 8, off + packetLength(buf, off, version), fromLaptop) ? PARSE_ICMP_ERROR : PARSE_NONE;
      } else {
        return PARSE_NONE;
      }
    } else {
      k[PORTS] = 0;
    }
    if (frag >= 0) this.firstFragment = frag;
    return PARSE_FLOW;
  }

  /** The IP protocol of the last parse() (-1 when invalid). */
  get protocol(): number { return this.proto; }
  /** The laptop-side port of the last parse() (TCP/UDP; the echo id for ICMP echo). */
  get laptopPort(): number { return this.k[PORTS] >>> 16; }
  /** Whether the last parse() read an ICMP / ICMPv6 echo request. */
  get isEchoRequest(): boolean { return this.echoRequest; }
  /** The TCP flags of the last parse() (0 for other protocols). */
  get flags(): number { return this.tcpFlags; }

  /** Laptop and remote address words into the key (IPv4 uses the first word of each). */
  private addresses(buf: Uint8Array, version: number, laptopAt: number, remoteAt: number): void {
    const k = this.k;
    const words = version === 4 ? 1 : 4;
    for (let i = 0; i < 4; i++) {
      k[LADDR + i] = i < words ? addrWord(buf, laptopAt + 4 * i) : 0;
      k[RADDR + i] = i < words ? addrWord(buf, remoteAt + 4 * i) : 0;
    }
  }

  /**
   * The key of the flow an ICMP error quotes: the packet inside, from `at` up to `end`, went the
   * other way (to the laptop when the error comes from it, from the laptop when the error goes to
   * it). Only the fixed header and the first 8 transport bytes are needed; IPv6 extension headers
   * in the quote are not followed. False when the quote cannot be read.
   */
  private quoted(buf: Uint8Array, at: number, end: number, errorFromLaptop: boolean): boolean {
    const k = this.k;
    if (at + 20 > end) return false;
    const version = buf[at] >> 4;
    let proto: number;
    let t: number;
    if (version === 4) {
      const ihl = (buf[at] & 15) << 2;
      if (ihl < 20 || (((buf[at + 6] << 8) | buf[at + 7]) & 0x1fff) !== 0) return false;
      proto = buf[at + 9];
      t = at + ihl;
    } else if (version === 6) {
      if (at + 40 > end) return false;
      proto = buf[at + 6];
      t = at + 40;
    } else {
      return false;
    }
    const quotedFromLaptop = !errorFromLaptop;
    const srcAt = at + (version === 4 ? 12 : 8);
    const dstAt = at + (version === 4 ? 16 : 24);
    this.addresses(buf, version, quotedFromLaptop ? srcAt : dstAt, quotedFromLaptop ? dstAt : srcAt);
    k[META] = (version << 16) | (KIND_FLOW << 8) | proto;
    if (proto === PROTO_TCP || proto === PROTO_UDP) {
      if (t + 4 > end) return false;
      const sport = (buf[t] << 8) | buf[t + 1];
      const dport = (buf[t + 2] << 8) | buf[t + 3];
      k[PORTS] = quotedFromLaptop ? (sport << 16) | dport : (dport << 16) | sport;
    } else if (proto === (version === 4 ? PROTO_ICMP : PROTO_ICMPV6)) {
      if (t + 6 > end) return false;
      const request = version === 4 ? buf[t] === 8 : buf[t] === 128;
      k[PORTS] = echoPorts(buf, t, request === quotedFromLaptop);
    } else {
      k[PORTS] = 0;
    }
    return true;
  }

  private hash(): number {
    const k = this.k;
    let h = this.seed ^ k[META];
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ k[PEER];
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ k[PORTS];
    for (let i = LADDR; i < KEY_WORDS; i++) h = Math.imul(h ^ (h >>> 16), 0x9e3779b1) ^ k[i];
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    return (h ^ (h >>> 12)) & this.mask;
  }

  /** Whether slot s holds the parsed key (generation and state not compared). */
  private holdsKey(s: number): boolean {
    const k = this.k;
    const b = s * KEY_WORDS;
    const w = this.keys;
    return w[b + META] === k[META] && w[b + PEER] === k[PEER] && w[b + PORTS] === k[PORTS]
      && w[b + LADDR] === k[LADDR] && w[b + RADDR] === k[RADDR]
      && w[b + LADDR + 1] === k[LADDR + 1] && w[b + LADDR + 2] === k[LADDR + 2] && w[b + LADDR + 3] === k[LADDR + 3]
      && w[b + RADDR + 1] === k[RADDR + 1] && w[b + RADDR + 2] === k[RADDR + 2] && w[b + RADDR + 3] === k[RADDR + 3];
  }

  /** Whether slot s is free to take: empty, expired, or of an older generation of its peer. */
  private free(s: number, now: number): boolean {
    const st = this.state[s] & STATE_MASK;
    if (st === ST_EMPTY) return true;
    if (this.seen[s] + TIMEOUT_MS[st] <= now) return true;
    const b = s * KEY_WORDS;
    return this.keys[b + GEN] !== this.generation(this.keys[b + PEER]);
  }

  /**
   * Looks the parsed key up; returns its slot when it holds a live entry of the key's generation,
   * else -1 (and remembers where insert() would put it).
   */
  find(now: number): number {
    const h = this.hash();
    let firstFree = -1;
    for (let i = 0; i < FLOW_PROBE; i++) {
      const s = (h + i) & this.mask;
      const st = this.state[s] & STATE_MASK;
      if (st !== ST_EMPTY && this.holdsKey(s)) {
        this.candidate = s;
        this.candidateIsKey = true;
        const live = this.keys[s * KEY_WORDS + GEN] === this.k[GEN] && this.seen[s] + TIMEOUT_MS[st] > now;
        return live ? s : -1;
      }
      if (firstFree < 0 && this.free(s, now)) firstFree = s;
    }
    this.candidate = firstFree;
    this.candidateIsKey = false;
    return -1;
  }

  /**
   * Updates the live entry at `slot` (from find()) with the parsed packet: it was seen now; an
   * answer (a packet from the side that did not start the flow) marks it answered; TCP RST and FIN
   * shorten its timeout; a new SYN from the starting side after FIN/RST reopens it.
   */
  touch(slot: number, now: number): void {
    const raw = this.state[slot];
    let st = raw & STATE_MASK;
    const fromStarter = ((raw & ORIGIN_REMOTE) === 0) === this.fromLaptop;
    switch (st) {
      case ST_TCP: case ST_TCP_EST: case ST_TCP_FIN: case ST_TCP_RST: {
        const f = this.tcpFlags;
        if ((f & TCP_SYN) !== 0 && (f & TCP_ACK) === 0 && fromStarter && (st === ST_TCP_FIN || st === ST_TCP_RST)) st = ST_TCP;
        else if ((f & TCP_RST) !== 0) st = ST_TCP_RST;
        else if ((f & TCP_FIN) !== 0 && st !== ST_TCP_RST) st = ST_TCP_FIN;
        else if (st === ST_TCP && !fromStarter) st = ST_TCP_EST;
        break;
      }
      case ST_UDP: if (!fromStarter) st = ST_UDP_ANSWERED; break;
      case ST_ICMP: if (!fromStarter) st = ST_ICMP_ANSWERED; break;
      case ST_OTHER: if (!fromStarter) st = ST_OTHER_ANSWERED; break;
      default: break;
    }
    this.state[slot] = (raw & ORIGIN_REMOTE) | st;
    this.seen[slot] = now;
  }

  /**
   * Records the parsed key as a new flow started by the packet's sender (after find() returned -1
   * for it). Without a free slot in the key's window, the entry idle the longest is replaced when
   * it is unanswered, or answered but idle for EVICT_ANSWERED_IDLE_MS; else the flow is refused
   * (counters.full) and false returned. A first fragment also records its datagram.
   */
  insert(now: number): boolean {
    const s = this.take(now);
    if (s < 0) {
      this.counters.full++;
      return false;
    }
    this.write(s, now, this.initialState());
    if (this.firstFragment >= 0) this.insertFragment(now);
    return true;
  }

  /** After a packet of a known flow passed that is the first fragment of a datagram: record the datagram. */
  noteFirstFragment(now: number): void {
    if (this.firstFragment >= 0) this.insertFragment(now);
  }

  /** The slot for the key find() did not find: its candidate when still free, else a victim, else -1. */
  private take(now: number): number {
    const s = this.candidate;
    if (s >= 0 && (this.candidateIsKey || this.free(s, now))) return s;
    return this.victim(now);
  }

  private insertFragment(now: number): void {
    const k = this.k;
    k[META] = (k[META] & 0xff00ff) | ((this.fromLaptop ? KIND_FRAG_FROM : KIND_FRAG_TO) << 8);
    k[PORTS] = this.firstFragment;
    this.firstFragment = -1;
    if (this.find(now) >= 0) {
      this.seen[this.candidate] = now;
      return;
    }
    const s = this.take(now);
    if (s >= 0) this.write(s, now, ST_FRAG);
  }

  private initialState(): number {
    const origin = this.fromLaptop ? 0 : ORIGIN_REMOTE;
    const p = this.proto;
    if (p === PROTO_TCP) return origin | ((this.tcpFlags & TCP_RST) !== 0 ? ST_TCP_RST : ST_TCP);
    if (p === PROTO_UDP) return origin | ST_UDP;
    if (p === PROTO_ICMP || p === PROTO_ICMPV6) return origin | ST_ICMP;
    return origin | ST_OTHER;
  }

  private write(s: number, now: number, state: number): void {
    this.keys.set(this.k, s * KEY_WORDS);
    this.state[s] = state;
    this.seen[s] = now;
  }

  /** The slot to evict in the key's window (see insert()), or -1. */
  private victim(now: number): number {
    const h = this.hash();
    let best = -1;
    let bestSeen = Infinity;
    let bestAnswered = true;
    for (let i = 0; i < FLOW_PROBE; i++) {
      const s = (h + i) & this.mask;
      if (this.free(s, now)) return s;
      const answered = ANSWERED[this.state[s] & STATE_MASK] === 1;
      if (answered && now - this.seen[s] < EVICT_ANSWERED_IDLE_MS) continue;
      if ((bestAnswered && !answered) || (answered === bestAnswered && this.seen[s] < bestSeen)) {
        best = s;
        bestSeen = this.seen[s];
        bestAnswered = answered;
      }
    }
    if (best >= 0) this.counters.evicted++;
    return best;
  }

  /**
   * Whether `peer` has a live TCP or UDP flow it started or answered between `laptop`:`laptopPort`
   * and `remote`:`remotePort` (addresses as 4 or 16 bytes, one family): the proof, for a service
   * on the gateway host, that a connection from that address arrived through the tunnel,
   * decrypted from that peer. Not for the per-packet path; allocation-free all the same.
   */
  hasFlow(peer: number, proto: number, laptop: Uint8Array, laptopPort: number, remote: Uint8Array, remotePort: number, now: number): boolean {
    if (peer < 0 || (proto !== PROTO_TCP && proto !== PROTO_UDP) || laptop.length !== remote.length || (laptop.length !== 4 && laptop.length !== 16)) return false;
    const k = this.k;
    const version = laptop.length === 4 ? 4 : 6;
    k[META] = (version << 16) | (KIND_FLOW << 8) | proto;
    k[PEER] = peer;
    k[GEN] = this.generation(peer);
    k[PORTS] = ((laptopPort & 0xffff) << 16) | (remotePort & 0xffff);
    for (let i = 0; i < 4; i++) {
      k[LADDR + i] = 4 * i < laptop.length ? addrWord(laptop, 4 * i) : 0;
      k[RADDR + i] = 4 * i < remote.length ? addrWord(remote, 4 * i) : 0;
    }
    this.firstFragment = -1;
    return this.find(now) >= 0;
  }

  /** Live entries (flows and fragment entries) right now: a full scan, for status and tests. */
  live(now: number): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++) if (!this.free(s, now)) n++;
    return n;
  }
}

/**
 * The PORTS word of an ICMP echo at buf[t]: the identifier in the laptop-port half, and which side
 * sends the requests in the other (1: the laptop, 2: the network), so that a request from the
 * network never passes as the answer to the laptop's ping of the same identifier.
 */
function echoPorts(buf: Uint8Array, t: number, laptopAsks: boolean): number {
  return (((buf[t + 4] << 8) | buf[t + 5]) << 16) | (laptopAsks ? 1 : 2);
}

/** The stated length of a valid IPv4/IPv6 packet (its header was checked by transportOffset). */
function packetLength(buf: Uint8Array, off: number, version: number): number {
  return version === 4 ? (buf[off + 2] << 8) | buf[off + 3] : 40 + ((buf[off + 4] << 8) | buf[off + 5]);
}
