// `npm run bench -- flood`, shortened: a 3-second drain phase, two backlog drains and two rounds (a fresh wireguard-go
// newcomer, then a fresh wgts one) under a flood of valid-mac1 initiations from 64 source ports
// (scripts/flood/run.ts): each newcomer completes its handshake on its first retry after the
// cookie reply (< 6 s), the established peer's pings are answered and its iperf3 traffic never
// stops during the flood. The full 10 + 10 rounds are `npm run bench -- flood`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { floodProblems, runFlood } from '../../../scripts/flood/run.js';

test('handshake flood: newcomers (wireguard-go, wgts) get in on the first retry after the cookie reply; the established peer keeps its traffic', async () => {
  const r = await runFlood({ rounds: 2, peers: ['wireguard-go', 'wgts'], drainSeconds: 3, backlog: { count: 45_000, runs: 2 }, rate: 0, bitrate: '200M', log: (l) => console.log(l) });
  assert.equal(floodProblems(r), []);
  assert.is(r.rounds.length, 2);
  for (const x of r.rounds) {
    assert.ok(x.attack.sent / (x.attack.elapsedMs / 1000) > 20_000, `a real flood (${x.attack.sent} in ${x.attack.elapsedMs} ms)`);
    assert.ok((x.target.handshakes.gateCookieReplies ?? 0) > 0, 'the gate answered the flood with cookie replies');
  }
  assert.ok(r.drain !== null && r.drain.target.received > 0);
  assert.ok(r.backlog !== null && r.backlog.backlog > 10_000 && r.backlog.perSecond > 0, 'a backlog was drained and timed');
});

test.run();
