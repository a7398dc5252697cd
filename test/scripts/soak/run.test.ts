// `npm run soak`, shortened to 130 s (one natural rekey at REKEY_AFTER_TIME = 120 s): full-speed
// iperf3 through wgts against wireguard-go and against wgts at the same time (scripts/soak/run.ts).
// Fails when resident memory grows more than 5 % after the first minute, a minute's throughput
// collapses, a second passes without traffic, the rekey is missing, or anything errs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatSoak, runSoak, soakProblems } from '../../../scripts/soak/run.js';

test('130 s of full-speed traffic with a rekey: flat memory, steady throughput, no errors', async () => {
  const results = await runSoak({ seconds: 130, peers: ['wireguard-go', 'wgts'], parallel: true, log: (l) => console.log(l) });
  for (const r of results) for (const l of formatSoak(r)) console.log(`  ${l}`);
  assert.is(results.length, 2);
  for (const r of results) {
    assert.equal(soakProblems(r), [], r.pair);
    assert.ok(r.rekeys >= 1, `${r.pair}: a rekey was seen`);
  }
});

test.run();
