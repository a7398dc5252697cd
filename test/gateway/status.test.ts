// The status file under concurrent writes: the runtime writes it from its 1 s timer and, at the
// same moment, after every reload pass (twice: the pass's result, then its `checked` time). A
// reader in between (`wgts reload` waiting for its SIGHUP to be handled, `wgts show`) must always
// find a complete file; a truncated one made `systemctl reload` fail once in CI ("stopped while
// reloading").
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readStatus, StatusWriter, type InterfaceStatus } from '../../src/gateway/status.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-status-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** A status with `peers` peers (about 100 B each): large enough that a write takes a while. */
function snapshot(n: number, peers: number): InterfaceStatus {
  const ps: InterfaceStatus['peers'] = {};
  for (let i = 0; i < peers; i++) ps[`peer-${i}-${'k'.repeat(40)}`] = { name: `laptop-${i}`, denied: n, refused: 0, rxPackets: i, txPackets: i };
  return { version: 1, interface: 'wst0', pid: process.pid, config: '/etc/wgts/wst0.conf', role: 'gateway', updated: n, peers: ps, counters: { noRoute: n } };
}

test('overlapping writes: a reader never finds a missing or truncated file, and every write lands', async () => {
  let n = 0;
  const errors: unknown[] = [];
  const w = new StatusWriter('wst0', () => snapshot(++n, 2000), (e) => { errors.push(e); }, dir, 60_000);
  await w.start();
  let reads = 0;
  let bad = 0;
  const deadline = Date.now() + 5000;
  for (let round = 0; round < 60 && Date.now() < deadline; round++) {
    // Three writes at once, as the timer and a reload pass can start them.
    const writes = [w.write(), w.write(), w.write()];
    let done = false;
    const all = Promise.all(writes).finally(() => { done = true; });
    for (let i = 0; i < 200 && !done; i++) {
      if (readStatus('wst0', dir) === null) bad++;
      reads++;
      await setImmediate();
    }
    await all;
    // The last write of the round is what the file holds.
    assert.is(readStatus('wst0', dir)?.updated, n, 'the newest snapshot is on disk');
  }
  assert.ok(reads > 100, `the reader ran (${reads} reads)`);
  assert.is(bad, 0, `${bad} of ${reads} reads found no complete status file`);
  assert.equal(errors, []);
  await w.stop();
  assert.equal(readdirSync(dir), [], 'stop() removes the file and no temp file is left');
});

test.run();
