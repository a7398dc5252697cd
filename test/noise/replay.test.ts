// The anti-replay window against shared/vectors/replay-window.json: the kernel's main sequence
// (limit 2^64 - 1 - 8128 - 1), the same sequence with wireguard-go's limit (2^64 - 2^13 - 1, our
// REJECT_AFTER_MESSAGES), and the bulk sequences including wireguard-go's variants.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REJECT_AFTER_MESSAGES, REPLAY_WINDOW_SIZE } from '../../src/noise/constants.js';
import { ReplayWindow } from '../../src/noise/replay.js';
import { arr, at, loadVectors, num, str } from './helpers.js';

const V = loadVectors('replay-window.json');

function runSteps(w: ReplayWindow, steps: unknown[], label: string): number {
  let fed = 0;
  for (const s of steps) {
    const accept = at(s, 'accept') === true;
    if (typeof s === 'object' && s !== null && 'op' in s) {
      const from = num(s, 'from');
      const to = num(s, 'to');
      const step = num(s, 'step');
      for (let i = from; step > 0 ? i <= to : i >= to; i += step) {
        assert.is(w.checkBig(BigInt(i)), accept, `${label}: counter ${i}`);
        fed++;
      }
    } else {
      assert.is(w.checkBig(BigInt(str(s, 'counter'))), accept, `${label}: ${str(s, 'expr')} = ${str(s, 'counter')}`);
      fed++;
    }
  }
  return fed;
}

test('window parameters match the vectors', () => {
  assert.is(REPLAY_WINDOW_SIZE, num(V, 'parameters.window_size_W'));
  assert.is(REJECT_AFTER_MESSAGES, BigInt(str(V, 'parameters.reject_after_messages_wireguard_go')));
});

test('main sequence with the kernel limit', () => {
  const w = new ReplayWindow(BigInt(str(V, 'parameters.reject_after_messages_kernel')));
  assert.is(runSteps(w, arr(V, 'main_sequence'), 'kernel'), 34);
});

test('main sequence with the wireguard-go limit (the default)', () => {
  assert.is(runSteps(new ReplayWindow(), arr(V, 'main_sequence_wireguard_go_limit'), 'wireguard-go'), 34);
  // The kernel sequence's limit values are beyond our limit: all rejected under ours.
  assert.not.ok(new ReplayWindow().checkBig(BigInt(str(V, 'parameters.reject_after_messages_kernel')) - 1n));
});

test('bulk sequences (kernel and wireguard-go variants)', () => {
  for (const limit of [REJECT_AFTER_MESSAGES, BigInt(str(V, 'parameters.reject_after_messages_kernel'))]) {
    for (const seq of [...arr(V, 'bulk_sequences'), ...arr(V, 'bulk_sequences_wireguard_go_variants')]) {
      const fed = runSteps(new ReplayWindow(limit), arr(seq, 'steps'), str(seq, 'name'));
      assert.ok(fed >= 8128, str(seq, 'name'));
    }
  }
});

test('counters across the 2^32 boundary and near 2^64 stay exact', () => {
  const w = new ReplayWindow();
  const base = (1n << 32n) - 5n;
  for (let i = 0n; i < 10n; i++) assert.ok(w.checkBig(base + i));
  for (let i = 0n; i < 10n; i++) assert.not.ok(w.checkBig(base + i), 'replayed across 2^32');
  assert.ok(w.checkBig((1n << 32n) + 8000n));
  assert.ok(w.checkBig(base + 10n), 'still inside the window across the boundary');
  assert.not.ok(w.checkBig((1n << 32n) + 8000n - 8129n), 'just too old');
  const high = REJECT_AFTER_MESSAGES - 1n;
  assert.ok(w.checkBig(high));
  assert.not.ok(w.checkBig(high));
  assert.not.ok(w.checkBig(REJECT_AFTER_MESSAGES));
  assert.not.ok(w.checkBig((1n << 64n) - 1n));
  assert.ok(w.checkBig(high - 8128n), 'oldest counter inside the window');
  assert.not.ok(w.checkBig(high - 8129n));
  assert.not.ok(w.checkBig((1n << 53n) + 1n), 'far behind is too old');
});

test.run();
