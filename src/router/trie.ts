// The prefix store of one address family: a path-compressed binary trie (the shape of the Linux
// kernel's allowedips). A node holds a masked key and its length; a child sits under the first bit
// after its parent's length; only nodes that own a prefix or branch two ways exist. It is the source
// of truth for the routing table: exact-prefix insert/replace/remove, per-peer lists, and the queries
// the stride tables (stride.ts) are compiled from. IPv6 lookups also finish their walk here.
//
// All nodes live in one Int32Array, one fixed-size record per node, linked by record offsets; freed
// records are chained into a free list and reused first, capacity doubles when it runs out.
// Each peer's prefixes form a doubly linked list in insertion order (re-inserting a prefix, even
// for the same owner, moves it to the end, as in the kernel and wireguard-go).

// Record layout: hot fields first, then the key words, the mask words and the parent offset.
// (Module-private on purpose: V8 folds a module's own constants into optimized loops, not imports.)
/** Offset of the child whose next bit is 0, or -1; the 1-child follows it (child = CHILD0 + bit). */
const CHILD0 = 0;
/** Owning peer, or -1 for a pure branching node. */
const PEER = 2;
/** Prefix length of the node's key. */
const CIDR = 3;
/** First key word (most significant); the mask words follow the `words` key words. */
const KEY = 4;

/** Occupancy of one family's store (for tests and the benchmark). */
export interface TrieStats {
  /** Records in use: prefixes plus branching nodes. */
  nodes: number;
  /** Records allocated (in use + free). */
  capacity: number;
}

/** Bit `pos` (0 = most significant) of a 32-bit word. */
function bitOf(word: number, pos: number): number {
  return (word >>> (31 - pos)) & 1;
}

/** One address family's trie. `words` is 1 (IPv4) or 4 (IPv6). */
export class Trie {
  readonly words: number;
  /** Address width in bits (32 or 128). */
  readonly bits: number;
  /** log2 of the record stride in int32 slots. */
  private readonly shift: number;
  private readonly maskAt: number;
  private readonly parentAt: number;

  /** Node records. */
  private nodes: Int32Array;
  /** Offset of the root record, or -1 when empty. */
  private root = -1;
  /** Prefixes stored (nodes with a peer). */
  prefixes = 0;
  private used = 0;
  private capacity: number;
  private freeHead = -1;
  /** Next never-used record index (records below it are in use or on the free list). */
  private bump = 0;

  // Per record index: peer-list links and insertion sequence. Per peer id: list ends.
  private prev: Int32Array;
  private next: Int32Array;
  private seq: Float64Array;
  private head = new Int32Array(0);
  private tail = new Int32Array(0);

  /** Key words of the prefix the next insert/remove works on (written by the caller). */
  readonly key: Uint32Array;
  /** Second result of startAt(): the peer inherited from the prefixes above the returned node. */
  startBest = -1;

  constructor(words: number, initialCapacity: number) {
    this.words = words;
    this.bits = words * 32;
    this.maskAt = KEY + words;
    this.parentAt = KEY + 2 * words;
    this.shift = words === 1 ? 3 : 4; // 8 or 16 slots: the fields above, rounded up
    this.key = new Uint32Array(words);
    this.capacity = initialCapacity;
    this.nodes = new Int32Array(initialCapacity << this.shift);
    this.prev = new Int32Array(initialCapacity);
    this.next = new Int32Array(initialCapacity);
    this.seq = new Float64Array(initialCapacity);
  }

  stats(): TrieStats {
    return { nodes: this.used, capacity: this.capacity };
  }

  /** Bytes of the typed arrays behind this trie. */
  get byteLength(): number {
    const lists = this.prev.byteLength + this.next.byteLength + this.seq.byteLength;
    return this.nodes.byteLength + lists + this.head.byteLength + this.tail.byteLength;
  }

  clear(): void {
    this.root = -1;
    this.prefixes = 0;
    this.used = 0;
    this.freeHead = -1;
    this.bump = 0; // records are handed out again from 0; alloc overwrites every field
    this.head.fill(-1);
    this.tail.fill(-1);
  }

  private alloc(cidr: number, peer: number, key: Uint32Array): number {
    let off: number;
    if (this.freeHead >= 0) {
      off = this.freeHead;
      this.freeHead = this.nodes[off + CHILD0];
    } else {
      if (this.bump === this.capacity) this.grow();
      off = this.bump++ << this.shift;
    }
    const n = this.nodes;
    n[off + CHILD0] = -1;
    n[off + CHILD0 + 1] = -1;
    n[off + PEER] = peer;
    n[off + CIDR] = cidr;
    for (let i = 0; i < this.words; i++) {
      const keep = cidr - 32 * i;
      const m = keep >= 32 ? -1 : keep <= 0 ? 0 : -1 << (32 - keep);
      n[off + this.maskAt + i] = m;
      n[off + KEY + i] = key[i] & m;
    }
    n[off + this.parentAt] = -1;
    this.used++;
    return off;
  }

  private release(off: number): void {
    this.nodes[off + CHILD0] = this.freeHead;
    this.freeHead = off;
    this.used--;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const nodes = new Int32Array(cap << this.shift);
    nodes.set(this.nodes);
    this.nodes = nodes;
    const prev = new Int32Array(cap);
    prev.set(this.prev);
    this.prev = prev;
    const next = new Int32Array(cap);
    next.set(this.next);
    this.next = next;
    const seq = new Float64Array(cap);
    seq.set(this.seq);
    this.seq = seq;
    this.capacity = cap;
  }

  /** Whether the node's key equals the first (node length) bits of `key`. */
  private covers(off: number, key: Uint32Array): boolean {
    const n = this.nodes;
    for (let i = 0; i < this.words; i++) {
      if (((key[i] ^ n[off + KEY + i]) & n[off + this.maskAt + i]) !== 0) return false;
    }
    return true;
  }

  /** Leading bits on which the node's key and `key` agree, at most `limit`. */
  private commonBits(off: number, key: Uint32Array, limit: number): number {
    for (let i = 0; i < this.words; i++) {
      const x = key[i] ^ this.nodes[off + KEY + i];
      if (x !== 0) return Math.min(limit, 32 * i + Math.clz32(x));
    }
    return limit;
  }

  private keyBit(key: Uint32Array, pos: number): number {
    return bitOf(key[pos >> 5], pos & 31);
  }

  private nodeBit(off: number, pos: number): number {
    return bitOf(this.nodes[off + KEY + (pos >> 5)], pos & 31);
  }

  /** Makes `child` the child of `parent` (or the root) on the side `bit`. */
  private link(parent: number, bit: number, child: number): void {
    if (parent < 0) this.root = child;
    else this.nodes[parent + CHILD0 + bit] = child;
    if (child >= 0) this.nodes[child + this.parentAt] = parent;
  }

  private listAppend(off: number, peer: number, seq: number): void {
    if (peer >= this.head.length) {
      let len = Math.max(16, this.head.length);
      while (len <= peer) len *= 2;
      const h = new Int32Array(len).fill(-1);
      const t = new Int32Array(len).fill(-1);
      h.set(this.head);
      t.set(this.tail);
      this.head = h;
      this.tail = t;
    }
    const i = off >> this.shift;
    const last = this.tail[peer];
    this.prev[i] = last;
    this.next[i] = -1;
    this.seq[i] = seq;
    if (last < 0) this.head[peer] = off;
    else this.next[last >> this.shift] = off;
    this.tail[peer] = off;
  }

  private listUnlink(off: number, peer: number): void {
    const i = off >> this.shift;
    const p = this.prev[i];
    const q = this.next[i];
    if (p < 0) this.head[peer] = q;
    else this.next[p >> this.shift] = q;
    if (q < 0) this.tail[peer] = p;
    else this.prev[q >> this.shift] = p;
  }

  /**
   * Stores `key`/cidr for `peer` (masking host bits), replacing the owner of the identical masked
   * prefix. Returns the prefix's node offset. `seq` orders the peer's list.
   */
  insert(cidr: number, peer: number, seq: number): number {
    const key = this.key;
    const n = this.nodes;
    let parent = -1;
    let node = this.root;
    while (node >= 0) {
      const len = n[node + CIDR];
      if (len > cidr || !this.covers(node, key)) break;
      if (len === cidr) {
        const old = n[node + PEER];
        if (old >= 0) this.listUnlink(node, old);
        else this.prefixes++;
        n[node + PEER] = peer;
        this.listAppend(node, peer, seq);
        return node;
      }
      parent = node;
      node = n[node + CHILD0 + this.keyBit(key, len)];
    }
    const side = parent < 0 ? 0 : this.keyBit(key, n[parent + CIDR]);
    const fresh = this.alloc(cidr, peer, key);
    this.prefixes++;
    this.listAppend(fresh, peer, seq);
    if (node < 0) {
      this.link(parent, side, fresh);
      return fresh;
    }
    const common = this.commonBits(node, key, Math.min(cidr, this.nodes[node + CIDR]));
    if (common === cidr) {
      // The new prefix contains the existing subtree: it goes between parent and node.
      this.link(fresh, this.nodeBit(node, cidr), node);
      this.link(parent, side, fresh);
      return fresh;
    }
    // The two diverge at bit `common`: a branching node takes both.
    const branch = this.alloc(common, -1, key);
    this.link(branch, this.nodeBit(node, common), node);
    this.link(branch, this.keyBit(key, common), fresh);
    this.link(parent, side, branch);
    return fresh;
  }

  /** Offset of the node holding exactly `key`/cidr (masked) with a peer, or -1. */
  find(cidr: number): number {
    const key = this.key;
    const n = this.nodes;
    let node = this.root;
    while (node >= 0) {
      const len = n[node + CIDR];
      if (len > cidr || !this.covers(node, key)) return -1;
      if (len === cidr) return n[node + PEER] >= 0 ? node : -1;
      node = n[node + CHILD0 + this.keyBit(key, len)];
    }
    return -1;
  }

  /** Removes the prefix at `node` (which has a peer), pruning nodes that no longer branch. */
  drop(node: number): void {
    this.listUnlink(node, this.nodes[node + PEER]);
    this.nodes[node + PEER] = -1;
    this.prefixes--;
    this.prune(node);
  }

  /** Frees a node without a peer unless it still branches two ways, splicing its child up. */
  private prune(node: number): void {
    const n = this.nodes;
    const c0 = n[node + CHILD0];
    const c1 = n[node + CHILD0 + 1];
    if (c0 >= 0 && c1 >= 0) return;
    const child = c0 >= 0 ? c0 : c1;
    const parent = n[node + this.parentAt];
    this.link(parent, parent >= 0 && n[parent + CHILD0 + 1] === node ? 1 : 0, child);
    this.release(node);
    // The parent lost a child; one that only branched must go too.
    if (child < 0 && parent >= 0 && n[parent + PEER] < 0) this.prune(parent);
  }

  /** Owner of the node's prefix, or -1 for a branching node. */
  peerOf(off: number): number {
    return this.nodes[off + PEER];
  }

  /** Prefix length of the node. */
  cidrOf(off: number): number {
    return this.nodes[off + CIDR];
  }

  /** First key word of the node (int32 bits). */
  word0Of(off: number): number {
    return this.nodes[off + KEY];
  }

  /** The node's child on side `bit` (0 or 1), or -1. */
  childOf(off: number, bit: number): number {
    return this.nodes[off + CHILD0 + bit];
  }

  /** First node of the peer's list (insertion order), or -1. */
  peerHead(peer: number): number {
    return peer < this.head.length ? this.head[peer] : -1;
  }

  /** Node after `off` in its peer's list, or -1. */
  peerNext(off: number): number {
    return this.next[off >> this.shift];
  }

  /** Insertion sequence number of the prefix at `off`. */
  seqOf(off: number): number {
    return this.seq[off >> this.shift];
  }

  /** The prefix at `off` as address bytes and length. */
  prefixOf(off: number): { addr: Uint8Array; cidr: number } {
    const addr = new Uint8Array(this.words * 4);
    const view = new DataView(addr.buffer);
    for (let i = 0; i < this.words; i++) view.setUint32(4 * i, this.nodes[off + KEY + i] >>> 0);
    return { addr, cidr: this.nodes[off + CIDR] };
  }

  /**
   * Finishes an IPv6 lookup of w0..w3 (int32 bits) from `node` down, starting from peer `best`:
   * returns the peer of the longest matching prefix. A loop of reads within one record at a time.
   */
  walk6(node: number, best: number, w0: number, w1: number, w2: number, w3: number): number {
    const n = this.nodes;
    while (node >= 0) {
      // Key words at KEY..KEY+3, mask words at KEY+4..KEY+7 (the layout for words = 4).
      if (
        (((w0 ^ n[node + KEY]) & n[node + KEY + 4]) |
          ((w1 ^ n[node + KEY + 1]) & n[node + KEY + 5]) |
          ((w2 ^ n[node + KEY + 2]) & n[node + KEY + 6]) |
          ((w3 ^ n[node + KEY + 3]) & n[node + KEY + 7])) !==
        0
      ) {
        break;
      }
      const peer = n[node + PEER];
      if (peer >= 0) best = peer;
      const len = n[node + CIDR];
      if (len === 128) break;
      const w = len < 64 ? (len < 32 ? w0 : w1) : len < 96 ? w2 : w3;
      node = n[node + CHILD0 + ((w >>> (31 - (len & 31))) & 1)];
    }
    return best;
  }

  // Queries on the first word only, for prefix lengths up to 32 (what the stride tables cover).

  /** Whether the node's key agrees with `word0` on the first `bits` (<= 32) bits. */
  agrees(off: number, word0: number, bits: number): boolean {
    return bits === 0 || ((this.nodes[off + KEY] ^ word0) >>> (32 - bits)) === 0;
  }

  /**
   * The first node of length >= len on the path of `word0` whose key agrees with it on `len` bits
   * (or -1), leaving in startBest the peer of the longest shorter prefix containing word0/len.
   */
  startAt(word0: number, len: number): number {
    const n = this.nodes;
    let best = -1;
    let node = this.root;
    while (node >= 0) {
      const c = n[node + CIDR];
      if (!this.agrees(node, word0, Math.min(c, len))) {
        node = -1;
        break;
      }
      if (c >= len) break;
      if (n[node + PEER] >= 0) best = n[node + PEER];
      node = n[node + CHILD0 + bitOf(word0, c)];
    }
    this.startBest = best;
    return node;
  }

  /** Whether the node has a child (so a longer prefix below it). */
  hasChild(off: number): boolean {
    return this.nodes[off + CHILD0] >= 0 || this.nodes[off + CHILD0 + 1] >= 0;
  }

  /** Whether some prefix longer than `len` (< 32) lies inside word0/len. */
  hasLonger(word0: number, len: number): boolean {
    const node = this.startAt(word0, len);
    return node >= 0 && (this.nodes[node + CIDR] > len || this.hasChild(node));
  }
}
