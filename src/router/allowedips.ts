// Cryptokey routing table: longest-prefix match from an IP address to a peer id, per family.
//
// Each family keeps its prefixes in a path-compressed binary trie (trie.ts: exact insert / replace /
// remove, per-peer lists) and answers lookups from stride tables compiled from it (stride.ts): IPv4
// in at most five dependent int reads, IPv6 from a 16-bit front table then a short trie walk.
// Lookups are loops of typed-array reads: no allocation, no exceptions.
//
// Peers are small non-negative integers (the device maps them to peer objects); -1 means none.
// listPeer() reports a peer's prefixes in insertion order across both families, like the kernel and
// wireguard-go (re-inserting a prefix, even for the same owner, moves it to the end).

import { addrWord, formatPrefix, type Prefix } from './prefix.js';
import { StrideTable } from './stride.js';
import { Trie, type TrieStats } from './trie.js';

export { formatAddr, formatPrefix, parseAddr, parsePrefix, type Parsed, type Prefix } from './prefix.js';
export type { TrieStats } from './trie.js';

/** Largest peer id accepted (per-peer lists are arrays indexed by id). */
export const MAX_PEER_ID = (1 << 24) - 1;

/** Occupancy of one family: trie records and stride-table chunks. */
export interface FamilyStats extends TrieStats {
  /** Stride-table chunks in use (IPv4 only; 64 bytes each). */
  chunks: number;
  /** Bytes of typed arrays allocated for the family (trie, peer lists, stride tables). */
  bytes: number;
}

function checkPeer(peer: number): void {
  if (!Number.isInteger(peer) || peer < 0 || peer > MAX_PEER_ID) {
    throw new RangeError(`peer id ${peer} is not an integer in 0..${MAX_PEER_ID}`);
  }
}

function checkCidr(cidr: number, bits: number): void {
  if (!Number.isInteger(cidr) || cidr < 0 || cidr > bits) {
    throw new RangeError(`prefix length ${cidr} is not an integer in 0..${bits}`);
  }
}

/**
 * The cryptokey routing table of one device: IPv4 and IPv6 prefixes -> peer id, longest prefix
 * wins. Control-plane methods take already-parsed values (see parsePrefix) and throw RangeError only
 * on a caller bug (address not 4/16 bytes, bad prefix length, bad peer id); lookups never throw.
 */
export class AllowedIps {
  private readonly trie4 = new Trie(1, 64);
  private readonly trie6 = new Trie(4, 64);
  private readonly fib4 = new StrideTable(this.trie4);
  private readonly fib6 = new StrideTable(this.trie6);
  private seq = 0;

  /** Number of prefixes stored, both families. */
  get size(): number {
    return this.trie4.prefixes + this.trie6.prefixes;
  }

  /** Occupancy per family. */
  stats(): { v4: FamilyStats; v6: FamilyStats } {
    const family = (t: Trie, fib: StrideTable): FamilyStats => ({
      ...t.stats(),
      chunks: fib.chunksUsed,
      bytes: t.byteLength + fib.byteLength,
    });
    return { v4: family(this.trie4, this.fib4), v6: family(this.trie6, this.fib6) };
  }

  /** Empties the table (allocated capacity is kept for reuse). */
  clear(): void {
    this.trie4.clear();
    this.trie6.clear();
    this.fib4.clear();
    this.fib6.clear();
  }

  /** Loads address bytes into the family's key scratch and returns the family's trie. */
  private keyed(addr: Uint8Array, cidr: number): Trie {
    if (addr.length !== 4 && addr.length !== 16) {
      throw new RangeError(`address must be 4 or 16 bytes, got ${addr.length}`);
    }
    const t = addr.length === 4 ? this.trie4 : this.trie6;
    checkCidr(cidr, t.bits);
    for (let i = 0; i < t.words; i++) t.key[i] = addrWord(addr, 4 * i);
    return t;
  }

  private keyedV6(w0: number, w1: number, w2: number, w3: number, cidr: number): void {
    checkCidr(cidr, 128);
    const k = this.trie6.key;
    k[0] = w0;
    k[1] = w1;
    k[2] = w2;
    k[3] = w3;
  }

  private put(t: Trie, cidr: number, peer: number): void {
    checkPeer(peer);
    const node = t.insert(cidr, peer, this.seq++);
    (t === this.trie4 ? this.fib4 : this.fib6).update(t.key[0], cidr, node);
  }

  private take(t: Trie, cidr: number, peer: number): boolean {
    const node = t.find(cidr);
    if (node < 0 || t.peerOf(node) !== peer) return false;
    t.drop(node);
    (t === this.trie4 ? this.fib4 : this.fib6).update(t.key[0], cidr, -1);
    return true;
  }

  /**
   * Routes prefix addr/cidr (4 or 16 bytes; host bits are ignored) to `peer`, replacing the owner
   * if that masked prefix is already present.
   */
  insert(addr: Uint8Array, cidr: number, peer: number): void {
    this.put(this.keyed(addr, cidr), cidr, peer);
  }

  /** insert() for an IPv4 prefix given as a uint32 (the address read big-endian) or its int32 bits. */
  insertV4(addr: number, cidr: number, peer: number): void {
    checkCidr(cidr, 32);
    this.trie4.key[0] = addr;
    this.put(this.trie4, cidr, peer);
  }

  /** insert() for an IPv6 prefix given as four uint32 (or int32) words, most significant first. */
  insertV6(w0: number, w1: number, w2: number, w3: number, cidr: number, peer: number): void {
    this.keyedV6(w0, w1, w2, w3, cidr);
    this.put(this.trie6, cidr, peer);
  }

  /**
   * Removes exactly the masked prefix addr/cidr, and only if `peer` owns it (wireguard-go's
   * Remove; UAPI "allowed_ip=-prefix"). Returns whether it did; peer -1 (none) owns nothing.
   */
  remove(addr: Uint8Array, cidr: number, peer: number): boolean {
    return this.take(this.keyed(addr, cidr), cidr, peer);
  }

  /** remove() for an IPv4 prefix given as a uint32. */
  removeV4(addr: number, cidr: number, peer: number): boolean {
    checkCidr(cidr, 32);
    this.trie4.key[0] = addr;
    return this.take(this.trie4, cidr, peer);
  }

  /** remove() for an IPv6 prefix given as four uint32 words. */
  removeV6(w0: number, w1: number, w2: number, w3: number, cidr: number, peer: number): boolean {
    this.keyedV6(w0, w1, w2, w3, cidr);
    return this.take(this.trie6, cidr, peer);
  }

  /** Removes every prefix owned by `peer`; returns how many. */
  removePeer(peer: number): number {
    if (!Number.isInteger(peer) || peer < 0) return 0;
    let count = 0;
    for (const [t, fib] of [[this.trie4, this.fib4], [this.trie6, this.fib6]] as const) {
      for (let node = t.peerHead(peer); node >= 0; node = t.peerHead(peer)) {
        const word0 = t.word0Of(node);
        const cidr = t.cidrOf(node);
        t.drop(node);
        fib.update(word0, cidr, -1);
        count++;
      }
    }
    return count;
  }

  /**
   * Peer owning the longest prefix containing IPv4 address `addr`, or -1. Hot callers should pass
   * the int32 bit pattern (`x | 0`): a uint32 above 2^31 is a heap number when passed to a call.
   */
  lookupV4(addr: number): number {
    return this.fib4.lookup4(addr);
  }

  /**
   * Peer owning the longest prefix containing IPv6 address w0..w3 (most significant first; int32
   * bits, as for lookupV4), or -1.
   */
  lookupV6(w0: number, w1: number, w2: number, w3: number): number {
    return this.fib6.lookup6(w0, w1, w2, w3);
  }

  /** Lookup of an address as readDst / readSrc (packet.ts) leave it: IP version and words; -1 if none. */
  lookupWords(version: number, words: Uint32Array): number {
    if (version === 4) return this.lookupV4(words[0] | 0);
    if (version !== 6) return -1;
    return this.lookupV6(words[0] | 0, words[1] | 0, words[2] | 0, words[3] | 0);
  }

  /** Lookup of a 4- or 16-byte address; -1 for no match or any other length. */
  lookup(addr: Uint8Array): number {
    if (addr.length === 4) return this.lookupV4(addrWord(addr, 0));
    if (addr.length !== 16) return -1;
    return this.lookupV6(addrWord(addr, 0), addrWord(addr, 4), addrWord(addr, 8), addrWord(addr, 12));
  }

  /** The peer's prefixes (masked) in insertion order across both families. */
  listPeer(peer: number): Prefix[] {
    const out: Prefix[] = [];
    if (!Number.isInteger(peer) || peer < 0) return out;
    const t4 = this.trie4;
    const t6 = this.trie6;
    let a = t4.peerHead(peer);
    let b = t6.peerHead(peer);
    while (a >= 0 || b >= 0) {
      if (b < 0 || (a >= 0 && t4.seqOf(a) < t6.seqOf(b))) {
        out.push(t4.prefixOf(a));
        a = t4.peerNext(a);
      } else {
        out.push(t6.prefixOf(b));
        b = t6.peerNext(b);
      }
    }
    return out;
  }

  /** listPeer() as canonical text ("10.0.0.0/24", "fd00::/64"), as `wg show allowed-ips` prints. */
  listPeerText(peer: number): string[] {
    return this.listPeer(peer).map((p) => formatPrefix(p.addr, p.cidr));
  }
}
