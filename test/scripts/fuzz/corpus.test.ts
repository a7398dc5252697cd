// The fuzz corpus (scripts/fuzz/corpus.ts) thrown at the protocol engine in memory: a live session
// between two engines (FakeNet), the attacker knowing what an on-path observer knows (the
// session's receiver index, valid data messages already delivered, the initiation). Every
// category must end in the drop reasons it aims at, nothing may throw, no datagram may be
// delivered or answered except by a cookie reply under load, every replay of a delivered message
// is a `replay` drop, and the session still carries traffic afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backends } from '../../../src/crypto/index.js';
import {
  DECAP_REPLY_TO_SOURCE, DROP_BAD_COOKIE_REPLY, DROP_BAD_MAC1, DROP_BAD_SIZE, DROP_DECRYPT_FAILED, DROP_HANDSHAKE_INVALID, DROP_REPLAY,
  DROP_REPLAYED_INITIATION, DROP_RESERVED_NONZERO, DROP_TOO_SHORT, DROP_UNEXPECTED_MESSAGE, DROP_UNKNOWN_INDEX, DROP_UNKNOWN_TYPE, dropReasonName,
} from '../../../src/noise/codes.js';
import { readU32 } from '../../../src/noise/messages.js';
import { CATEGORIES, CATEGORY_NAMES, Corpus, type Category, type CorpusInput } from '../../../scripts/fuzz/corpus.js';
import { FakeNet, ipv4Packet } from '../../noise/helpers.js';

const crypto = backends.native;
const ATTACKER = new Uint8Array([198, 51, 100, 7, 0x30, 0x39]);

/** The result codes each category may produce (under load: handshakes may get a cookie reply). */
const ALLOWED: Record<Category, readonly number[]> = {
  'random': [DROP_TOO_SHORT, DROP_UNKNOWN_TYPE, DROP_RESERVED_NONZERO, DROP_BAD_SIZE, DROP_UNKNOWN_INDEX],
  'truncated': [DROP_TOO_SHORT, DROP_BAD_SIZE],
  'extended': [DROP_BAD_SIZE],
  'reserved-nonzero': [DROP_RESERVED_NONZERO],
  'unknown-type': [DROP_UNKNOWN_TYPE],
  'data-unknown-index': [DROP_UNKNOWN_INDEX],
  'data-live-bad-tag': [DROP_DECRYPT_FAILED],
  'data-live-counter-0': [DROP_DECRYPT_FAILED],
  'data-live-counter-max': [DROP_DECRYPT_FAILED],
  'replay': [DROP_REPLAY],
  'bit-flip': [DROP_DECRYPT_FAILED, DROP_UNKNOWN_INDEX, DROP_UNKNOWN_TYPE, DROP_RESERVED_NONZERO, DROP_TOO_SHORT],
  'initiation-valid-mac1': [DROP_HANDSHAKE_INVALID, DECAP_REPLY_TO_SOURCE],
  'initiation-replay': [DROP_REPLAYED_INITIATION, DECAP_REPLY_TO_SOURCE],
  'cookie-reply-nobody': [DROP_UNEXPECTED_MESSAGE],
  'cookie-reply-live': [DROP_UNEXPECTED_MESSAGE, DROP_BAD_COOKIE_REPLY],
  'response-nobody': [DROP_BAD_MAC1],
};

/** A live session a -> b and what an observer of the wire learned from it. */
function session(): { net: FakeNet; input: Omit<CorpusInput, 'seed'> } {
  const net = new FakeNet(crypto);
  for (let i = 0; i < 300; i++) net.send(net.a, ipv4Packet(60 + (i % 1300), i));
  const toB = net.wire.filter((e) => e.from === 'a');
  const data = toB.filter((e) => e.kind === 'data').map((e) => e.data);
  const live = [...new Set(data.map((d) => readU32(d, 4)))];
  const initiation = toB.find((e) => e.kind === 'initiation')?.data ?? null;
  assert.ok(data.length >= 290 && live.length === 1 && initiation !== null, 'a session with traffic on the wire');
  assert.is(net.b.received.length, 300);
  return { net, input: { targetPublicKey: net.b.engine.publicKey, liveIndices: live, captured: data, initiation } };
}

test('the generator is deterministic and covers every category in its share', () => {
  const input: CorpusInput = { seed: 7, targetPublicKey: null, liveIndices: [5], captured: [new Uint8Array(48)], initiation: null };
  const one = new Corpus(input, crypto);
  const two = new Corpus(input, crypto);
  const a = new Uint8Array(2048), b = new Uint8Array(2048);
  const seen: Record<string, number> = {};
  const N = 50_000;
  for (let i = 0; i < N; i++) {
    const la = one.next(a), lb = two.next(b);
    assert.is(la, lb);
    assert.ok(la >= 0 && la <= 1472);
    if (i < 2000) assert.equal(a.subarray(0, la), b.subarray(0, lb));
    seen[one.category] = (seen[one.category] ?? 0) + 1;
  }
  for (const c of CATEGORY_NAMES) {
    const share = (seen[c] ?? 0) / N * 1000;
    assert.ok(Math.abs(share - CATEGORIES[c]) < 6, `${c}: ${share.toFixed(1)} per mille, expected ${CATEGORIES[c]}`);
  }
});

for (const underLoad of [false, true]) {
  test(`every category ends in its drop reasons, nothing is delivered, replays are replays${underLoad ? ' (under load: cookie replies)' : ''}`, () => {
    const { net, input } = session();
    const corpus = new Corpus({ seed: underLoad ? 2 : 1, ...input }, crypto);
    const engine = net.b.engine;
    engine.underLoad = underLoad;
    const before = Float64Array.from(engine.dropsByReason);
    const buf = new Uint8Array(2048);
    const out = new Uint8Array(2048);
    const count: Record<string, number> = {};
    const bad: string[] = [];
    let cookieReplies = 0;
    for (let i = 0; i < 100_000; i++) {
      const len = corpus.next(buf);
      const r = engine.decapsulate(buf, 0, len, ATTACKER, net.now + i / 100, out, 0);
      const c = corpus.category;
      count[c] = (count[c] ?? 0) + 1;
      if (!ALLOWED[c].includes(r) && bad.length < 10) bad.push(`${c} -> ${r < 0 ? dropReasonName(r) : r}`);
      for (const d of engine.takeOutbox()) {
        if (d.kind === 'cookie-reply' && d.peer === -1) cookieReplies++;
        else bad.push(`${c}: sent ${d.kind} to peer ${d.peer}`);
      }
    }
    assert.equal(bad, [], 'unexpected outcomes');
    assert.is(net.b.received.length, 300, 'nothing delivered to the tunnel');
    assert.is(engine.dropsByReason[-DROP_REPLAY]! - before[-DROP_REPLAY]!, count.replay, 'each replay of a delivered message is a replay drop');
    if (underLoad) assert.ok(cookieReplies > 0 && cookieReplies <= (count['initiation-valid-mac1'] ?? 0) + (count['initiation-replay'] ?? 0));
    else assert.is(cookieReplies, 0);
    // The session survived: new traffic still flows both ways.
    net.send(net.a, ipv4Packet(100, 9999));
    net.send(net.b, ipv4Packet(100, 9998));
    assert.is(net.b.received.length, 301);
    assert.is(net.a.received.length, 1);
  });
}

test.run();
