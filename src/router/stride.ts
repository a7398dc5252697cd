// Stride tables: the lookup side of the routing table, compiled from a family's trie (trie.ts).
//
// Level 0, the front table, has one slot per value of the first FRONT_BITS address bits; below it
// (IPv4 only) chunks of CHUNK_SLOTS slots each resolve the next CHUNK_BITS bits, down to bit 32.
// A slot is one int32:
//   >= -1  the answer for every address in the slot: the peer of the longest prefix containing
//          the slot (-1: none), because no longer prefix lies inside it;
//   <= -2  longer prefixes lie inside: ref(v) = -2 - v is, above the last level, the offset of the
//          chunk resolving the next bits, whose slots carry the complete answers (leaf pushing);
//          at the last level (IPv6 front table), the first trie node of length >= FRONT_BITS in the
//          slot, where the walk continues, with the peer inherited from shorter prefixes in
//          `inherited` at the same index.
// So an IPv4 lookup is at most 5 dependent int reads (one 64-byte chunk line per level), an IPv6 one
// a front read plus a short trie walk. After each change to the trie, update() repaints only the
// slots the changed prefix covers (plus the chunk chain above them), skipping subtrees owned by
// unchanged longer prefixes; chunks left without anything longer go to a free list.

import type { Trie } from './trie.js';

// Module-private on purpose: V8 folds a module's own constants into optimized loops, not imports.
/** Address bits resolved by the front table. */
const FRONT_BITS = 16;
/** Address bits resolved by each chunk below the front table. */
const CHUNK_BITS = 4;
/** Slots per chunk. */
const CHUNK_SLOTS = 1 << CHUNK_BITS;

/** The word masked to its first `bits` (0..32) bits. */
function masked(word: number, bits: number): number {
  return bits === 0 ? 0 : bits >= 32 ? word | 0 : word & (-1 << (32 - bits));
}

/** Slot value for a reference (chunk offset or trie node), and back. */
function refValue(ref: number): number {
  return -2 - ref;
}

/** Front table and chunks of one family. */
export class StrideTable {
  /** Level-0 slots, one per value of the first FRONT_BITS bits. */
  readonly front = new Int32Array(1 << FRONT_BITS).fill(-1);
  /** For front slots holding a trie node (IPv6): the peer inherited from shorter prefixes. */
  readonly inherited: Int32Array;
  /** All chunks, CHUNK_SLOTS slots each; chunk references are offsets in here. */
  chunks: Int32Array;
  /** Chunks in use. */
  chunksUsed = 0;
  private readonly trie: Trie;
  private readonly last: number;
  private chunkFree = -1;
  private chunkBump = 0;

  /** Tables for the family of `trie`: chunk levels down to bit 32 for IPv4, none for IPv6. */
  constructor(trie: Trie) {
    this.trie = trie;
    this.last = trie.bits === 32 ? (32 - FRONT_BITS) / CHUNK_BITS : 0;
    this.chunks = new Int32Array(this.last === 0 ? 0 : 64 * CHUNK_SLOTS);
    this.inherited = new Int32Array(this.last === 0 ? 1 << FRONT_BITS : 0);
  }

  /** Bytes of the typed arrays behind these tables. */
  get byteLength(): number {
    return this.front.byteLength + this.inherited.byteLength + this.chunks.byteLength;
  }

  clear(): void {
    this.front.fill(-1);
    this.chunkFree = -1;
    this.chunkBump = 0;
    this.chunksUsed = 0;
  }

  /**
   * IPv4 lookup: the peer for address `addr` (int32 bits), or -1. At most one front read and one
   * read per chunk level. (The layout constants are this module's own: V8 folds those into the
   * optimized loop, but not imported ones.)
   */
  lookup4(addr: number): number {
    let v = this.front[addr >>> (32 - FRONT_BITS)];
    const c = this.chunks;
    for (let shift = 32 - FRONT_BITS - CHUNK_BITS; v < -1; shift -= CHUNK_BITS) {
      v = c[-2 - v + ((addr >>> shift) & (CHUNK_SLOTS - 1))];
    }
    return v;
  }

  /** IPv6 lookup: the peer for address w0..w3 (int32 bits), or -1: front read, then the trie walk. */
  lookup6(w0: number, w1: number, w2: number, w3: number): number {
    const i = w0 >>> (32 - FRONT_BITS);
    const v = this.front[i];
    return v >= -1 ? v : this.trie.walk6(refValue(v), this.inherited[i], w0, w1, w2, w3);
  }

  private table(level: number): Int32Array {
    return level === 0 ? this.front : this.chunks;
  }

  private static start(level: number): number {
    return level === 0 ? 0 : FRONT_BITS + (level - 1) * CHUNK_BITS;
  }

  private static end(level: number): number {
    return FRONT_BITS + level * CHUNK_BITS;
  }

  /** Index of word's slot in the level's block that starts at `base`. */
  private static slot(level: number, base: number, word: number): number {
    const start = StrideTable.start(level);
    return base + ((word << start) >>> (32 - (StrideTable.end(level) - start)));
  }

  /** Peer of the longest prefix of length <= len containing word0/len. */
  private bestAt(word0: number, len: number): number {
    const t = this.trie;
    const node = t.startAt(word0, len);
    return node >= 0 && t.cidrOf(node) === len && t.peerOf(node) >= 0 ? t.peerOf(node) : t.startBest;
  }

  /**
   * Brings the tables up to date after the prefix word0/cidr (first word of its key) was inserted,
   * re-owned or removed in the trie. `changed` is its node when present, else -1.
   */
  update(word0: number, cidr: number, changed: number): void {
    const key = masked(word0, cidr);
    let base = 0;
    for (let level = 0; ; level++) {
      const end = StrideTable.end(level);
      if (cidr <= end || level === this.last) {
        const len = Math.min(cidr, end);
        const node = this.trie.startAt(key, len);
        this.paint(level, base, masked(key, len), len, node, this.trie.startBest, changed);
        return;
      }
      // The prefix lies strictly inside this level's slot: the slot needs a chunk iff anything
      // longer than the slot remains in it.
      const s = StrideTable.slot(level, base, key);
      const v = this.table(level)[s];
      if (!this.trie.hasLonger(key, end)) {
        this.leaf(level, s, this.bestAt(key, end));
        return;
      }
      if (v >= -1) {
        // Before this prefix nothing longer was here: every new sub-slot keeps the old answer.
        const chunk = this.allocChunk(v);
        this.table(level)[s] = refValue(chunk);
        base = chunk;
      } else {
        base = refValue(v);
      }
    }
  }

  /**
   * Repaints the slots of block rk/rl (rl within this level's bits) of the level's block at
   * `base`: `node` is the first trie node of length >= rl inside the block (or -1), `best` the
   * peer inherited from shorter prefixes.
   */
  private paint(
    level: number,
    base: number,
    rk: number,
    rl: number,
    node: number,
    best: number,
    changed: number,
  ): void {
    const end = StrideTable.end(level);
    const first = StrideTable.slot(level, base, rk);
    const stop = first + (1 << (end - rl));
    if (node < 0) {
      this.leaves(level, first, stop, best);
      return;
    }
    const t = this.trie;
    const nc = t.cidrOf(node);
    const nk = t.word0Of(node);
    const peer = t.peerOf(node);
    const at = StrideTable.slot(level, base, nk);
    if (nc < end) {
      // The node spans slots [at, at + 2^(end - nc)): the rest of the block only inherits.
      this.leaves(level, first, at, best);
      this.leaves(level, at + (1 << (end - nc)), stop, best);
      if (peer >= 0 && node !== changed) return; // an unchanged longer prefix: its slots are right
      const inherit = peer >= 0 ? peer : best;
      this.paint(level, base, nk, nc + 1, t.childOf(node, 0), inherit, changed);
      this.paint(level, base, nk | (1 << (31 - nc)), nc + 1, t.childOf(node, 1), inherit, changed);
      return;
    }
    // The node and everything under it fall in the single slot `at`.
    this.leaves(level, first, at, best);
    this.leaves(level, at + 1, stop, best);
    if (nc === end && !t.hasChild(node)) {
      this.leaf(level, at, peer);
      return;
    }
    if (level === this.last) {
      // Only IPv6 gets here (an IPv4 node cannot be longer than 32): the trie walk takes over.
      this.inherited[at] = nc === end && peer >= 0 ? peer : best;
      this.table(level)[at] = refValue(node);
      return;
    }
    let v = this.table(level)[at];
    if (v >= -1) {
      const chunk = this.allocChunk(v);
      v = refValue(chunk);
      this.table(level)[at] = v;
    }
    this.paint(level + 1, refValue(v), masked(nk, end), end, node, best, changed);
  }

  /** Makes slots [from, to) of the level answer `best`. */
  private leaves(level: number, from: number, to: number, best: number): void {
    for (let s = from; s < to; s++) this.leaf(level, s, best);
  }

  private leaf(level: number, s: number, best: number): void {
    const t = this.table(level);
    if (level < this.last && t[s] <= -2) this.freeChunk(refValue(t[s]), level + 1);
    t[s] = best;
  }

  private allocChunk(fill: number): number {
    let chunk: number;
    if (this.chunkFree >= 0) {
      chunk = this.chunkFree;
      this.chunkFree = this.chunks[chunk];
    } else {
      chunk = this.chunkBump;
      this.chunkBump += CHUNK_SLOTS;
      if (this.chunkBump > this.chunks.length) {
        const grown = new Int32Array(this.chunks.length * 2);
        grown.set(this.chunks);
        this.chunks = grown;
      }
    }
    this.chunks.fill(fill, chunk, chunk + CHUNK_SLOTS);
    this.chunksUsed++;
    return chunk;
  }

  private freeChunk(chunk: number, level: number): void {
    const c = this.chunks;
    if (level < this.last) {
      for (let s = chunk; s < chunk + CHUNK_SLOTS; s++) if (c[s] <= -2) this.freeChunk(refValue(c[s]), level + 1);
    }
    c[chunk] = this.chunkFree;
    this.chunkFree = chunk;
    this.chunksUsed--;
  }
}
