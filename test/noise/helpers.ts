// Shared helpers for the noise tests: vector loading, hex, scripted randomness, IP packets and a
// fake network that wires two engines together under a fake clock.

import { backends, type CryptoBackend } from '../../src/crypto/index.js';
import { DECAP_TUNNEL, WgEngine, type OutboundDatagram } from '../../src/noise/engine.js';

/** Both crypto backends: every protocol test runs with each. */
export const BACKENDS: readonly CryptoBackend[] = [backends.native, backends.pure];

export { hex, loadVectors, toHex } from '../helpers/vectors.js';

/** The value at a dotted path (numeric parts index arrays); throws when absent. */
export function at(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !(part in cur)) throw new Error(`vector: missing ${path} (at ${part})`);
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function str(obj: unknown, path: string): string {
  const v = at(obj, path);
  if (typeof v !== 'string') throw new Error(`vector: ${path} is not a string`);
  return v;
}

export function num(obj: unknown, path: string): number {
  const v = at(obj, path);
  if (typeof v !== 'number') throw new Error(`vector: ${path} is not a number`);
  return v;
}

export function arr(obj: unknown, path: string): unknown[] {
  const v = at(obj, path);
  if (!Array.isArray(v)) throw new Error(`vector: ${path} is not an array`);
  return v;
}



/**
 * Randomness for tests: values queued per draw size come first (ephemeral keys, indices, cookie
 * nonces), everything else from a seeded xorshift generator, so runs are reproducible.
 */
export class ScriptedRandom {
  private readonly queues = new Map<number, Uint8Array[]>();
  private state: number;

  constructor(seed = 0x9e3779b9) {
    this.state = seed >>> 0 || 1;
  }

  /** Queue `value` to be returned by the next draw of value.length bytes. */
  push(value: Uint8Array): this {
    const q = this.queues.get(value.length) ?? [];
    q.push(value);
    this.queues.set(value.length, q);
    return this;
  }

  readonly fn = (n: number): Uint8Array => {
    const q = this.queues.get(n);
    if (q !== undefined && q.length > 0) return q.shift()!.slice();
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let x = this.state;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.state = x >>> 0;
      out[i] = this.state & 0xff;
    }
    return out;
  };
}

/** A minimal IPv4 packet of `len` bytes (>= 20) with a valid total-length field and a pattern body. */
export function ipv4Packet(len: number, seq: number, src = [10, 0, 0, 1], dst = [10, 0, 0, 2]): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(src, 12);
  p.set(dst, 16);
  for (let i = 20; i < len; i++) p[i] = (seq + i) & 0xff;
  return p;
}

/** One endpoint of the fake network. */
export interface Side {
  readonly name: string;
  readonly engine: WgEngine;
  readonly random: ScriptedRandom;
  /** Id of the other side as a peer of this engine. */
  peer: number;
  /** Source bytes (IPv4 address + port) the other side sees for this one. */
  readonly source: Uint8Array;
  /** IP packets this side's engine delivered to its tunnel. */
  readonly received: Uint8Array[];
  /** Every decapsulate result code of this side, in order. */
  readonly results: number[];
}

/** A datagram seen on the wire. */
export interface WireEvent {
  readonly from: string;
  readonly kind: OutboundDatagram['kind'];
  readonly data: Uint8Array;
  readonly at: number;
}

/**
 * Two engines joined by an in-memory network with a fake clock. `drop` can discard datagrams on the
 * wire; everything else is delivered immediately, outboxes are pumped until quiet.
 */
export class FakeNet {
  now = 1_000_000;
  readonly a: Side;
  readonly b: Side;
  readonly wire: WireEvent[] = [];
  drop: (e: WireEvent) => boolean = () => false;
  private readonly buf = new Uint8Array(65536);

  constructor(crypto: CryptoBackend, opts: { psk?: Uint8Array; wallClockNs?: () => bigint } = {}) {
    const mk = (name: string, seed: number, source: number[]): Side => {
      const random = new ScriptedRandom(seed);
      const engine = new WgEngine({ crypto, random: random.fn, wallClockNs: opts.wallClockNs ?? ((): bigint => BigInt(this.now) * 1_000_000n + 1_700_000_000_000_000_000n) });
      const priv = random.fn(32);
      priv[0]! &= 248;
      priv[31] = (priv[31]! & 127) | 64;
      engine.setPrivateKey(priv);
      return { name, engine, random, peer: -1, source: new Uint8Array(source), received: [], results: [] };
    };
    this.a = mk('a', 0x1234567, [192, 0, 2, 1, 0xca, 0x6c]);
    this.b = mk('b', 0x7654321, [192, 0, 2, 2, 0xca, 0x6d]);
    this.a.peer = this.a.engine.addPeer(this.b.engine.publicKey!);
    this.b.peer = this.b.engine.addPeer(this.a.engine.publicKey!);
    if (opts.psk !== undefined) {
      this.a.engine.setPresharedKey(this.a.peer, opts.psk);
      this.b.engine.setPresharedKey(this.b.peer, opts.psk);
    }
  }

  other(s: Side): Side {
    return s === this.a ? this.b : this.a;
  }

  /** Deliver one datagram from `from` to the other side; returns the receiver's result code. */
  deliver(from: Side, kind: OutboundDatagram['kind'], data: Uint8Array): number | null {
    const ev: WireEvent = { from: from.name, kind, data: data.slice(), at: this.now };
    this.wire.push(ev);
    from.engine.countTx(from.peer, data.length); // the fake network is the device: every datagram goes out
    if (this.drop(ev)) return null;
    const to = this.other(from);
    const r = to.engine.decapsulate(ev.data, 0, ev.data.length, from.source, this.now, this.buf, 0);
    to.results.push(r);
    if (r === DECAP_TUNNEL) to.received.push(this.buf.slice(0, to.engine.lastLength));
    return r;
  }

  /** Move outbox contents across until both are empty (bounded). */
  pump(): void {
    for (let round = 0; round < 64; round++) {
      let moved = false;
      for (const s of [this.a, this.b]) {
        for (const d of s.engine.takeOutbox()) {
          moved = true;
          this.deliver(s, d.kind, d.data);
        }
      }
      if (!moved) return;
    }
    throw new Error('fake network did not settle');
  }

  /** Encapsulate an IP packet on side `s`; a data message is delivered at once. Returns the code. */
  send(s: Side, packet: Uint8Array): number {
    const out = new Uint8Array(packet.length + 64);
    const r = s.engine.encapsulate(s.peer, packet, 0, packet.length, this.now, out, 0);
    if (r > 0) this.deliver(s, 'data', out.subarray(0, r));
    this.pump();
    return r;
  }

  /** Advance the fake clock by `ms` in steps of `step`, ticking both engines and pumping. */
  advance(ms: number, step = 100): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + step);
      this.a.engine.tick(this.now);
      this.b.engine.tick(this.now);
      this.pump();
    }
  }

  /** Wire events of a kind from a side since index `since`. */
  sent(from: Side, kind: OutboundDatagram['kind'], since = 0): WireEvent[] {
    return this.wire.slice(since).filter((e) => e.from === from.name && e.kind === kind);
  }
}
