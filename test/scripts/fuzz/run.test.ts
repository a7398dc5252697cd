// `npm run fuzz`, shortened: 100 000 bad datagrams from an attacker namespace against `wgts up`
// while a legitimate wireguard-go peer runs iperf3 through it (scripts/fuzz/run.ts), then 10 000
// accounted replays of captured valid data messages. The full run (a million, and the same
// against Debian's wireguard-go) is `npm run fuzz`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatReport, runFuzz } from '../../../scripts/fuzz/run.js';
import { fuzzProblems } from '../../../scripts/fuzz/verdict.js';

test('100 000 bad datagrams: wgts survives, memory bounded, traffic continues, every replay rejected', async () => {
  const r = await runFuzz({ target: 'wgts', count: 100_000, replayRounds: 5, seed: 11, floodSeconds: 60, log: (l) => console.log(l) });
  for (const l of formatReport(r)) console.log(`  ${l}`);
  assert.equal(fuzzProblems(r), []);
  assert.is(r.flood.sent, 100_000, 'the whole flood left the attacker');
  const drops = r.drops ?? {};
  for (const reason of ['too-short', 'bad-size', 'unknown-type', 'reserved-nonzero', 'unknown-index', 'decrypt-failed', 'replay', 'unexpected-message', 'bad-mac1']) {
    assert.ok((drops[reason] ?? 0) > 0, `drops counted as ${reason}: ${JSON.stringify(drops)}`);
  }
  assert.ok(r.replays !== null);
  assert.is(r.replays.accepted, 0);
  if (r.kernelDrops.replay === 0) assert.is(r.replays.rejected, r.replay.sent, 'every replay that arrived was rejected');
});

test.run();
