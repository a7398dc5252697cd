// The flow table's bounds (src/router/flows.ts): a key lives in a window of FLOW_PROBE slots; when
// the window is full, an unanswered flow or one idle for a minute is evicted, answered recent ones
// are kept and the new flow refused (counted); stale generations and expired entries are reused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EVICT_ANSWERED_IDLE_MS, FLOW_PROBE, FlowTable, PARSE_FLOW, PARSE_NONE } from '../../src/router/flows.js';
import { parseIP } from '../../src/config/ip.js';
import { ICMP, packet, TCP, UDP } from '../helpers/packets.js';

/** A table of exactly FLOW_PROBE slots: every key shares the one window. */
const tiny = (): FlowTable => new FlowTable(FLOW_PROBE, 1);

const udp = (port: number): Uint8Array => packet({ src: '10.123.0.2', dst: '10.124.0.10', proto: UDP, sport: port, dport: 53 });
const answer = (port: number): Uint8Array => packet({ src: '10.124.0.10', dst: '10.123.0.2', proto: UDP, sport: 53, dport: port });

/** The laptop starts a flow: parse, find (a miss), insert. */
function start(t: FlowTable, p: Uint8Array, now: number, peer = 0): boolean {
  assert.is(t.parse(peer, p, 0, p.length, true), PARSE_FLOW);
  assert.is(t.find(now), -1);
  return t.insert(now);
}

/** The project answers: true when the flow is known (and it is then marked answered). */
function answered(t: FlowTable, p: Uint8Array, now: number, peer = 0): boolean {
  t.parse(peer, p, 0, p.length, false);
  const s = t.find(now);
  if (s >= 0) t.touch(s, now);
  return s >= 0;
}

test('capacity rounds up to a power of two; parse rejects what it cannot track', () => {
  assert.is(new FlowTable(1000).capacity, 1024);
  assert.is(new FlowTable(3).capacity, FLOW_PROBE);
  const t = tiny();
  assert.is(t.parse(0, new Uint8Array(10), 0, 10, true), PARSE_NONE, 'garbage');
  const redirect = packet({ src: '10.124.0.1', dst: '10.123.0.2', proto: ICMP, icmpType: 5 });
  assert.is(t.parse(0, redirect, 0, redirect.length, false), PARSE_NONE, 'an ICMP redirect is neither echo nor a tracked error');
  const syn = packet({ src: '10.123.0.2', dst: '10.124.0.10', proto: TCP, sport: 1, dport: 2 });
  assert.is(t.parse(0, syn, 0, syn.length, true), PARSE_FLOW);
  assert.is(t.laptopPort, 1);
  assert.is(t.protocol, TCP);
});

test('full window: unanswered flows are evicted oldest first; answered recent ones are kept and the new flow refused', () => {
  const t = tiny();
  let now = 1000;
  for (let i = 0; i < FLOW_PROBE; i++) assert.ok(start(t, udp(1000 + i), now++));
  assert.is(t.live(now), FLOW_PROBE);
  assert.ok(start(t, udp(2000), now++), 'a ninth flow evicts one');
  assert.is(t.counters.evicted, 1);
  assert.not.ok(answered(t, answer(1000), now), 'the oldest unanswered flow went');
  assert.ok(answered(t, answer(1001), now), 'the others stay');
  // Answer every flow: now nothing may be evicted while they are recent.
  for (let i = 1; i < FLOW_PROBE; i++) answered(t, answer(1000 + i), now);
  answered(t, answer(2000), now);
  assert.not.ok(start(t, udp(3000), now), 'refused: every slot holds an answered, recent flow');
  assert.is(t.counters.full, 1);
  now += EVICT_ANSWERED_IDLE_MS + 1;
  answered(t, answer(1005), now); // keep one busy
  assert.ok(start(t, udp(3001), now), 'after a minute idle an answered flow may go');
  assert.ok(answered(t, answer(1005), now), 'not the busy one');
});

test('stale generations and expired entries free their slots without eviction', () => {
  const t = tiny();
  for (let i = 0; i < FLOW_PROBE; i++) start(t, udp(1000 + i), 0, 3);
  t.forgetPeer(3);
  assert.is(t.live(1), 0, 'a bumped generation kills every entry of the peer');
  for (let i = 0; i < FLOW_PROBE; i++) assert.ok(start(t, udp(1000 + i), 1, 4));
  assert.is(t.counters.evicted, 0);
  assert.ok(start(t, udp(5000), 31_000, 4), 'unanswered UDP expired after 30 s: its slot is reused');
  assert.is(t.counters.evicted, 0);
  assert.throws(() => t.forgetPeer(-1), RangeError);
});

test('the same flow of two peers are two entries; one peer cannot answer for another', () => {
  const t = new FlowTable(64, 7);
  assert.ok(start(t, udp(1), 0, 1));
  assert.not.ok(answered(t, answer(1), 0, 2), 'peer 2 never started it');
  assert.ok(answered(t, answer(1), 0, 1));
});


test('hasFlow: a live TCP flow of exactly that peer, addresses and ports (IPv4 and IPv6); forgotten with the peer', () => {
  const t = new FlowTable(1024, 7);
  const ip = (s: string): Uint8Array => parseIP(s) as Uint8Array;
  const syn = packet({ src: '10.123.0.2', dst: '10.123.0.1', proto: TCP, sport: 40000, dport: 5380 });
  start(t, syn, 1000, 3);
  assert.ok(t.hasFlow(3, TCP, ip('10.123.0.2'), 40000, ip('10.123.0.1'), 5380, 2000));
  assert.not.ok(t.hasFlow(4, TCP, ip('10.123.0.2'), 40000, ip('10.123.0.1'), 5380, 2000), 'another peer');
  assert.not.ok(t.hasFlow(3, TCP, ip('10.123.0.2'), 40001, ip('10.123.0.1'), 5380, 2000), 'another laptop port');
  assert.not.ok(t.hasFlow(3, TCP, ip('10.123.0.3'), 40000, ip('10.123.0.1'), 5380, 2000), 'another laptop address');
  assert.not.ok(t.hasFlow(3, TCP, ip('10.123.0.2'), 40000, ip('10.123.0.1'), 5381, 2000), 'another service port');
  assert.not.ok(t.hasFlow(3, UDP, ip('10.123.0.2'), 40000, ip('10.123.0.1'), 5380, 2000), 'another protocol');
  assert.not.ok(t.hasFlow(3, TCP, ip('10.123.0.2'), 40000, ip('10.123.0.1'), 5380, 1000 + 121_000), 'an unanswered TCP flow expires after 120 s');
  const syn6 = packet({ src: 'fd00:123::2', dst: 'fd00:123::1', proto: TCP, sport: 40000, dport: 5380 });
  start(t, syn6, 1000, 3);
  assert.ok(t.hasFlow(3, TCP, ip('fd00:123::2'), 40000, ip('fd00:123::1'), 5380, 2000));
  assert.not.ok(t.hasFlow(3, TCP, ip('fd00:123::2'), 40000, ip('10.123.0.1'), 5380, 2000), 'mixed families');
  t.forgetPeer(3);
  assert.not.ok(t.hasFlow(3, TCP, ip('10.123.0.2'), 40000, ip('10.123.0.1'), 5380, 2000), 'a removed peer has no flows');
  assert.not.ok(t.hasFlow(-1, TCP, ip('10.123.0.2'), 40000, ip('10.123.0.1'), 5380, 2000));
});

test.run();
