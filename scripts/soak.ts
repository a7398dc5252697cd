// `npm run soak [-- --minutes N] [--peer wireguard-go|wgts|both] [--parallel]`: full-speed iperf3
// through wgts for N minutes (default 10: five natural rekeys) against Debian's wireguard-go and
// against wgts (one pair after the other unless --parallel); prints throughput, rekeys and
// resident memory per minute (scripts/soak/run.ts). Exits 1 when RSS grew more than 5 % after
// the first minute, throughput collapsed, a rekey was missing, or anything failed. Needs root.
import { parseArgs } from 'node:util';
import type { Impl } from '../test/helpers/wg.js';
import { formatSoak, runSoak, soakProblems } from './soak/run.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    peer: { type: 'string', default: 'both' },
    parallel: { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const peers: Impl[] = values.peer === 'both' ? ['wireguard-go', 'wgts'] : [values.peer as Impl];
if (!(minutes > 0 && minutes <= 24 * 60) || !peers.every((p) => p === 'wgts' || p === 'wireguard-go')) {
  console.error('usage: npm run soak -- [--minutes N] [--peer wireguard-go|wgts|both] [--parallel]');
  process.exit(2);
}
console.log(`soak: ${minutes} min of full-speed iperf3 through wgts against ${peers.join(' and ')}${values.parallel ? ' (at once)' : ' (one after the other)'}`);
const results = await runSoak({ seconds: Math.round(minutes * 60), peers, parallel: values.parallel, log: (l) => console.log(l) });
let failed = false;
for (const r of results) {
  console.log('');
  for (const l of formatSoak(r)) console.log(l);
  const problems = soakProblems(r);
  for (const p of problems) console.log(`  PROBLEM: ${p}`);
  if (problems.length === 0) console.log('  verdict: RSS flat after the first minute, no throughput collapse, every rekey seen, no errors');
  failed ||= problems.length > 0;
}
process.exit(failed ? 1 : 0);
