// `npm run fuzz [-- --count N] [--target wgts|wireguard-go|both] [--seed N] [--replay-rounds N]`:
// a million bad datagrams (by default) from an attacker namespace against a wgts interface while a
// legitimate wireguard-go peer runs iperf3 through it, then the same generator and seed against
// Debian's wireguard-go for comparison (scripts/fuzz/run.ts says what is measured). Needs root.
// Exits 1 when a property breaks: the target died, memory grew beyond the bound, the legitimate
// traffic stopped, or a replayed valid data message was accepted.
import { parseArgs } from 'node:util';
import { formatReport, type FuzzReport, type FuzzTarget, runFuzz } from './fuzz/run.js';
import { fuzzProblems } from './fuzz/verdict.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    target: { type: 'string', default: 'both' },
    seed: { type: 'string', default: '1' },
    'replay-rounds': { type: 'string', default: '10' },
    'flood-seconds': { type: 'string', default: '120' },
  },
});
const count = Math.min(100_000_000, Math.max(1, Number(values.count)));
const targets: FuzzTarget[] = values.target === 'both' ? ['wgts', 'wireguard-go'] : [values.target as FuzzTarget];
if (!targets.every((t) => t === 'wgts' || t === 'wireguard-go') || !Number.isFinite(count)) {
  console.error('usage: npm run fuzz -- [--count N] [--target wgts|wireguard-go|both] [--seed N] [--replay-rounds N] [--flood-seconds N]');
  process.exit(2);
}
let failed = false;
for (const target of targets) {
  console.log(`\n=== fuzz: ${count.toLocaleString('en')} bad datagrams against ${target} (legitimate peer: wireguard-go with iperf3) ===`);
  const r: FuzzReport = await runFuzz({
    target, count, seed: Number(values.seed), replayRounds: Number(values['replay-rounds']), floodSeconds: Number(values['flood-seconds']),
    log: (l) => console.log(l),
  });
  for (const l of formatReport(r)) console.log(l);
  const problems = fuzzProblems(r);
  for (const p of problems) console.log(`  PROBLEM: ${p}`);
  if (problems.length === 0) console.log('  verdict: survived, memory bounded, legitimate traffic continued, no replay accepted');
  failed ||= problems.length > 0;
}
process.exit(failed ? 1 : 0);
