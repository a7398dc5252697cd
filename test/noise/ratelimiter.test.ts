// The handshake rate limiter against shared/vectors/ratelimiter-sequence.json with an injected
// clock: exact waits (the kernel's test) and waits + 1 ns per step (wireguard-go's test), per
// source isolation for every address the vectors list, IPv6 /64 sharing, idle-entry collection.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isIP } from 'node:net';
import { RATELIMIT_BURST, RATELIMIT_MAX_TOKENS_MS, RATELIMIT_PACKET_COST_MS, RATELIMIT_PACKETS_PER_SECOND } from '../../src/noise/constants.js';
import { RateLimiter } from '../../src/noise/ratelimiter.js';
import { arr, at, loadVectors, num } from './helpers.js';

const V = loadVectors('ratelimiter-sequence.json');

function addressBytes(text: string): Uint8Array {
  if (isIP(text) === 4) return new Uint8Array(text.split('.').map(Number));
  const [head, tail] = text.split('::') as [string, string | undefined];
  const words = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const h = words(head);
  const t = words(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const b = new Uint8Array(16);
  all.forEach((w, i) => { b[2 * i] = w >> 8; b[2 * i + 1] = w & 0xff; });
  return b;
}

test('parameters match the vectors', () => {
  assert.is(RATELIMIT_PACKETS_PER_SECOND, num(V, 'parameters.packets_per_second'));
  assert.is(RATELIMIT_BURST, num(V, 'parameters.packets_burstable'));
  assert.is(RATELIMIT_PACKET_COST_MS * 1e6, num(V, 'parameters.packet_cost_ns'));
  assert.is(RATELIMIT_MAX_TOKENS_MS * 1e6, num(V, 'parameters.token_max_ns'));
});

for (const extraNs of [0, 1]) {
  test(`sequence for every listed address, waits + ${extraNs} ns per step`, () => {
    const steps = arr(V, 'sequence');
    const addrs = arr(V, 'addresses_used_by_wireguard_go').map((a) => addressBytes(String(a)));
    const rl = new RateLimiter();
    let now = 10_000;
    for (const [i, s] of steps.entries()) {
      now += num(s, 'wait_ms_before') + extraNs / 1e6;
      for (const [j, a] of addrs.entries()) {
        assert.is(rl.allow(a, now), at(s, 'allowed') === true, `step ${i} address ${j}`);
      }
    }
    assert.is(rl.size, addrs.length);
  });
}

test('sources are independent; IPv6 shares a bucket per /64; the port is ignored', () => {
  const rl = new RateLimiter();
  const a = new Uint8Array([10, 0, 0, 1]);
  for (let i = 0; i < 5; i++) assert.ok(rl.allow(a, 0));
  assert.not.ok(rl.allow(a, 0));
  assert.ok(rl.allow(new Uint8Array([10, 0, 0, 2]), 0), 'another IPv4 source');
  assert.not.ok(rl.allow(new Uint8Array([10, 0, 0, 1, 0x12, 0x34]), 0), 'same address, any port');
  const v6 = addressBytes('2001:db8:a0b:12f0::1');
  for (let i = 0; i < 5; i++) assert.ok(rl.allow(v6, 0));
  assert.not.ok(rl.allow(addressBytes('2001:db8:a0b:12f0:ffff::9'), 0), 'same /64');
  assert.ok(rl.allow(addressBytes('2001:db8:a0b:12f1::1'), 0), 'next /64');
  assert.not.ok(rl.allow(new Uint8Array(5), 0), 'unknown address length is refused');
});

test('idle sources are forgotten after a second', () => {
  const rl = new RateLimiter();
  for (let i = 0; i < 20; i++) rl.allow(new Uint8Array([10, 0, 1, i]), 0);
  assert.is(rl.size, 20);
  rl.collect(500);
  assert.is(rl.size, 20);
  rl.collect(1_001);
  assert.is(rl.size, 0);
});

test.run();
