// `npm run bench -- flood` (root; FLOOD_ROUNDS=N, default 10 per legitimate implementation):
// handshake floods against `wgts up` (scripts/flood/run.ts). Prints the drain phase (flood alone:
// datagrams taken per second and per CPU-second, kernel drops), five backlog drains (the rate of
// emptying a full socket on one core), then each round's legitimate
// handshake time, the flood rate and the established peer's traffic during the flood, and the
// verdict: every newcomer in < 6 s (its first retry after the cookie reply), pings answered and
// traffic in every second. Exits 1 otherwise.
import { floodProblems, HANDSHAKE_GOAL_MS, runFlood } from './flood/run.js';
import { median } from '../test/helpers/measure.js';

const perPeer = Math.max(1, Math.min(50, Number(process.env.FLOOD_ROUNDS ?? 10)));
const rate = Math.max(0, Number(process.env.FLOOD_RATE ?? 0));
console.log(`handshake flood: valid-mac1 initiations from 64 ports${rate ? ` at ${rate}/s` : ' as fast as the attacker (nice 10) can'}; the established peer's iperf3 at 200 Mbit/s; ` +
  `${perPeer} rounds each with a fresh wireguard-go and a fresh wgts peer`);
const r = await runFlood({ rounds: 2 * perPeer, peers: ['wireguard-go', 'wgts'], drainSeconds: 5, backlog: { count: 45_000, runs: 5 }, rate, bitrate: '200M', log: (l) => console.log(l) });
for (const impl of ['wireguard-go', 'wgts'] as const) {
  const rs = r.rounds.filter((x) => x.peer === impl);
  const ok = rs.filter((x) => x.handshakeMs !== null && x.handshakeMs < HANDSHAKE_GOAL_MS).length;
  const times = rs.map((x) => (x.handshakeMs ?? Infinity) / 1000);
  console.log(`${impl} newcomers: ${ok} of ${rs.length} in < ${HANDSHAKE_GOAL_MS / 1000} s; times ${times.map((t) => t.toFixed(2)).join(', ')} s`);
}
const floodRates = r.rounds.map((x) => x.attack.sent / (x.attack.elapsedMs / 1000));
console.log(`flood rate per round: median ${Math.round(median(floodRates)).toLocaleString('en')}/s (${Math.round(Math.min(...floodRates)).toLocaleString('en')}–${Math.round(Math.max(...floodRates)).toLocaleString('en')}); ` +
  `established peer's iperf3 ${r.throughputBefore.toFixed(0)} Mbit/s before, median during the floods ${median(r.rounds.map((x) => x.throughput.median)).toFixed(0)} Mbit/s`);
if (r.backlog) console.log(`drain rate on one core (median of 5 backlog drains): ${Math.round(r.backlog.perSecond).toLocaleString('en')} datagrams/s`);
const problems = floodProblems(r);
for (const p of problems) console.log(`PROBLEM: ${p}`);
if (problems.length === 0) console.log('verdict: every newcomer got in on its first retry after the cookie reply; the established peer kept its traffic');
process.exit(problems.length ? 1 : 0);
