import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AllowedIps, formatPrefix, parseAddr, parsePrefix, type Prefix } from '../../src/router/allowedips.js';
import { list, loadVectors, obj, str } from '../helpers/vectors.js';

/** A prefix or address from text, failing the test on a parse error. */
function prefix(s: string): Prefix {
  const r = parsePrefix(s);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function addr(s: string): Uint8Array {
  const r = parseAddr(s);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** Big-endian words of 4 or 16 address bytes. */
function words(a: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i += 4) out.push(((a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3]) >>> 0);
  return out;
}

/** Whether address words `a` lie inside prefix (words k, length cidr). */
function inside(a: number[], k: number[], cidr: number): boolean {
  for (let i = 0; i < a.length; i++) {
    const keep = cidr - 32 * i;
    const m = keep >= 32 ? 0xffffffff : keep <= 0 ? 0 : (0xffffffff << (32 - keep)) >>> 0;
    if (((a[i] & m) >>> 0) !== ((k[i] & m) >>> 0)) return false;
  }
  return true;
}

/** The obviously-correct reference: a list of masked prefixes, longest match by scanning. */
class Naive {
  readonly entries = new Map<string, { k: number[]; cidr: number; peer: number }>();
  private static id(k: number[], cidr: number): string {
    return `${k.join('.')}/${cidr}`;
  }
  private static masked(k: number[], cidr: number): number[] {
    return k.map((w, i) => {
      const keep = cidr - 32 * i;
      return keep >= 32 ? w : keep <= 0 ? 0 : (w & (0xffffffff << (32 - keep))) >>> 0;
    });
  }
  insert(k: number[], cidr: number, peer: number): void {
    const m = Naive.masked(k, cidr);
    this.entries.set(Naive.id(m, cidr), { k: m, cidr, peer });
  }
  remove(k: number[], cidr: number, peer: number): boolean {
    const id = Naive.id(Naive.masked(k, cidr), cidr);
    const e = this.entries.get(id);
    if (e === undefined || e.peer !== peer) return false;
    this.entries.delete(id);
    return true;
  }
  removePeer(peer: number): number {
    let n = 0;
    for (const [id, e] of this.entries) if (e.peer === peer && this.entries.delete(id)) n++;
    return n;
  }
  lookup(a: number[]): number {
    let best = -1;
    let len = -1;
    for (const e of this.entries.values()) {
      if (e.k.length === a.length && e.cidr > len && inside(a, e.k, e.cidr)) {
        best = e.peer;
        len = e.cidr;
      }
    }
    return best;
  }
}

/** Table lookup by words (the fast entry points). */
function look(t: AllowedIps, a: number[]): number {
  return a.length === 1 ? t.lookupV4(a[0]) : t.lookupV6(a[0], a[1], a[2], a[3]);
}

/** Checks the table against the model at every stored prefix's first and last address. */
function agreeOnStoredPrefixes(t: AllowedIps, model: Naive, where: string): void {
  assert.is(t.size, model.entries.size, `${where}: size`);
  for (const e of model.entries.values()) {
    const last = e.k.map((w, i) => {
      const keep = e.cidr - 32 * i;
      return keep >= 32 ? w : keep <= 0 ? 0xffffffff : (w | (0xffffffff >>> keep)) >>> 0;
    });
    for (const a of [e.k, last]) assert.is(look(t, a), model.lookup(a), `${where}: lookup ${a.join('.')}`);
  }
}

// ---- known-answer sequences ------------------------------------------------------------------

const vectors = loadVectors('allowedips-vectors.json');
const sequences = obj(vectors, 'sequences') as Record<string, unknown>;
const PEERS = 'abcdefgh';

function peerId(step: unknown, key: string): number {
  const v = (step as Record<string, unknown>)[key];
  if (v === null) return -1;
  if (typeof v !== 'string' || !PEERS.includes(v)) throw new Error(`bad peer label ${String(v)}`);
  return PEERS.indexOf(v);
}

test('vector sequences: every op of every sequence', () => {
  const names = Object.keys(sequences);
  assert.ok(names.length >= 5, 'expected the five sequences');
  let lookups = 0;
  let lists = 0;
  for (const name of names) {
    const t = new AllowedIps();
    const model = new Naive();
    const steps = sequences[name];
    if (!Array.isArray(steps)) throw new Error(`${name} is not a list`);
    steps.forEach((step: unknown, i: number) => {
      const where = `${name}[${i}]`;
      const op = str(step, 'op');
      switch (op) {
        case 'insert': {
          const p = prefix(str(step, 'prefix'));
          t.insert(p.addr, p.cidr, peerId(step, 'peer'));
          model.insert(words(p.addr), p.cidr, peerId(step, 'peer'));
          break;
        }
        case 'remove': {
          const p = prefix(str(step, 'prefix'));
          const peer = peerId(step, 'peer');
          assert.is(t.remove(p.addr, p.cidr, peer), model.remove(words(p.addr), p.cidr, peer), `${where} removed?`);
          break;
        }
        case 'remove_by_peer': {
          const peer = peerId(step, 'peer');
          assert.is(t.removePeer(peer), model.removePeer(peer), `${where} removed count`);
          break;
        }
        case 'reset':
          t.clear();
          model.entries.clear();
          break;
        case 'lookup': {
          const a = addr(str(step, 'addr'));
          const got = t.lookup(a);
          const s = step as Record<string, unknown>;
          if ('expect' in s) assert.is(got, peerId(step, 'expect'), `${where} ${str(step, 'addr')}`);
          else assert.is.not(got, peerId(step, 'expect_not'), `${where} ${str(step, 'addr')}`);
          assert.is(got, model.lookup(words(a)), `${where} model`);
          lookups++;
          break;
        }
        case 'list_peer': {
          const want = list(step, 'expect_set').map((x) => String(x));
          const got = t.listPeerText(peerId(step, 'peer'));
          assert.equal([...got].sort(), [...want].sort(), `${where} list`);
          lists++;
          break;
        }
        default:
          throw new Error(`${where}: unknown op ${op}`);
      }
      agreeOnStoredPrefixes(t, model, where);
    });
  }
  assert.ok(lookups >= 49, `lookups run: ${lookups}`);
  assert.is(lists, 1);
});

test('kernel deep /128 sequence: all 128 prefixes stored and found before the reset', () => {
  const steps = sequences['kernel_deep_v6_128_inserts'] as unknown[];
  const t = new AllowedIps();
  const inserts = steps.filter((s) => str(s, 'op') === 'insert');
  assert.is(inserts.length, 128);
  for (const s of inserts) {
    const p = prefix(str(s, 'prefix'));
    t.insert(p.addr, p.cidr, 0);
  }
  assert.is(t.size, 128);
  for (const s of inserts) assert.is(t.lookup(prefix(str(s, 'prefix')).addr), 0);
  assert.is(t.lookup(addr('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')), -1);
  t.clear();
  assert.is(t.size, 0);
  assert.is(t.lookup(prefix(str(inserts[0], 'prefix')).addr), -1);
});

// ---- property test (kernel DEBUG_RANDOM_TRIE / wireguard-go allowedips_rand_test.go) -----------

/** mulberry32: small seeded PRNG so a failure reproduces from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return (x ^ (x >>> 14)) >>> 0;
  };
}

for (const family of [4, 6] as const) {
  test(`property: IPv${family} trie equals naive longest-prefix match through inserts and removals`, () => {
    const seed = family === 4 ? 0x5eed04 : 0x5eed06;
    const rnd = prng(seed);
    const n = family === 4 ? 1 : 4;
    const bits = 32 * n;
    const t = new AllowedIps();
    const model = new Naive();
    const randomWords = (): number[] => Array.from({ length: n }, () => rnd());
    // Half the prefixes near a few bases, so the trie gets deep shared paths, not only short ones.
    const bases = Array.from({ length: 8 }, randomWords);
    const nearBase = (): number[] => {
      const b = bases[rnd() % bases.length];
      const flip = rnd() % bits;
      return b.map((w, i) => (i === flip >> 5 ? (w ^ (rnd() >>> (flip & 31))) >>> 0 : i > flip >> 5 ? rnd() : w));
    };
    const anyAddr = (): number[] => (rnd() & 1 ? randomWords() : nearBase());
    const insertOne = (): void => {
      const k = anyAddr();
      const cidr = rnd() % (bits + 1);
      const peer = rnd() % 64;
      if (n === 1) t.insertV4(k[0], cidr, peer);
      else t.insertV6(k[0], k[1], k[2], k[3], cidr, peer);
      model.insert(k, cidr, peer);
    };
    const check = (phase: string, count: number): void => {
      for (let i = 0; i < count; i++) {
        const a = anyAddr();
        const got = look(t, a);
        if (got !== model.lookup(a)) assert.unreachable(`seed ${seed} ${phase}: ${a.join('.')} -> ${got}, want ${model.lookup(a)}`);
      }
      agreeOnStoredPrefixes(t, model, `seed ${seed} ${phase}`);
    };

    for (let i = 0; i < 3000; i++) insertOne();
    check('after inserts', 20000);
    for (let peer = 0; peer < 64; peer += 4) assert.is(t.removePeer(peer), model.removePeer(peer));
    check('after removing peers', 10000);
    const stored = [...model.entries.values()];
    for (let i = 0; i < 600; i++) {
      const e = stored[rnd() % stored.length];
      const owner = rnd() % 4 === 0 ? (e.peer + 1) % 64 : e.peer; // sometimes the wrong owner
      const want = model.remove(e.k, e.cidr, owner);
      const got = n === 1 ? t.removeV4(e.k[0], e.cidr, owner) : t.removeV6(e.k[0], e.k[1], e.k[2], e.k[3], e.cidr, owner);
      assert.is(got, want, `remove ${e.k.join('.')}/${e.cidr} by ${owner}`);
    }
    check('after single removals', 10000);
    for (let i = 0; i < 500; i++) insertOne();
    check('after re-inserting', 10000);
    for (let peer = 0; peer < 64; peer++) t.removePeer(peer);
    assert.is(t.size, 0);
    assert.equal(t.stats()[family === 4 ? 'v4' : 'v6'].nodes, 0, 'no node left behind');
    assert.is(t.stats().v4.chunks, 0, 'no stride chunk left behind');
  });
}

// ---- node reuse ----------------------------------------------------------------------------------

test('free list: removed nodes and chunks are reused, capacity stays put', () => {
  const t = new AllowedIps();
  // The same prefixes every round: without reuse each round would need fresh records.
  const fill = (peer: number): void => {
    const rnd = prng(42);
    for (let i = 0; i < 2000; i++) {
      t.insertV4(rnd(), 1 + (rnd() % 32), peer);
      t.insertV6(0xfd000000 | (rnd() >>> 8), rnd(), rnd(), rnd(), 8 + (rnd() % 121), peer);
    }
  };
  fill(1);
  const first = t.stats();
  const stored = t.size;
  assert.ok(first.v4.nodes > 1500 && first.v6.nodes > 1500 && first.v4.chunks > 1000, JSON.stringify(first));
  for (let peer = 1; peer <= 5; peer++) {
    assert.is(t.removePeer(peer), stored);
    const empty = t.stats();
    assert.equal([empty.v4.nodes, empty.v6.nodes, empty.v4.chunks, t.size], [0, 0, 0, 0]);
    assert.is(t.lookupV4(0x01020304), -1);
    fill(peer + 1);
    assert.equal(t.stats(), first, `round ${peer}: same occupancy, no growth`);
    assert.is(t.listPeer(peer + 1).length, stored);
  }
});

// ---- API semantics -----------------------------------------------------------------------------

test('insert masks host bits and replaces the owner of the same masked prefix', () => {
  const t = new AllowedIps();
  t.insert(addr('192.95.5.93'), 27, 3);
  assert.is(t.lookup(addr('192.95.5.64')), 3);
  assert.is(t.lookup(addr('192.95.5.95')), 3);
  assert.is(t.lookup(addr('192.95.5.96')), -1);
  t.insert(addr('192.95.5.65'), 27, 4);
  assert.is(t.size, 1);
  assert.is(t.lookup(addr('192.95.5.70')), 4);
  assert.equal(t.listPeerText(3), []);
  assert.equal(t.listPeerText(4), ['192.95.5.64/27']);
});

test('remove: exact masked prefix only, only by its owner', () => {
  const t = new AllowedIps();
  const p = prefix('10.1.2.0/24');
  t.insert(p.addr, 24, 1);
  t.insert(addr('10.1.2.3'), 32, 1);
  assert.is(t.remove(addr('10.1.2.0'), 23, 1), false, 'other length');
  assert.is(t.remove(p.addr, 24, 2), false, 'other owner');
  assert.is(t.remove(p.addr, 24, -1), false, 'no owner');
  assert.is(t.remove(addr('10.1.2.200'), 24, 1), true, 'host bits ignored');
  assert.is(t.remove(p.addr, 24, 1), false, 'already gone');
  assert.is(t.lookup(addr('10.1.2.4')), -1);
  assert.is(t.lookup(addr('10.1.2.3')), 1);
  assert.is(t.size, 1);
});

test('listPeer: insertion order across families; re-insert moves to the end', () => {
  const t = new AllowedIps();
  for (const s of ['10.0.0.0/8', 'fd00::/8', '192.168.1.1/32', '2001:db8::/32', '0.0.0.0/0']) {
    const p = prefix(s);
    t.insert(p.addr, p.cidr, 7);
  }
  t.insert(addr('fd00::'), 8, 7);
  assert.equal(t.listPeerText(7), ['10.0.0.0/8', '192.168.1.1/32', '2001:db8::/32', '0.0.0.0/0', 'fd00::/8']);
  const listed = t.listPeer(7);
  assert.equal(Array.from(listed[1].addr), [192, 168, 1, 1]);
  assert.is(listed[1].cidr, 32);
  assert.is(listed[4].addr.length, 16);
  assert.equal(t.listPeer(8), []);
  assert.equal(t.listPeer(-1), []);
});

test('default routes, host routes, both families independent', () => {
  const t = new AllowedIps();
  t.insert(addr('0.0.0.0'), 0, 1);
  t.insert(addr('::'), 0, 2);
  t.insert(addr('1.2.3.4'), 32, 3);
  t.insert(addr('::1:2:3:4'), 128, 4);
  assert.is(t.lookup(addr('255.255.255.255')), 1);
  assert.is(t.lookup(addr('1.2.3.4')), 3);
  assert.is(t.lookup(addr('1.2.3.5')), 1);
  assert.is(t.lookup(addr('::1:2:3:4')), 4);
  assert.is(t.lookup(addr('::1:2:3:5')), 2);
  assert.is(t.lookupV4(0x01020304), 3);
  assert.is(t.lookupV4(0x01020304 | 0), 3);
  assert.is(t.lookupV4(0xffffffff | 0), 1, 'int32 bit pattern accepted');
  assert.is(t.lookupV6(0, 0, 0x10002, 0x30004), 4);
  assert.is(t.lookup(new Uint8Array(5)), -1, 'bad length is no match');
  t.removeV4(0, 0, 1);
  assert.is(t.lookupV4(0x09090909), -1);
  assert.is(t.lookup(addr('2001::')), 2);
  t.clear();
  assert.is(t.size, 0);
  assert.is(t.lookup(addr('::1:2:3:4')), -1);
  assert.is(t.lookup(addr('1.2.3.4')), -1);
});

test('a short prefix inserted over deep host routes reaches every uncovered address', () => {
  const t = new AllowedIps();
  for (let i = 0; i < 300; i++) t.insertV4((0x0a7c0000 | (i * 197)) >>> 0, 32, 1 + (i % 5));
  assert.is(t.lookupV4(0x0a7c0001), -1);
  t.insertV4(0x0a000000, 8, 9);
  assert.is(t.lookupV4(0x0a7c0001), 9);
  assert.is(t.lookupV4(0x0a7c0000 + 197), 2);
  t.removeV4(0x0a000000, 8, 9);
  assert.is(t.lookupV4(0x0a7c0001), -1);
  assert.is(t.removePeer(1), 60);
  assert.is(t.lookupV4(0x0a7c0000), -1);
  assert.is(t.lookupV4(0x0a7c0000 + 197), 2);
});

test('lookupWords: addresses as readDst leaves them (uint32 words, high bit set too)', () => {
  const t = new AllowedIps();
  t.insert(addr('fd00::'), 8, 1);
  t.insert(addr('fd00::1:2'), 128, 2);
  t.insert(addr('200.1.2.0'), 24, 3);
  assert.is(t.lookupWords(6, Uint32Array.of(0xfd000000, 0, 0, 0x10002)), 2);
  assert.is(t.lookupWords(6, Uint32Array.of(0xfd000000, 0, 0, 0x10003)), 1);
  assert.is(t.lookupWords(4, Uint32Array.of(0xc8010209, 0, 0, 0)), 3);
  assert.is(t.lookupWords(4, Uint32Array.of(0xc8010309, 0, 0, 0)), -1);
  assert.is(t.lookupWords(0, Uint32Array.of(0xc8010209, 0, 0, 0)), -1, 'version 0: invalid packet');
});

test('control-plane misuse throws RangeError; removals of nothing return false', () => {
  const t = new AllowedIps();
  assert.throws(() => t.insert(new Uint8Array(5), 8, 1), RangeError);
  assert.throws(() => t.insert(new Uint8Array(4), 33, 1), RangeError);
  assert.throws(() => t.insert(new Uint8Array(16), 129, 1), RangeError);
  assert.throws(() => t.insertV4(0, -1, 1), RangeError);
  assert.throws(() => t.insertV4(0, 8, -1), RangeError);
  assert.throws(() => t.insertV4(0, 8, 1.5), RangeError);
  assert.throws(() => t.insertV4(0, 8, 1 << 24), RangeError);
  assert.is(t.removeV4(0, 8, 1), false);
  assert.is(t.removePeer(3), 0);
  assert.is(t.removePeer(-1), 0);
  assert.is(t.size, 0);
});

test('formatPrefix re-exported for listing: masked canonical text', () => {
  assert.is(formatPrefix(addr('2607:5300:6d8a:6bf8:dab1:f1df:c05f:1523'), 83), '2607:5300:6d8a:6bf8:dab1:e000::/83');
});

test.run();
