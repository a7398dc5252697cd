// The bad datagrams of `npm run fuzz`: a deterministic generator (seeded PRNG) of hostile UDP
// payloads for a WireGuard listener, in categories that each aim at one check of the receive
// path. Live receiver indices, captured valid data messages and a captured initiation come from a
// capture of the legitimate peer's traffic (pcap.ts), so the attacker is an on-path one: it knows
// what is on the wire, not the keys. Without a capture those categories fall back to random data.
// Pure: no sockets, no clock; the same seed and inputs give the same datagrams.
import type { CryptoBackend } from '../../src/crypto/types.js';
import {
  COOKIE_REPLY_SIZE, INITIATION_SIZE, INIT_OFF_MAC1, LABEL_MAC1, MSG_COOKIE_REPLY, MSG_DATA, MSG_INITIATION, MSG_RESPONSE, RESPONSE_SIZE,
} from '../../src/noise/constants.js';
import { writeU32 } from '../../src/noise/messages.js';
import { prng } from '../../test/helpers/prng.js';

/** Every category, with its share of the flood in thousandths (they add up to 1000). */
export const CATEGORIES = {
  /** Random bytes, random length 0..1472. */
  'random': 150,
  /** A type 1-4 header and fewer bytes than that type needs (also 0-3 bytes in all). */
  'truncated': 120,
  /** Handshake types 1-3 with 1..64 bytes more than their fixed size. */
  'extended': 60,
  /** Right type and size, non-zero reserved bytes 1-3. */
  'reserved-nonzero': 80,
  /** Type byte 0 or 5..255. */
  'unknown-type': 60,
  /** Data messages for random receiver indices. */
  'data-unknown-index': 120,
  /** Data messages for a live receiver index (captured), random counter, random body: bad tag. */
  'data-live-bad-tag': 120,
  /** The same with counter 0. */
  'data-live-counter-0': 30,
  /** The same with counter 2^64-1. */
  'data-live-counter-max': 30,
  /** A captured valid data message, byte for byte. */
  'replay': 60,
  /** A captured valid data message with one bit flipped anywhere. */
  'bit-flip': 80,
  /** An initiation with a valid mac1 (anyone knowing the public key can make one), random body. */
  'initiation-valid-mac1': 20,
  /** The captured initiation of the legitimate peer, byte for byte. */
  'initiation-replay': 10,
  /** Cookie replies for random receiver indices (for nobody). */
  'cookie-reply-nobody': 30,
  /** Cookie replies for a live (session) receiver index. */
  'cookie-reply-live': 10,
  /** Handshake responses for random receiver indices. */
  'response-nobody': 20,
} as const;

export type Category = keyof typeof CATEGORIES;
export const CATEGORY_NAMES = Object.keys(CATEGORIES) as Category[];

/** What the generator knows about the target. */
export interface CorpusInput {
  seed: number;
  /** The target's static public key (for valid mac1s); null: mac1s are random. */
  targetPublicKey: Uint8Array | null;
  /** Receiver indices seen in the legitimate peer's data messages (the target's live sessions). */
  liveIndices: readonly number[];
  /** Valid data messages of the legitimate peer to the target, as captured. */
  captured: readonly Uint8Array[];
  /** A valid initiation of the legitimate peer, as captured, or null. */
  initiation: Uint8Array | null;
}

/** Message sizes by type (index = type). */
const SIZE = [0, INITIATION_SIZE, RESPONSE_SIZE, COOKIE_REPLY_SIZE, 32] as const;
const MAX_LEN = 1472;
const POOL = 1 << 20;

/** Datagram factory: next(buf) writes one datagram at buf[0..] and returns its length. */
export class Corpus {
  /** Category of the datagram the last next() wrote. */
  category: Category = 'random';
  private readonly rand: () => number;
  private readonly pool = new Uint8Array(POOL);
  /** Cumulative thresholds (0..1000) for picking a category. */
  private readonly table: { category: Category; upTo: number }[] = [];
  private readonly mac1Key: Uint8Array | null;

  constructor(private readonly input: CorpusInput, private readonly crypto: CryptoBackend) {
    this.rand = prng(input.seed);
    const words = new Uint32Array(this.pool.buffer);
    for (let i = 0; i < words.length; i++) words[i] = this.rand();
    let upTo = 0;
    for (const c of CATEGORY_NAMES) {
      upTo += CATEGORIES[c];
      this.table.push({ category: c, upTo });
    }
    this.mac1Key = input.targetPublicKey ? crypto.hash(LABEL_MAC1, input.targetPublicKey) : null;
  }

  /** Random bytes into b[0, len). */
  private fill(b: Uint8Array, len: number): void {
    const at = this.rand() % (POOL - MAX_LEN - 1);
    b.set(this.pool.subarray(at, at + len), 0);
  }

  private header(b: Uint8Array, type: number): void {
    b[0] = type;
    b[1] = 0; b[2] = 0; b[3] = 0;
  }

  private live(): number | null {
    const l = this.input.liveIndices;
    return l.length === 0 ? null : (l[this.rand() % l.length] as number);
  }

  /** A random data message (type 4, random counter and body) of 32..1472 bytes for `receiver`. */
  private data(b: Uint8Array, receiver: number): number {
    const len = 32 + (this.rand() % (MAX_LEN - 31));
    this.fill(b, len);
    this.header(b, MSG_DATA);
    writeU32(b, 4, receiver);
    return len;
  }

  /** Writes the next datagram into `b` (at least 1472 bytes) and returns its length. */
  next(b: Uint8Array): number {
    const pick = this.rand() % 1000;
    let c: Category = 'random';
    for (const t of this.table) if (pick < t.upTo) { c = t.category; break; }
    this.category = c;
    const r = this.rand();
    switch (c) {
      case 'random': {
        const len = r % (MAX_LEN + 1);
        this.fill(b, len);
        return len;
      }
      case 'truncated': {
        const type = 1 + (r % 4);
        const len = this.rand() % (SIZE[type] as number);
        this.fill(b, len);
        if (len >= 4) this.header(b, type);
        return len;
      }
      case 'extended': {
        const type = 1 + (r % 3);
        const len = (SIZE[type] as number) + 1 + (this.rand() % 64);
        this.fill(b, len);
        this.header(b, type);
        return len;
      }
      case 'reserved-nonzero': {
        const type = 1 + (r % 4);
        const len = type === MSG_DATA ? 32 + (this.rand() % (MAX_LEN - 31)) : (SIZE[type] as number);
        this.fill(b, len);
        this.header(b, type);
        const which = 1 + (this.rand() % 3);
        b[which] = 1 + (this.rand() % 255);
        return len;
      }
      case 'unknown-type': {
        const len = 4 + (r % (MAX_LEN - 3));
        this.fill(b, len);
        this.header(b, r % 7 === 0 ? 0 : 5 + (this.rand() % 251));
        return len;
      }
      case 'data-unknown-index':
        return this.data(b, this.rand());
      case 'data-live-bad-tag':
      case 'data-live-counter-0':
      case 'data-live-counter-max': {
        const len = this.data(b, this.live() ?? this.rand());
        if (c === 'data-live-counter-0') b.fill(0, 8, 16);
        if (c === 'data-live-counter-max') b.fill(0xff, 8, 16);
        return len;
      }
      case 'replay':
      case 'bit-flip': {
        const cap = this.input.captured;
        if (cap.length === 0) return this.data(b, this.rand());
        const m = cap[r % cap.length] as Uint8Array;
        b.set(m, 0);
        if (c === 'bit-flip') {
          const bit = this.rand() % (m.length * 8);
          b[bit >> 3] = (b[bit >> 3] as number) ^ (1 << (bit & 7));
        }
        return m.length;
      }
      case 'initiation-valid-mac1': {
        this.fill(b, INITIATION_SIZE);
        this.header(b, MSG_INITIATION);
        if (this.mac1Key) b.set(this.crypto.mac(this.mac1Key, b.subarray(0, INIT_OFF_MAC1)), INIT_OFF_MAC1);
        return INITIATION_SIZE;
      }
      case 'initiation-replay': {
        const m = this.input.initiation;
        if (m === null) {
          this.fill(b, INITIATION_SIZE);
          this.header(b, MSG_INITIATION);
          return INITIATION_SIZE;
        }
        b.set(m, 0);
        return m.length;
      }
      case 'cookie-reply-nobody':
      case 'cookie-reply-live': {
        this.fill(b, COOKIE_REPLY_SIZE);
        this.header(b, MSG_COOKIE_REPLY);
        writeU32(b, 4, c === 'cookie-reply-live' ? (this.live() ?? this.rand()) : this.rand());
        return COOKIE_REPLY_SIZE;
      }
      case 'response-nobody': {
        this.fill(b, RESPONSE_SIZE);
        this.header(b, MSG_RESPONSE);
        return RESPONSE_SIZE;
      }
    }
  }
}
