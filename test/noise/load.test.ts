// The under-load rule (noise/load.ts): a backlog of an eighth of the handshake queue, or a quarter
// of a window spent on handshake work, puts the interface under load for UNDER_LOAD_AFTER_MS
// after the last trigger; a steady trickle below both does not, whatever its rate.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HandshakeLoad, LOAD_WINDOW_MS, UNDER_LOAD_AFTER_MS, UNDER_LOAD_BACKLOG, UNDER_LOAD_BUSY_SHARE } from '../../src/noise/load.js';

test('backlog: below an eighth of the queue no load, at it load for UNDER_LOAD_AFTER_MS after the last trigger', () => {
  const l = new HandshakeLoad();
  assert.is(l.update(UNDER_LOAD_BACKLOG - 1, 0), false);
  assert.is(l.update(UNDER_LOAD_BACKLOG, 10), true);
  assert.is(l.update(0, 10 + UNDER_LOAD_AFTER_MS - 1), true);
  assert.is(l.update(UNDER_LOAD_BACKLOG, 500), true, 're-triggered');
  assert.is(l.update(0, 10 + UNDER_LOAD_AFTER_MS + 1), true, 'still within a second of the last trigger');
  assert.is(l.update(0, 500 + UNDER_LOAD_AFTER_MS), false);
  assert.is(l.entered, 1);
  l.update(UNDER_LOAD_BACKLOG, 5000);
  assert.is(l.entered, 2);
  assert.ok(l.underLoad);
});

test('time spent: a quarter of a window on handshakes is load, less is not', () => {
  const l = new HandshakeLoad();
  const share = LOAD_WINDOW_MS * UNDER_LOAD_BUSY_SHARE;
  l.spent(share / 2, 0);
  l.spent(share / 2 - 1, 50);
  assert.is(l.update(0, 60), false);
  l.spent(share / 2, LOAD_WINDOW_MS + 1); // a new window: the earlier work no longer counts
  assert.is(l.update(0, LOAD_WINDOW_MS + 2), false);
  l.spent(share / 2, LOAD_WINDOW_MS + 50);
  assert.is(l.update(0, LOAD_WINDOW_MS + 51), true);
});

test('a steady trickle at any rate stays out of load while it is served in time (no fixed-rate threshold)', () => {
  const l = new HandshakeLoad();
  // 5000 handshakes per second, each taking 0.04 ms: 20 % of the time, never a backlog.
  for (let t = 0; t < 3000; t += 0.2) l.spent(0.04, t);
  assert.is(l.update(1, 3000), false);
});

test('handshakes a gate turned away count as backlog within a window: a steady flood keeps the state', () => {
  const l = new HandshakeLoad();
  assert.is(l.update(0, 0, UNDER_LOAD_BACKLOG - 1), false);
  assert.is(l.update(0, LOAD_WINDOW_MS + 1, UNDER_LOAD_BACKLOG - 1), false, 'a new window starts from zero');
  assert.is(l.update(0, LOAD_WINDOW_MS + 2, 1), true);
  for (let t = 0; t < 5000; t += 10) assert.ok(l.update(0, LOAD_WINDOW_MS + 2 + t, 20), 'a flood answered by the gate keeps the device under load');
  assert.is(l.entered, 1);
});

test.run();
